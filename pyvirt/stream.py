"""Streams: a byte channel between the caller and a driver (virStream).

A stream is created unattached (`Connection.new_stream`, virStreamNew) and tied to a
source by a call such as `Domain.open_console` (virDomainOpenConsole). The driver
behind that call returns a *channel*: an object with `fileno`/`recv`/`send`/`finish`/
`abort` (the `Channel` protocol): a pty or socket for a local console (`FdChannel`), RPC
stream packets for a remote one (drivers/remote/streams.py). The stream adds libvirt's
semantics on top (libvirt-stream.c): a NONBLOCK stream's recv/send answer "would block"
(None here, -2 in the libvirt-python and C layers) instead of waiting; after finish or
abort every call fails with VIR_ERR_OPERATION_INVALID ... as libvirt reports a stream
no longer usable; one event callback per stream, run on the registered event loop.
"""
from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from .constants import ErrorDomain, ErrorNumber, StreamEventType, StreamFlags
from .errors import error, libvirtError

if TYPE_CHECKING:
    from ._api import Connection, Stream

__all__ = ["NONBLOCK", "Channel", "FdChannel", "StreamBase", "StreamEventCallback", "pipe_pair",
           "tie", "writer_driver"]

NONBLOCK = int(StreamFlags.NONBLOCK)
EV_READABLE, EV_WRITABLE, EV_ERROR, EV_HANGUP = (int(e) for e in (
    StreamEventType.READABLE, StreamEventType.WRITABLE, StreamEventType.ERROR,
    StreamEventType.HANGUP))
# libvirt-python's recvAll/sendAll buffer (streamBufSize), rpc.packet's
# MESSAGE_LEGACY_PAYLOAD_MAX: not imported, so that `import pyvirt` loads no RPC code
RECV_ALL_CHUNK = 262120
StreamEventCallback = Callable[["Stream", int, Any], None]
S = ErrorDomain.STREAMS


class Channel(Protocol):
    """What a driver ties a stream to. `fileno()` turns readable when `recv` would not
    block; `recv` returns b"" at the end and None when `block` is False and nothing is
    there; `poll_writable` says whether `fileno()` can be watched for writability (a
    remote channel can always take data: its sends are queued on the connection)."""

    poll_writable: bool

    def fileno(self) -> int: ...
    def recv(self, size: int, block: bool) -> bytes | None: ...
    def send(self, data: bytes) -> int: ...
    def finish(self) -> None: ...
    def abort(self) -> None: ...


class _RawIO(Protocol):
    def fileno(self) -> int: ...
    def recv(self, size: int) -> bytes: ...
    def send(self, data: bytes) -> int: ...
    def close(self) -> None: ...


def _ready(fd: int, write: bool, timeout: float | None) -> bool:
    r, w, _ = select.select([] if write else [fd], [fd] if write else [], [], timeout)
    return bool(r or w)


class FdChannel:
    """A channel over a local descriptor: a console's pty or unix socket."""

    poll_writable = True

    def __init__(self, raw: _RawIO) -> None:
        self.raw = raw

    def fileno(self) -> int:
        return self.raw.fileno()

    def recv(self, size: int, block: bool) -> bytes | None:
        while True:
            try:
                return self.raw.recv(size)
            except BlockingIOError:  # a non-blocking stream's descriptor (tie) has nothing
                if not block:
                    return None
                _ready(self.fileno(), False, None)

    def send(self, data: bytes) -> int:
        try:
            return self.raw.send(data)
        except BlockingIOError:
            return 0

    def finish(self) -> None:
        self.raw.close()

    def abort(self) -> None:
        self.raw.close()


