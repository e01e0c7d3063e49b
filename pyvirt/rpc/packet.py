"""Framing of libvirt RPC packets: header, limits, a streaming frame reader and builders.

Every message is one frame (shared/rpc-protocol.md §1): a u32 length that counts the
whole frame including itself, the 24-byte header (prog, vers, proc, type, serial,
status), for *_WITH_FDS types a u32 FD count, then the payload (XDR of an *_args,
*_ret or *_msg struct, a remote_error, or raw stream bytes). A call or reply with an
empty payload is exactly 28 bytes.
"""
from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from enum import IntEnum
from typing import Any, NamedTuple, TypeVar

from .procedures import REMOTE_STRING_MAX, ProgramNumber
from .xdr import BytesLike, Codec, XDRError

__all__ = [
    "ADMIN_PROGRAM", "FRAME_HEADER_SIZE", "FRAME_MAX", "HEADER_SIZE", "KEEPALIVE_PROGRAM",
    "LEN_SIZE", "LXC_PROGRAM", "MESSAGE_INITIAL", "MESSAGE_LEGACY_PAYLOAD_MAX", "MESSAGE_MAX",
    "NUM_FDS_MAX", "PAYLOAD_MAX", "PROTOCOL_VERSION", "QEMU_PROGRAM", "REMOTE_PROGRAM",
    "STRING_MAX", "FrameError", "FrameReader", "Header", "MessageType", "Packet",
    "ProgramNumber", "Status", "build_frame", "encode_frame", "parse_packet", "read_frames",
]

T = TypeVar("T")

# Limits of libvirt 9.0.0 (virnetprotocol.x; §1 "Sizes").
MESSAGE_MAX = 33554432               # VIR_NET_MESSAGE_MAX: a message without its length word
MESSAGE_INITIAL = 65536              # VIR_NET_MESSAGE_INITIAL: first buffer size
MESSAGE_LEGACY_PAYLOAD_MAX = 262120  # VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX (old 256 KiB limit)
LEN_SIZE = 4                         # VIR_NET_MESSAGE_LEN_MAX: the length word
HEADER_SIZE = 24                     # VIR_NET_MESSAGE_HEADER_MAX
FRAME_HEADER_SIZE = LEN_SIZE + HEADER_SIZE  # 28: an empty call or reply
FRAME_MAX = MESSAGE_MAX + LEN_SIZE   # 33554436: the largest frame
PAYLOAD_MAX = MESSAGE_MAX - HEADER_SIZE     # 33554408: VIR_NET_MESSAGE_PAYLOAD_MAX
NUM_FDS_MAX = 32                     # VIR_NET_MESSAGE_NUM_FDS_MAX
STRING_MAX = REMOTE_STRING_MAX       # 4 MiB, from the wire description

REMOTE_PROGRAM = ProgramNumber.REMOTE
QEMU_PROGRAM = ProgramNumber.QEMU
LXC_PROGRAM = ProgramNumber.LXC
KEEPALIVE_PROGRAM = ProgramNumber.KEEPALIVE
ADMIN_PROGRAM = ProgramNumber.ADMIN
PROTOCOL_VERSION = 1                 # every program is at version 1


class MessageType(IntEnum):
    """virNetMessageType: the header's type field."""
    CALL = 0            # client to server
    REPLY = 1           # server to client
    MESSAGE = 2         # async event or keepalive, either direction
    STREAM = 3          # stream data, either direction
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5
    STREAM_HOLE = 6     # sparse-stream hole; payload virNetStreamHole (i64 length, u32 flags)


class Status(IntEnum):
    """virNetMessageStatus: the header's status field."""
    OK = 0
    ERROR = 1       # the payload is a remote_error
    CONTINUE = 2    # streams only: raw data, more follows


