"""A raw wire client for daemon tests: hand-made frames in, parsed packets out."""
from __future__ import annotations

import socket
from typing import Any

from pyvirt.rpc import procedures as P
from pyvirt.rpc.error import decode_error
from pyvirt.rpc.packet import (
    FrameReader,
    Header,
    MessageType,
    Packet,
    Status,
    build_frame,
    encode_frame,
    parse_packet,
)

REMOTE = P.REMOTE.number
R = P.RemoteProcedure


class RawClient:
    """One socket to a daemon; the test decides every byte."""

    def __init__(self, address: str | tuple[str, int], timeout: float = 10.0) -> None:
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX)
        else:
            self.sock = socket.socket()
        self.sock.settimeout(timeout)
        self.sock.connect(address)
        self.reader = FrameReader()
        self.pending: list[Packet] = []
        self.serial = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frame(self, proc: int, args: Any = None, *, prog: int = REMOTE, vers: int = 1,
              mtype: int = MessageType.CALL, serial: int | None = None,
              status: int = Status.OK) -> bytes:
        if serial is None:
            serial = self.serial
            self.serial += 1
        header = Header(prog, vers, proc, mtype, serial, status)
        procedure = P.lookup(prog, proc)
        if args is None or procedure is None or isinstance(args, bytes):
            return build_frame(header, args if isinstance(args, bytes) else b"")
        return encode_frame(header, procedure.args, args)

    def recv(self) -> Packet:
        """The next packet (socket.timeout when none comes)."""
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("daemon closed the connection")
            self.pending.extend(parse_packet(f) for f in self.reader.feed(data))
        return self.pending.pop(0)

    def reply(self) -> Packet:
        """The next REPLY, skipping keepalive and event messages."""
        while True:
            pkt = self.recv()
            if pkt.type == MessageType.REPLY:
                return pkt

    def call(self, proc: int, args: Any = None, **kw: Any) -> Packet:
        self.send(self.frame(proc, args, **kw))
        return self.reply()

    def ok(self, proc: int, args: Any = None, **kw: Any) -> Any:
        """Call and decode the *_ret; AssertionError with the error when it fails."""
        pkt = self.call(proc, args, **kw)
        procedure = P.lookup(pkt.prog, pkt.proc)
        assert procedure is not None
        assert pkt.status == Status.OK, decode_error(pkt.frame, pkt.offset)
        return pkt.decode(procedure.ret)

    def open(self, name: str | None = "test:///default", flags: int = 0) -> None:
        self.ok(R.AUTH_LIST)
        self.ok(R.CONNECT_OPEN, (name, flags))

    def closed_by_peer(self) -> bool:
        """Whether the daemon closed this socket (EOF)."""
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False


def error_of(pkt: Packet) -> P.RemoteError:
    assert pkt.status == Status.ERROR, "expected an ERROR reply"
    return decode_error(pkt.frame, pkt.offset)
