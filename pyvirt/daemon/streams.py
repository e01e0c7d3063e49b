"""pyvirtd's open streams: a client's STREAM packets to and from a local pyvirt Stream.

A procedure that opens a stream (DOMAIN_OPEN_CONSOLE) ties a non-blocking Stream to
its source, registers a ServerStream under the call's (prog, proc, serial) before the
reply goes out (so nothing the client sends after the reply is lost), and the
dispatcher starts it once the reply is on its way. Then, as libvirtd's
remote_daemon_stream.c does (shared/rpc-protocol.md §1 "Streams"):
- the source's data goes out as CONTINUE packets of at most 262120 bytes; its end as an
  empty CONTINUE packet; a read failure as an ERROR packet with the remote_error; while
  more than TX_PAUSE bytes wait to be written to the client, the source is not read
  (libvirtd sends one packet at a time), so a slow reader is not dropped by the
  client's MAX_TX_BACKLOG;
- CONTINUE packets from the client are written to the source in order; one the source
  cannot take at once waits, and holds one of the client's max_client_requests slots
  until written (so a client that floods a slow source stops being read);
- OK from the client finishes the stream, ERROR aborts it; both are confirmed with an
  empty OK packet; any other status or a hole gets an ERROR reply and ends the stream;
- packets for no open stream are dropped; a client that goes away aborts its streams.
"""
from __future__ import annotations

import logging
import threading
from collections import deque
from typing import TYPE_CHECKING

from .. import eventloop
from ..constants import EventHandleType
from ..errors import libvirtError
from ..rpc.error import encode_error, rpc_error
from ..rpc.packet import Packet, Status, build_frame
from ..rpc.stream import (
    CHUNK,
    StreamKey,
    data_frames,
    end_frame,
    eof_frame,
    error_frame,
    read_item,
)

if TYPE_CHECKING:
    from .._api import Stream
    from .client import ServerClient

__all__ = ["TX_PAUSE", "ServerStream", "abort_all", "incoming", "start"]

log = logging.getLogger("pyvirt.daemon")

_READ = int(EventHandleType.READABLE)
_WRITE = int(EventHandleType.WRITABLE)
_HUP = int(EventHandleType.HANGUP) | int(EventHandleType.ERROR)
TX_PAUSE = 4 * CHUNK


class ServerStream:
    """One open stream of one client."""

    def __init__(self, client: ServerClient, key: StreamKey, stream: Stream) -> None:
        self.client = client
        self.key = key
        self.stream = stream
        # re-entrant: a send that overflows the client's backlog closes the client, which
        # aborts its streams, this one included, from inside this stream's own handler
        self._lock = threading.RLock()
        self._pending: deque[memoryview] = deque()   # client data the source has not taken
        self._watch = -1
        self._eof = False          # the source ended (its end was sent)
        self.closed = False

    def register(self) -> None:
        """Route the client's packets here from now on (before the reply is sent)."""
        self.client.streams[self.key] = self

    def start(self) -> None:
        """Begin relaying (after the reply went out)."""
        with self._lock:
            if self.closed or self._watch > 0:
                return
            self._watch = eventloop.add_handle(self.stream.fileno(), self._want(), self._on_io)

    def _want(self) -> int:
        reading = not self._eof and self.client.tx_backlog <= TX_PAUSE
        return (_READ if reading else 0) | (_WRITE if self._pending else 0)

    def resume(self) -> None:
        """The client's queue drained: read the source again."""
        with self._lock:
            self._update()

    def _update(self) -> None:
        if self._watch > 0 and not self.closed:
            eventloop.update_handle(self._watch, self._want())

    # -- the source's side ------------------------------------------------------------------
    def _on_io(self, watch: int, fd: int, events: int, opaque: object) -> None:
        with self._lock:
            if self.closed:
                return
            if events & _WRITE:
                self._flush()
            if not self._eof and events & (_READ | _HUP) and (
                    self.client.tx_backlog <= TX_PAUSE):
                self._read()
            self._update()

    def _read(self) -> None:
        try:
            data = self.stream.recv(CHUNK)
        except libvirtError as exc:
            self._fail(exc)
            return
        except OSError as exc:
            self._fail(rpc_error(f"stream had I/O failure: {exc.strerror or exc}"))
            return
        if data is None:
            return
        if data:
            for frame in data_frames(self.key, data):
                self.client.send(frame)
            return
        self._eof = True            # the client sees the end, then finishes or aborts
        self.client.send(eof_frame(self.key))

    def _fail(self, exc: libvirtError) -> None:
        self.client.send(error_frame(self.key, exc))
        self._shut(abort=True)

    def _flush(self) -> None:
        while self._pending:
            buf = self._pending[0]
            try:
                n = self.stream.send(bytes(buf))
            except (libvirtError, OSError) as exc:
                log.info("client %s: stream write failed: %s", self.client.ident, exc)
                self._drop_pending()
                self._shut(abort=True)
                return
            if n is None or n == 0:
                return
            if n < len(buf):
                self._pending[0] = buf[n:]
                return
            self._pending.popleft()
            self.client.call_done()     # the packet's request slot is free again

    # -- the client's side (loop thread) -----------------------------------------------------
    def take(self, pkt: Packet) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                item = read_item(pkt)
            except libvirtError as exc:
                self._shut(abort=True)
                self.client.send(build_frame(pkt.header.reply(Status.ERROR), encode_error(exc)))
                return
            if item.status == Status.CONTINUE:
                if item.data:
                    if not self._pending:
                        self._pending.append(memoryview(item.data))
                        self.client.hold()
                        self._flush()
                    else:
                        self._pending.append(memoryview(item.data))
                        self.client.hold()
                    self._update()
                return
            # OK finishes, ERROR aborts; both get the zero-length confirmation
            ok = item.status == Status.OK
            failed = self._shut(abort=not ok)
            if failed is not None:
                self.client.send(build_frame(pkt.header.reply(Status.ERROR),
                                             encode_error(failed)))
            else:
                self.client.send(end_frame(self.key))

    # -- ending ----------------------------------------------------------------------------
    def _drop_pending(self) -> None:
        while self._pending:
            self._pending.popleft()
            self.client.call_done()

    def _shut(self, abort: bool) -> libvirtError | None:
        """Stop relaying and end the stream (lock held); the finish's error, if any."""
        if self.closed:
            return None
        self.closed = True
        watch, self._watch = self._watch, -1
        if watch > 0:
            eventloop.remove_handle(watch)
        self.client.streams.pop(self.key, None)
        failed = None
        try:
            if abort:
                self.stream.abort()
            else:
                self.stream.finish()
        except libvirtError as exc:
            failed = exc
        self._drop_pending()
        return failed

    def abort(self) -> None:
        with self._lock:
            self._shut(abort=True)


def incoming(client: ServerClient, pkt: Packet) -> None:
    """A STREAM or STREAM_HOLE packet from the client (loop thread)."""
    st = client.streams.get(StreamKey.of(pkt))
    if st is None:
        # libvirtd ignores packets of a stream it no longer has (§1 "Streams")
        log.debug("client %s: dropping stream packet proc %d serial %d status %d",
                  client.ident, pkt.proc, pkt.serial, pkt.status)
        return
    st.take(pkt)


def start(client: ServerClient, pkt: Packet) -> None:
    """After the reply to pkt: start the stream that call opened, if it did."""
    st = client.streams.get(StreamKey.of(pkt))
    if st is not None:
        st.start()


def abort_all(client: ServerClient) -> None:
    """The client is gone: abort its streams."""
    for st in list(client.streams.values()):
        st.abort()
