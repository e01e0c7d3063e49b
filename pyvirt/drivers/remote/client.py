"""The remote driver's RPC client: serials, replies, events and keepalive on one socket.

Calls from many threads share the connection. As libvirt's virNetClient does, there
is no reader thread: the thread whose call is waiting reads the socket ("holds the
buck") until its own reply arrives, routing other replies to their callers and MESSAGE
packets to the event handler, then hands the buck to another waiting caller. When no
call is waiting, the registered event loop watches the socket and reads events and
keepalive PINGs; while a caller holds the buck that watch is paused.

Streams (shared/rpc-protocol.md §1 "Streams"): `open_stream` registers a RemoteChannel
under the call's (prog, proc, serial) before the call goes out, so STREAM packets that
follow the reply at once are never lost; STREAM packets for no open stream are dropped,
as libvirt's client does. A stream reader waits for data the way a caller waits for its
reply (`wait_for`): it holds the buck or is woken by whoever holds it.

Serials start at 0 and are shared by all programs (REMOTE and QEMU calls alike); a reply
is paired with its call by (program, serial) (shared/rpc-protocol.md §1). A PING is
answered with a PONG at once (§3.2). When keepalive was negotiated (feature 10, asked
only when an event loop is registered, as libvirt does), a reader that hears nothing
for `interval` seconds sends a PING, and gives the connection up after `count` of them.
"""
from __future__ import annotations

import errno
import logging
import select
import socket
import ssl
import threading
from collections.abc import Callable
from typing import Any

from ... import eventloop
from ...constants import ErrorDomain, ErrorNumber, EventHandleType
from ...errors import error, libvirtError
from ...rpc import procedures as P
from ...rpc.error import client_error, decode_error
from ...rpc.packet import (
    KEEPALIVE_PROGRAM,
    FrameError,
    FrameReader,
    Header,
    MessageType,
    Packet,
    Status,
    build_frame,
    encode_frame,
    parse_packet,
)
from ...rpc.program import Procedure
from ...rpc.xdr import XDRError
from ...rpc.stream import StreamKey
from .streams import RemoteChannel
from .transport import Transport

__all__ = ["RPCClient"]

log = logging.getLogger("pyvirt.remote")

_RECV = 256 * 1024
_READ = int(EventHandleType.READABLE)
_PONG = build_frame(Header(KEEPALIVE_PROGRAM, 1, P.KeepaliveProcedure.PONG,
                           MessageType.MESSAGE, 0, Status.OK))
_PING = build_frame(Header(KEEPALIVE_PROGRAM, 1, P.KeepaliveProcedure.PING,
                           MessageType.MESSAGE, 0, Status.OK))


def _pending(sock: socket.socket) -> bool:
    """Whether TLS has decrypted bytes buffered that select() cannot see."""
    return isinstance(sock, ssl.SSLSocket) and sock.pending() > 0


class _Call:
    __slots__ = ("cond", "key", "reply")

    def __init__(self, key: tuple[int, int], lock: threading.Lock) -> None:
        self.key = key
        self.cond = threading.Condition(lock)
        self.reply: Packet | None = None


def _lost(detail: str) -> libvirtError:
    return error(ErrorNumber.RPC, ErrorDomain.RPC, detail)