class StreamBase:
    """The hand-written Stream (every Stream method is hand-written: bindings/api)."""

    __slots__ = ("_conn", "flags", "_chan", "_done", "_lock", "_watch", "_timer", "_cb",
                 "_events", "__weakref__")

    def __init__(self, conn: Connection, flags: int = 0) -> None:
        if not isinstance(flags, int) or flags & ~NONBLOCK:
            raise error(ErrorNumber.INVALID_ARG, S,
                        f"unsupported flags ({flags:#x}) in function virStreamNew")
        self._conn = conn
        self.flags = flags
        self._chan: Channel | None = None
        self._done = False
        self._lock = threading.Lock()
        self._watch = -1
        self._timer = -1
        self._cb: tuple[StreamEventCallback, Any] | None = None
        self._events = 0

    @property
    def connection(self) -> Connection:
        return self._conn

    @property
    def closed(self) -> bool:
        """Whether the stream was finished or aborted (property)."""
        return self._done

    def _attach(self, chan: Channel) -> None:
        """Tie the stream to a driver's channel (the opening call does this)."""
        with self._lock:
            if self._chan is not None or self._done:
                raise error(ErrorNumber.INVALID_ARG, S, "stream is already in use")
            if isinstance(chan, FdChannel) and self.flags & NONBLOCK:
                # a select() before each call cannot make a send non-blocking: a
                # descriptor with any room is writable, and a blocking send then waits
                # for room for all of it
                os.set_blocking(chan.fileno(), False)
            self._chan = chan

    def _live(self, func: str) -> Channel:
        if self._done:
            raise error(ErrorNumber.INVALID_STREAM, S, f"stream is closed in {func}")
        if self._chan is None:
            # libvirt: a stream no call has tied to a driver has no stream driver
            raise error(ErrorNumber.NO_SUPPORT, S, func)
        return self._chan

    # -- data ---------------------------------------------------------------------------
    def fileno(self) -> int:
        """A descriptor that turns readable when recv() would not block."""
        return self._live("virStreamFileno").fileno()

    def recv(self, nbytes: int) -> bytes | None:
        """Up to nbytes bytes; b"" at the end of the stream; None when the stream is
        non-blocking and nothing is there yet."""
        if not isinstance(nbytes, int) or nbytes < 0:
            raise error(ErrorNumber.INVALID_ARG, S, "nbytes must be a non-negative integer")
        chan = self._live("virStreamRecv")
        return chan.recv(nbytes, not self.flags & NONBLOCK)

    def send(self, data: bytes) -> int | None:
        """Send bytes; returns how many were taken, or None when the stream is
        non-blocking and the other side cannot take any now."""
        chan = self._live("virStreamSend")
        n = chan.send(bytes(data))
        return None if n == 0 and data and self.flags & NONBLOCK else n

    def sendall(self, data: bytes) -> None:
        """Send all of data, waiting as long as it takes (socket.sendall's name)."""
        view = memoryview(bytes(data))
        while view:
            n = self.send(bytes(view[:RECV_ALL_CHUNK]))
            if n is None:
                _ready(self.fileno(), True, None)
                continue
            view = view[n:]

    def send_all(self, handler: Callable[[Any, int, Any], bytes],
                 opaque: Any = None) -> None:
        """Send what handler(stream, nbytes, opaque) returns until it returns b"";
        aborts the stream and re-raises if the handler raises (virStreamSendAll)."""
        self._blocking_only("virStreamSendAll", "data sources")
        while True:
            try:
                got = handler(self, RECV_ALL_CHUNK, opaque)
            except BaseException:
                self._abort_quietly()
                raise
            if not got:
                return
            self.sendall(got)

    def recv_all(self, handler: Callable[[Any, bytes, Any], int],
                 opaque: Any = None) -> None:
        """Pass every received chunk to handler(stream, data, opaque) until the end; a
        negative return (RuntimeError, as libvirt-python raises) or an exception aborts
        the stream (virStreamRecvAll)."""
        self._blocking_only("virStreamRecvAll", "data sinks")
        while True:
            got = self.recv(RECV_ALL_CHUNK)
            if not got:
                return
            try:
                n = handler(self, got, opaque)
                if isinstance(n, int) and n < 0:
                    raise RuntimeError(f"recvAll handler returned {n}")
            except BaseException:
                self._abort_quietly()
                raise

    def _blocking_only(self, func: str, what: str) -> None:
        self._live(func)
        if self.flags & NONBLOCK:
            raise error(ErrorNumber.OPERATION_INVALID, S,
                        f"{what} cannot be used for non-blocking streams")

    # -- ending -------------------------------------------------------------------------
    def finish(self) -> None:
        """End the stream: flush what was sent and wait for the other side's confirmation."""
        chan = self._live("virStreamFinish")
        self._end()
        chan.finish()

    def abort(self) -> None:
        """Stop the stream at once, dropping what is in flight."""
        chan = self._live("virStreamAbort")
        self._end()
        chan.abort()

    def close(self) -> None:
        """Abort the stream unless it already ended (a file-like close)."""
        if not self._done and self._chan is not None:
            self._abort_quietly()
        self._done = True

    def _abort_quietly(self) -> None:
        try:
            self.abort()
        except libvirtError:
            pass

    def _end(self) -> None:
        self._done = True
        self._unwatch()

    def __enter__(self) -> StreamBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events -------------------------------------------------------------------------
    def event_add_callback(self, events: int, callback: StreamEventCallback,
                           opaque: Any = None) -> None:
        """Call callback(stream, events, opaque) on the registered event loop while the
        stream is readable/writable as `events` asks (virStreamEventAddCallback)."""
        from . import eventloop
        chan = self._live("virStreamEventAddCallback")
        with self._lock:
            if self._cb is not None:
                raise error(ErrorNumber.INTERNAL_ERROR, S,
                            "multiple stream callbacks not supported")
            self._cb = (callback, opaque)
        self._events = events
        try:
            self._watch = eventloop.add_handle(chan.fileno(), self._fd_events(chan),
                                               self._on_handle)
            self._timer = eventloop.add_timeout(self._timer_ms(chan), self._on_timer)
        except BaseException:
            self._cb = None
            self._unwatch()
            raise

    def event_update_callback(self, events: int) -> None:
        """Change which events the callback wants (virStreamEventUpdateCallback)."""
        from . import eventloop
        chan = self._live("virStreamEventUpdateCallback")
        if self._cb is None:
            raise error(ErrorNumber.INTERNAL_ERROR, S, "no stream callback registered")
        self._events = events
        eventloop.update_handle(self._watch, self._fd_events(chan))
        eventloop.update_timeout(self._timer, self._timer_ms(chan))

    def event_remove_callback(self) -> None:
        """Stop calling the callback (virStreamEventRemoveCallback)."""
        self._live("virStreamEventRemoveCallback")
        if self._cb is None:
            raise error(ErrorNumber.INTERNAL_ERROR, S, "no stream callback registered")
        self._unwatch()

    def _fd_events(self, chan: Channel) -> int:
        # writability of a channel that cannot be polled for it comes from the timer
        return self._events & (EV_READABLE | (EV_WRITABLE if chan.poll_writable else 0))

    def _timer_ms(self, chan: Channel) -> int:
        # a channel that can always take data is writable at once, every loop turn
        return 0 if (self._events & EV_WRITABLE and not chan.poll_writable) else -1

    def _unwatch(self) -> None:
        from . import eventloop
        watch, self._watch = self._watch, -1
        timer, self._timer = self._timer, -1
        self._cb = None
        if watch > 0:
            eventloop.remove_handle(watch)
        if timer > 0:
            eventloop.remove_timeout(timer)

    def _fire(self, events: int) -> None:
        cb = self._cb
        if cb is not None and events:
            cb[0](self, events, cb[1])   # type: ignore[arg-type]

    def _on_handle(self, watch: int, fd: int, events: int, opaque: object) -> None:
        self._fire(events & (self._events | EV_ERROR | EV_HANGUP))

    def _on_timer(self, timer: int, opaque: object) -> None:
        self._fire(EV_WRITABLE)

    def __repr__(self) -> str:
        state = "closed" if self._done else ("open" if self._chan else "new")
        return f"<Stream {state} flags={self.flags:#x}>"


