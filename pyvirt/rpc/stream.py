"""Stream packets: the data, end and error frames of an open stream, both directions.

After the call that opens a stream (DOMAIN_OPEN_CONSOLE, STORAGE_VOL_UPLOAD/DOWNLOAD) has
its normal REPLY, both sides send type=STREAM packets with the prog, proc and serial of
that call (shared/rpc-protocol.md §1 "Streams"): status CONTINUE carries raw bytes (not
XDR), and with an empty payload is the end of the data (libvirtd sends its source's
end so: remote_daemon_stream.c passes a zero-length buffer, seen on the wire in a
DOWNLOAD from libvirtd 9.0); status OK with an empty payload is a client's finish and
the daemon's zero-length confirmation of a finish or an abort; status ERROR carries a
`remote_error` (from the daemon) or nothing (a client's abort). Data goes in chunks of at most
VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX bytes, as libvirt sends it.
"""
from __future__ import annotations

from typing import NamedTuple

from ..errors import libvirtError
from .error import client_error, decode_error, encode_error, rpc_error
from .packet import MESSAGE_LEGACY_PAYLOAD_MAX, Header, MessageType, Packet, Status, build_frame
from .xdr import XDRError

__all__ = ["CHUNK", "StreamItem", "StreamKey", "abort_frame", "data_frames", "end_frame",
           "eof_frame", "error_frame", "read_item"]

CHUNK = MESSAGE_LEGACY_PAYLOAD_MAX


class StreamKey(NamedTuple):
    """What ties stream packets to the call that opened the stream."""
    prog: int
    proc: int
    serial: int

    @classmethod
    def of(cls, pkt: Packet | Header) -> StreamKey:
        return cls(pkt.prog, pkt.proc, pkt.serial)

    def header(self, status: int) -> Header:
        return Header(self.prog, 1, self.proc, MessageType.STREAM, self.serial, status)


class StreamItem(NamedTuple):
    """One received stream packet: data (CONTINUE; b"" is the end of the data), a finish
    or confirmation (OK), or an error (ERROR; `error` is None for a client's abort,
    which carries no payload)."""
    status: int
    data: bytes
    error: libvirtError | None


def data_frames(key: StreamKey, data: bytes | memoryview) -> list[bytes]:
    """CONTINUE frames carrying `data`, CHUNK bytes at most each (none for no data)."""
    view = memoryview(data)
    head = key.header(Status.CONTINUE)
    return [build_frame(head, view[i:i + CHUNK]) for i in range(0, len(view), CHUNK)]


def eof_frame(key: StreamKey) -> bytes:
    """The end of the data: an empty CONTINUE, as libvirtd sends it."""
    return build_frame(key.header(Status.CONTINUE))


def end_frame(key: StreamKey) -> bytes:
    """A client's finish, or the daemon's confirmation of a finish or an abort."""
    return build_frame(key.header(Status.OK))


def abort_frame(key: StreamKey) -> bytes:
    """A client's abort: status ERROR, no payload (libvirt's client sends none)."""
    return build_frame(key.header(Status.ERROR))


def error_frame(key: StreamKey, exc: libvirtError) -> bytes:
    """A daemon's stream failure: status ERROR with the remote_error."""
    return build_frame(key.header(Status.ERROR), encode_error(exc))


def read_item(pkt: Packet) -> StreamItem:
    """What a STREAM packet says. Raises libvirtError (VIR_ERR_RPC) for a packet that is
    no stream data at all: a hole (pyvirt's streams are never sparse), an unknown
    status, an end with a payload, or an ERROR whose remote_error does not decode."""
    if pkt.type == MessageType.STREAM_HOLE:
        raise rpc_error("Unexpected stream hole")
    if pkt.type != MessageType.STREAM:
        raise rpc_error(f"Unexpected message type: {pkt.type}")
    payload = pkt.frame[pkt.offset:]
    if pkt.status == Status.CONTINUE:
        return StreamItem(Status.CONTINUE, payload, None)
    if pkt.status == Status.OK:
        if payload:
            raise rpc_error(f"stream end with {len(payload)} bytes of payload")
        return StreamItem(Status.OK, b"", None)
    if pkt.status == Status.ERROR:
        if not payload:
            return StreamItem(Status.ERROR, b"", None)
        try:
            err = decode_error(pkt.frame, pkt.offset)
        except XDRError as exc:
            raise rpc_error(f"Unable to decode the stream error: {exc}") from None
        return StreamItem(Status.ERROR, b"", client_error(err))
    raise rpc_error(f"stream packet with unexpected status {pkt.status}")