class RPCClient:
    """One connection to a daemon, shared by every thread of a connection."""

    def __init__(self, transport: Transport,
                 on_message: Callable[[Packet], None] | None = None) -> None:
        self.transport = transport
        self._sock = transport.sock
        self._fd = transport.sock.fileno()
        self._tls = transport.tls
        self.on_message = on_message
        self._lock = threading.Lock()
        self._wlock = threading.Lock()
        self._calls: dict[tuple[int, int], _Call] = {}
        self._streams: dict[StreamKey, RemoteChannel] = {}
        self._stream_waiters = 0
        self._serial = 0
        self._buck = False
        self._reader = FrameReader()
        self._dead: libvirtError | None = None
        self._watch = -1
        self._ka_timer = -1
        self.keepalive_interval = 0.0        # 0: no keepalive
        self.keepalive_count = 0
        self._pings = 0

    @property
    def alive(self) -> bool:
        return self._dead is None

    # -- calls ----------------------------------------------------------------------------
    def open_stream(self, proc: Procedure, args: Any) -> RemoteChannel:
        """Make a call that opens a stream (DOMAIN_OPEN_CONSOLE, ...) and return the
        channel its STREAM packets feed."""
        chan = RemoteChannel(self, self._lock)
        try:
            self.call(proc, args, chan)
        except BaseException:
            chan.dispose()
            raise
        return chan

    def call(self, proc: Procedure, args: Any, stream: RemoteChannel | None = None) -> Any:
        """Send a call and wait for its reply: the decoded *_ret, or the server's error
        raised as libvirtError (unknown procedures as VIR_ERR_NO_SUPPORT)."""
        with self._lock:
            if self._dead is not None:
                raise self._dead
            serial = self._serial
            self._serial = (serial + 1) & 0xFFFFFFFF
            c = _Call((proc.program, serial), self._lock)
            self._calls[c.key] = c
            if stream is not None:
                stream.key = StreamKey(proc.program, proc.number, serial)
                self._streams[stream.key] = stream
        frame = encode_frame(Header(proc.program, 1, proc.number, MessageType.CALL, serial,
                                    Status.OK), proc.args, args)
        try:
            self._send(frame)
        except libvirtError:
            with self._lock:
                self._calls.pop(c.key, None)
            raise
        pkt = self._wait(c)
        if pkt.status == Status.OK:
            try:
                return pkt.decode(proc.ret)
            except XDRError as exc:
                raise _lost(f"Unable to decode message payload: {exc}") from None
        try:
            err = decode_error(pkt.frame, pkt.offset)
        except XDRError as exc:
            raise _lost(f"Unable to decode the error of {proc.name}: {exc}") from None
        raise client_error(err)

    def send_frame(self, frame: bytes) -> None:
        """Send a frame that expects no reply (stream data)."""
        with self._lock:
            if self._dead is not None:
                raise self._dead
        self._send(frame)

    def drop_stream(self, chan: RemoteChannel) -> None:
        with self._lock:
            if self._streams.get(chan.key) is chan:
                del self._streams[chan.key]

    def wait_for(self, cond: threading.Condition, ready: Callable[[], bool]) -> None:
        """Wait until ready() (checked under the client's lock) or the connection dies,
        reading the socket when no one else does (a stream reader's _wait)."""
        while True:
            with self._lock:
                self._stream_waiters += 1
                try:
                    while not ready() and self._dead is None and self._buck:
                        cond.wait()
                finally:
                    self._stream_waiters -= 1
                if ready():
                    return
                if self._dead is not None:
                    raise self._dead
                self._buck = True
            self._pause_watch(True)
            try:
                self._read_while(lambda: not ready())
            finally:
                self._release_buck()

    def poll(self) -> None:
        """Read what the socket has now, unless another thread is reading it."""
        with self._lock:
            if self._buck or self._dead is not None:
                return
            self._buck = True
        try:
            self._read_once(block=False)
            while _pending(self._sock) and self._dead is None:
                self._read_once(block=False)
        finally:
            self._release_buck()

    def _send(self, frame: bytes) -> None:
        with self._wlock:
            try:
                self._sock.sendall(frame)
            except OSError as exc:
                self._die(_lost(f"cannot send data: {exc.strerror or exc}"))
                raise self._dead or _lost("cannot send data") from None

    def _wait(self, c: _Call) -> Packet:
        while True:
            with self._lock:
                while c.reply is None and self._dead is None and self._buck:
                    c.cond.wait()
                if c.reply is not None:
                    return c.reply
                if self._dead is not None:
                    self._calls.pop(c.key, None)
                    raise self._dead
                self._buck = True
            self._pause_watch(True)
            try:
                self._read_until(c)
            finally:
                self._release_buck()

    def _release_buck(self) -> None:
        with self._lock:
            self._buck = False
            # hand the buck to a caller still waiting for its reply
            for other in self._calls.values():
                if other.reply is None:
                    other.cond.notify()
                    break
            else:
                if self._stream_waiters:
                    for chan in self._streams.values():
                        chan.cond.notify_all()
            idle = not self._calls and not self._stream_waiters
        if idle:
            self._pause_watch(False)

    # -- reading --------------------------------------------------------------------------
    def _errout(self) -> str:
        """The transport command's stderr as a prefix, the way libvirt reports it."""
        said = self.transport.errout()
        return f"{said}: " if said else ""

    def _read_until(self, c: _Call) -> None:
        self._read_while(lambda: c.reply is None)

    def _read_while(self, waiting: Callable[[], bool]) -> None:
        while waiting() and self._dead is None:
            if not (_pending(self._sock)):
                timeout = self.keepalive_interval or None
                try:
                    ready, _, _ = select.select([self._fd], [], [], timeout)
                except (OSError, ValueError) as exc:
                    self._die(_lost(f"cannot read data: {exc}"))
                    return
                if not ready:
                    self._keepalive_tick()
                    continue
            self._read_once(block=True)

    def _read_once(self, block: bool) -> None:
        try:
            if block or self._tls:
                data = self._sock.recv(_RECV)
            else:
                data = self._sock.recv(_RECV, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            self._die(_lost(f"cannot recv data: {self._errout()}{exc.strerror or exc}"))
            return
        if not data:
            self._die(_lost(f"End of file while reading data: {self._errout()}"
                            "Input/output error"))
            return
        self._pings = 0
        try:
            frames = self._reader.feed(data)
        except FrameError as exc:
            self._die(_lost(f"packet framing failed: {exc}"))
            return
        for frame in frames:
            try:
                self._route(parse_packet(frame))
            except FrameError as exc:
                self._die(_lost(f"malformed packet: {exc}"))
                return

    def _route(self, pkt: Packet) -> None:
        if pkt.prog == KEEPALIVE_PROGRAM:
            if pkt.proc == P.KeepaliveProcedure.PING:
                try:
                    self._send(_PONG)
                except libvirtError:
                    pass
            return
        if pkt.type in (MessageType.STREAM, MessageType.STREAM_HOLE):
            with self._lock:
                chan = self._streams.get(StreamKey.of(pkt))
                if chan is not None:
                    chan.push(pkt)
                    return
            log.debug("dropping stream packet for no open stream: proc %d serial %d",
                      pkt.proc, pkt.serial)
            return
        if pkt.type in (MessageType.REPLY, MessageType.REPLY_WITH_FDS):
            with self._lock:
                c = self._calls.pop((pkt.prog, pkt.serial), None)
                if c is not None:
                    c.reply = pkt
                    c.cond.notify()
                    return
                chan = self._streams.get(StreamKey.of(pkt))
                if chan is not None:
                    # a failed finish or abort is answered with an ERROR reply
                    chan.push_reply_error(self._reply_error(pkt))
                    return
            # libvirt treats a reply to no pending call as an RPC error (§1)
            self._die(_lost(f"no call waiting for reply with serial {pkt.serial}"))
            return
        if pkt.type == MessageType.MESSAGE and self.on_message is not None:
            try:
                self.on_message(pkt)
            except Exception:
                log.exception("event message %d could not be handled", pkt.proc)

    @staticmethod
    def _reply_error(pkt: Packet) -> libvirtError:
        if pkt.status != Status.ERROR:
            return _lost(f"unexpected reply to stream serial {pkt.serial}")
        try:
            return client_error(decode_error(pkt.frame, pkt.offset))
        except XDRError as exc:
            return _lost(f"Unable to decode the stream error: {exc}")

    def _keepalive_tick(self) -> None:
        if not self.keepalive_interval:
            return
        self._pings += 1
        if self._pings > self.keepalive_count:
            self._die(_lost("connection closed due to keepalive timeout"))
            return
        try:
            self._send(_PING)
        except libvirtError:
            pass

    # -- the event-loop watch (events and PINGs while no call waits) ---------------------
    def watch(self) -> None:
        """Let the registered event loop read the socket when no call is waiting."""
        with self._lock:
            if self._watch > 0 or self._dead is not None:
                return
            self._watch = eventloop.add_handle(self._fd, _READ, self._on_readable)
        if self.keepalive_interval:
            self._ka_timer = eventloop.add_timeout(int(self.keepalive_interval * 1000),
                                                   self._on_ka_timer)

    def _pause_watch(self, paused: bool) -> None:
        w = self._watch
        if w > 0:
            eventloop.update_handle(w, 0 if paused else _READ)

    def _on_readable(self, watch: int, fd: int, events: int, opaque: object) -> None:
        self.poll()

    def _on_ka_timer(self, timer: int, opaque: object) -> None:
        with self._lock:
            if self._buck or self._dead is not None:
                return
        self._keepalive_tick()

    # -- closing --------------------------------------------------------------------------
    def _die(self, exc: libvirtError) -> None:
        with self._lock:
            if self._dead is not None:
                return
            self._dead = exc
            for c in self._calls.values():
                c.cond.notify()
            for chan in self._streams.values():
                chan.push_reply_error(exc)
        log.debug("connection lost: %s", exc.message)

    def close(self) -> None:
        """Stop watching, fail pending calls, close the transport."""
        self._die(error(ErrorNumber.INVALID_CONN, ErrorDomain.RPC, "connection closed"))
        with self._lock:
            watch, self._watch = self._watch, -1
        if watch > 0:
            eventloop.remove_handle(watch)
        timer, self._ka_timer = self._ka_timer, -1
        if timer > 0:
            eventloop.remove_timeout(timer)
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.transport.close()