def writer_driver(conn: Connection, attr: str, func: str, origin: int,
                  uints: dict[str, tuple[Any, int]]) -> Any:
    """The public-entry checks of a call that opens a stream: the connection is open and
    not read-only, the unsigned arguments (name -> (value, bits)) fit; its driver."""
    from ._entry import arg_error, denied
    drv = getattr(conn, attr)
    if drv is None:
        raise conn._invalid(func)
    if conn._ro:
        raise denied(func, origin)
    for name, (value, bits) in uints.items():
        if not isinstance(value, int) or not 0 <= value < 1 << bits:
            raise arg_error(name, func, "an unsigned integer", value, origin)
    return drv


def tie(conn: Connection, stream: Stream | None, func: str, origin: int, owner: str,
        open_channel: Callable[[], Any]) -> Stream:
    """The common end of the calls that open a stream (virDomainOpenConsole,
    virStorageVolUpload/Download): check the stream, let the driver open its channel,
    tie the stream (a new blocking one when None) to it."""
    from ._entry import arg_error
    if stream is not None and not isinstance(stream, StreamBase):
        raise arg_error("stream", func, "a stream", stream, origin)
    if stream is not None and stream.connection is not conn:
        raise error(ErrorNumber.INVALID_ARG, origin, f"stream must match connection of {owner}")
    st = stream if stream is not None else conn.new_stream(0)
    raw = open_channel()
    chan: Channel = raw if hasattr(raw, "finish") else FdChannel(raw)
    try:
        st._attach(chan)
    except BaseException:
        chan.abort()
        raise
    return st


def pipe_pair() -> tuple[int, int]:
    """A non-blocking, close-on-exec pipe (the readiness signal of remote channels)."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    return r, w
