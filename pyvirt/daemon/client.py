"""One connected client of pyvirtd: its socket I/O, framing, limits and session state.

Reads happen on the daemon's event-loop thread; replies and events are written from
worker threads and the loop alike, so writes go through `send`, which writes straight
to the socket when nothing is queued and otherwise queues the frame for the loop to
flush when the socket is writable (libvirtd's client tx queue). A client that lets
more than MAX_TX_BACKLOG bytes pile up unread is dropped.

Limits (shared/rpc-protocol.md §1, libvirtd.conf): a frame longer than the configured
max_message_size closes the client, as a bad length word does (the stream is out of
step); at most max_client_requests calls run at once, and beyond that the client's
socket is not read until one finishes (back-pressure, as libvirtd does).
"""
from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from .. import eventloop
from ..constants import EventHandleType
from ..rpc.packet import FrameError, FrameReader, Packet, parse_packet
from ..rpc.program import Program
from ..rpc.stream import StreamKey

if TYPE_CHECKING:
    from .._api import Connection
    from .server import Server
    from .streams import ServerStream

__all__ = ["MAX_TX_BACKLOG", "ServerClient"]

log = logging.getLogger("pyvirt.daemon")

MAX_TX_BACKLOG = 64 * 1024 * 1024   # unread replies and events a client may leave queued
_RECV = 256 * 1024
_READ = int(EventHandleType.READABLE)
_WRITE = int(EventHandleType.WRITABLE)
_HUP = int(EventHandleType.HANGUP) | int(EventHandleType.ERROR)
_PLAIN_WOULD_BLOCK: tuple[type[BaseException], ...] = (BlockingIOError, InterruptedError)


def _is_tls(sock: socket.socket) -> bool:
    # ssl is imported only when a TLS listener exists (it costs ~4.6 MB of RSS, and
    # pyvirtd's memory is measured against libvirtd's): no ssl module, no TLS socket
    ssl = sys.modules.get("ssl")
    return ssl is not None and isinstance(sock, ssl.SSLSocket)