_WITH_FDS = (MessageType.CALL_WITH_FDS, MessageType.REPLY_WITH_FDS)
# len u32, prog u32, vers u32, proc int, type enum, serial u32, status enum
_HEADER = struct.Struct(">IIIiiIi")
_U32 = struct.Struct(">I")


class FrameError(XDRError):
    """A frame that cannot be valid: bad length, truncated header, too many FDs.

    After one, the byte stream is out of step and the connection must be closed.
    """


class Header(NamedTuple):
    """The 24 header bytes after the length word (§1)."""
    prog: int
    vers: int
    proc: int
    type: int
    serial: int
    status: int

    def reply(self, status: int = Status.OK, *, with_fds: bool = False) -> Header:
        """The header of the reply to this call: same prog, vers, proc and serial (§1)."""
        mtype = MessageType.REPLY_WITH_FDS if with_fds else MessageType.REPLY
        return Header(self.prog, self.vers, self.proc, mtype, self.serial, status)


class Packet(NamedTuple):
    """One received frame, parsed. Type and status stay plain ints: a peer may send
    values this side does not know, which the dispatcher answers rather than drops."""
    prog: int
    vers: int
    proc: int
    type: int
    serial: int
    status: int
    nfds: int      # the FD count word of *_WITH_FDS packets, else 0
    frame: bytes   # the whole frame, length word included
    offset: int    # where the payload starts in `frame` (28, or 32 after an FD count)

    @property
    def header(self) -> Header:
        return Header(self.prog, self.vers, self.proc, self.type, self.serial, self.status)

    @property
    def payload(self) -> bytes:
        """The payload bytes (a copy); for XDR payloads prefer `decode`."""
        return self.frame[self.offset:]

    def decode(self, codec: Codec[T]) -> T:
        """The payload decoded with `codec`; it must use every byte (XDRError if not)."""
        return codec.decode(self.frame, self.offset)


def parse_packet(frame: bytes) -> Packet:
    """Split one complete frame (as FrameReader yields) into header fields and payload."""
    if len(frame) < FRAME_HEADER_SIZE:
        raise FrameError(f"frame of {len(frame)} bytes is shorter than its header")
    length, prog, vers, proc, mtype, serial, status = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise FrameError(f"length word says {length} bytes, frame has {len(frame)}")
    offset, nfds = FRAME_HEADER_SIZE, 0
    if mtype in _WITH_FDS:
        # A u32 FD count sits between header and payload (the .x says int8; §1 FD passing).
        if length < FRAME_HEADER_SIZE + 4:
            raise FrameError("FD-passing packet without its FD count")
        nfds = _U32.unpack_from(frame, FRAME_HEADER_SIZE)[0]
        if nfds > NUM_FDS_MAX:
            raise FrameError(f"{nfds} FDs announced, at most {NUM_FDS_MAX} allowed")
        offset += 4
    return Packet(prog, vers, proc, mtype, serial, status, nfds, frame, offset)


def _fd_word(header: Header, nfds: int) -> bytes:
    if header.type in _WITH_FDS:
        if not 0 <= nfds <= NUM_FDS_MAX:
            raise FrameError(f"{nfds} FDs: at most {NUM_FDS_MAX} per message")
        return _U32.pack(nfds)
    if nfds:
        raise FrameError(f"message type {header.type} cannot carry FDs")
    return b""


def build_frame(header: Header, payload: BytesLike = b"", *, nfds: int = 0) -> bytes:
    """A complete frame: length word, header, FD count (for *_WITH_FDS), payload."""
    fds = _fd_word(header, nfds)
    length = FRAME_HEADER_SIZE + len(fds) + len(payload)
    if length > FRAME_MAX:
        raise FrameError(f"a {length}-byte frame exceeds the {FRAME_MAX}-byte limit")
    try:
        return _HEADER.pack(length, *header) + fds + payload
    except struct.error as exc:
        raise FrameError(f"bad header {header!r}: {exc}") from None