class ServerClient:
    """A client connection: socket, frame reader, tx queue, in-flight calls, session."""

    def __init__(self, server: Server, sock: socket.socket, kind: str, *, readonly: bool,
                 authenticated: bool, peer: str, uid: int | None = None,
                 pid: int | None = None) -> None:
        self.server = server
        self.sock = sock
        self.kind = kind                  # "unix", "unix-ro", "tcp", "tls"
        self.readonly = readonly
        self.authenticated = authenticated
        self.peer = peer
        self.uid, self.pid = uid, pid
        self.ident = f"{kind}:{peer}"
        self.reader = FrameReader(server.config.max_message_size)
        # session state (set by the procedures in procs.py)
        self.conn: Connection | None = None
        self.uri_name = ""                # what CONNECT_OPEN asked for (CONNECT_GET_URI)
        self.quick: frozenset[int] = frozenset()   # procedures run on the loop thread
        self.keepalive = False            # asked for feature 10: answer and send PINGs
        self.callbacks: dict[int, Any] = {}   # server callback ID -> registration info
        self.legacy_events: dict[int, int] = {}  # old-style eventID -> callback ID
        self.streams: dict[StreamKey, ServerStream] = {}   # open streams (streams.py)
        # I/O state
        self._tls = _is_tls(sock)
        if self._tls:
            import ssl
            self._would_block = _PLAIN_WOULD_BLOCK + (ssl.SSLWantReadError,
                                                      ssl.SSLWantWriteError)
        else:
            self._would_block = _PLAIN_WOULD_BLOCK
        self._wlock = threading.Lock()
        # OpenSSL objects must not be used from two threads at once: TLS reads take the
        # write lock too; plain sockets read and write concurrently.
        self._rlock = self._wlock if self._tls else threading.Lock()
        self._tx: deque[memoryview] = deque()
        self._backlog: deque[tuple[Packet, Program]] = deque()
        self._tx_bytes = 0
        self._watch = -1
        self._events = _READ
        self.inflight = 0
        self.closed = False
        self._finalized = False
        self.last_rx = time.monotonic()
        self.pings_unanswered = 0

    # -- registration on the loop ---------------------------------------------------------
    def start(self) -> None:
        self.sock.setblocking(False)
        self._watch = eventloop.add_handle(self.sock.fileno(), self._events, self._on_io)

    def _set_events(self, events: int) -> None:
        # called with _wlock held or from the loop thread
        if events != self._events and self._watch > 0 and not self.closed:
            self._events = events
            eventloop.update_handle(self._watch, events)

    def _want(self) -> int:
        busy = self._backlog or self.inflight >= self.server.config.max_client_requests
        ev = 0 if busy else _READ
        return ev | (_WRITE if self._tx else 0)

    # -- reading ------------------------------------------------------------------------
    def _on_io(self, watch: int, fd: int, events: int, opaque: object) -> None:
        if self.closed:
            return
        if events & _WRITE:
            self._flush()
        if events & (_READ | _HUP):
            self._read()

    def _read(self) -> None:
        packets: list[Packet] = []
        eof = False
        with self._rlock:
            while not self.closed:
                try:
                    data = self.sock.recv(_RECV)
                except self._would_block:
                    break
                except OSError as exc:   # ssl.SSLError is an OSError
                    log.info("client %s: read failed: %s", self.ident, exc)
                    eof = True
                    break
                if not data:
                    eof = True
                    break
                try:
                    packets.extend(parse_packet(f) for f in self.reader.feed(data))
                except FrameError as exc:
                    log.warning("client %s: %s; closing", self.ident, exc)
                    eof = True
                    break
                pending = self._tls and self.sock.pending()  # type: ignore[attr-defined]
                if len(data) < _RECV and not pending:
                    break
        if packets:
            self.last_rx = time.monotonic()
            self.pings_unanswered = 0
            for pkt in packets:
                self.server.dispatcher.incoming(self, pkt)
        if eof:
            self.close()

    # -- calls in flight ----------------------------------------------------------------
    def admit(self, pkt: Packet, prog: Program) -> bool:
        """Count a call in, or keep it for later when max_client_requests run already
        (one read may bring many calls: they wait here, and the socket is not read)."""
        with self._wlock:
            if self.inflight >= self.server.config.max_client_requests:
                self._backlog.append((pkt, prog))
                return False
            self.inflight += 1
            self._set_events(self._want())
            return True

    def hold(self) -> None:
        """Count a stream packet still being written as a request in flight, as
        libvirtd does, so max_client_requests bounds what a client can queue."""
        with self._wlock:
            self.inflight += 1
            self._set_events(self._want())

    def call_done(self) -> None:
        """A call finished: start the next one kept back, or read the socket again."""
        with self._wlock:
            self.inflight -= 1
            nxt = self._backlog.popleft() if self._backlog and not self.closed else None
            if nxt is not None:
                self.inflight += 1
            self._set_events(self._want())
            finalize = self.closed and self.inflight == 0 and not self._finalized
        if nxt is not None:
            self.server.dispatcher.start(self, *nxt, inline=False)
        elif finalize:
            self._finalize()

    # -- writing ------------------------------------------------------------------------
    def send(self, frame: bytes) -> None:
        """Queue one frame; written at once when the socket takes it."""
        with self._wlock:
            if self.closed:
                return
            if not self._tx:
                try:
                    n = self.sock.send(frame)
                except self._would_block:
                    n = 0
                except OSError as exc:   # ssl.SSLError is an OSError
                    log.info("client %s: write failed: %s", self.ident, exc)
                    n = -1
                if n == len(frame):
                    return
                if n >= 0:
                    self._tx.append(memoryview(frame)[n:])
                    self._tx_bytes += len(frame) - n
                    self._set_events(self._want())
                    return
            else:
                self._tx.append(memoryview(frame))
                self._tx_bytes += len(frame)
                if self._tx_bytes <= MAX_TX_BACKLOG:
                    return
                log.warning("client %s: %d bytes unread; dropping it", self.ident,
                            self._tx_bytes)
        self.close()

    def _flush(self) -> None:
        failed = False
        with self._wlock:
            while self._tx and not self.closed:
                buf = self._tx[0]
                try:
                    n = self.sock.send(buf)
                except self._would_block:
                    break
                except OSError as exc:   # ssl.SSLError is an OSError
                    log.info("client %s: write failed: %s", self.ident, exc)
                    failed = True
                    break
                self._tx_bytes -= n
                if n == len(buf):
                    self._tx.popleft()
                else:
                    self._tx[0] = buf[n:]
            if not failed:
                self._set_events(self._want())
            drained = not self._tx and not failed
        if failed:
            self.close()
        elif drained and self.streams:
            for st in list(self.streams.values()):
                st.resume()     # a stream paused while its packets queued up

    @property
    def tx_backlog(self) -> int:
        """Bytes queued for the client and not yet written."""
        return self._tx_bytes

    # -- closing ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop I/O now; release the session once no call is running any more."""
        with self._wlock:
            if self.closed:
                return
            self.closed = True
            watch, self._watch = self._watch, -1
            finalize = self.inflight == 0
        if watch > 0:
            eventloop.remove_handle(watch)
        from .streams import abort_all
        abort_all(self)
        try:
            self.sock.close()
        except OSError:
            pass
        self.server.client_gone(self)
        if finalize:
            self._finalize()

    def _finalize(self) -> None:
        with self._wlock:
            if self._finalized:
                return
            self._finalized = True
        conn, self.conn = self.conn, None
        if conn is not None:
            from .procs import drop_callbacks
            drop_callbacks(self, conn)
            try:
                conn.close()
            except Exception:
                log.exception("client %s: closing its connection failed", self.ident)
        log.info("client %s: gone", self.ident)

    def __repr__(self) -> str:
        return f"<ServerClient {self.ident}{' closed' if self.closed else ''}>"