def encode_frame(header: Header, codec: Codec[T], value: T, *, nfds: int = 0) -> bytes:
    """A complete frame whose payload is `value` encoded with `codec`, built in place."""
    fds = _fd_word(header, nfds)
    out = bytearray(FRAME_HEADER_SIZE)
    out += fds
    codec.encode_into(value, out)
    if len(out) > FRAME_MAX:
        raise FrameError(f"a {len(out)}-byte frame exceeds the {FRAME_MAX}-byte limit")
    try:
        _HEADER.pack_into(out, 0, len(out), *header)
    except struct.error as exc:
        raise FrameError(f"bad header {header!r}: {exc}") from None
    return bytes(out)


class FrameReader:
    """Reassembles complete frames from a byte stream that arrives in arbitrary chunks.

    The length word is checked as soon as its 4 bytes are in, before any of the body is
    awaited or buffered: below 28 or above `max_frame` is a FrameError. So the buffer
    never holds more than one partial frame (bounded by `max_frame`) plus one chunk.
    After a FrameError every later feed fails too: the stream is out of step.
    """

    __slots__ = ("_broken", "_buf", "_max")

    def __init__(self, max_frame: int = FRAME_MAX) -> None:
        if not FRAME_HEADER_SIZE <= max_frame <= FRAME_MAX:
            raise ValueError(f"max_frame must be within {FRAME_HEADER_SIZE}..{FRAME_MAX}")
        self._buf = bytearray()
        self._max = max_frame
        self._broken: FrameError | None = None

    @property
    def pending(self) -> int:
        """Bytes buffered towards the next frame (0 at a frame boundary)."""
        return len(self._buf)

    def wanted(self) -> int:
        """How many more bytes would complete the length word or the next frame."""
        if len(self._buf) < LEN_SIZE:
            return LEN_SIZE - len(self._buf)
        return int(_U32.unpack_from(self._buf)[0]) - len(self._buf)

    def _check(self, length: int) -> None:
        if length < FRAME_HEADER_SIZE or length > self._max:
            self._broken = FrameError(
                f"frame length {length} outside {FRAME_HEADER_SIZE}..{self._max}")
            raise self._broken

    def feed(self, data: BytesLike) -> list[bytes]:
        """Take the next chunk of the stream; return the frames it completes, in order."""
        if self._broken is not None:
            raise FrameError(f"stream already failed: {self._broken}")
        frames: list[bytes] = []
        buf = self._buf
        if not buf:
            # Fast path: whole frames straight from the chunk, no buffering copy.
            data = bytes(data) if not isinstance(data, bytes) else data
            pos, end = 0, len(data)
            while end - pos >= LEN_SIZE:
                length = _U32.unpack_from(data, pos)[0]
                self._check(length)
                if end - pos < length:
                    break
                frames.append(data[pos:pos + length])
                pos += length
            buf += data[pos:]
            return frames
        buf += data
        pos, end = 0, len(buf)
        while end - pos >= LEN_SIZE:
            length = _U32.unpack_from(buf, pos)[0]
            self._check(length)
            if end - pos < length:
                break
            frames.append(bytes(buf[pos:pos + length]))
            pos += length
        del buf[:pos]
        return frames

    def packets(self, data: BytesLike) -> list[Packet]:
        """Like feed, with each frame parsed."""
        return [parse_packet(f) for f in self.feed(data)]


def read_frames(recv: Callable[[int], Any], bufsize: int = MESSAGE_INITIAL,
                max_frame: int = FRAME_MAX) -> Iterator[bytes]:
    """Frames from a blocking `recv` (such as socket.recv) until it returns b"" at EOF.

    EOF in the middle of a frame is a FrameError.
    """
    reader = FrameReader(max_frame)
    while True:
        chunk = recv(bufsize)
        if not chunk:
            if reader.pending:
                raise FrameError(f"connection closed inside a frame ({reader.pending} bytes)")
            return
        yield from reader.feed(chunk)
