"""The QMP client: commands with deadlines, replies routed by id, events to listeners.

Shaped after qemu.qmp (python/qemu/qmp in QEMU's tree), synchronously: a run state
guards the API and says what state was required (`StateError`); replies are routed by
id wherever an id is needed to tell them apart (a late reply to a command that timed
out is recognised and dropped, never taken for the next one's; see _call for when a
command goes without one, since QEMU answers in order and echoing ids costs it); events are
separated from replies and go to the owner's handler and to `EventListener` queues
(context managers with a name filter); when QEMU closes the socket the call waiting
for a reply fails with `Disconnected` and so does every later one.  Errors keep what
was sent and what came back.

The byte work (socket I/O, line framing, classifying each line) is the C core's QMP
hot path (pyvirt._core.qmp, or its pure-Python twin), which waits without the GIL.
Whoever holds the client's lock reads the socket: the thread running a command reads
until its own reply, dispatching the events it meets on the way; while no command
runs, the driver's monitor thread reads (`pump`).
"""
from __future__ import annotations

import errno
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from types import TracebackType
from typing import Any

from ... import _core
from ..._twins.abc import (
    QMP_ERROR,
    QMP_EVENT,
    QMP_GREETING,
    QMP_ID_ABSENT,
    QMP_ID_INT,
    QMP_RETURN,
    Qmp,
    QmpChannel,
    QmpMessage,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "Disconnected",
    "EventListener",
    "ExecuteError",
    "ProtocolError",
    "QMPClient",
    "QMPError",
    "QMPTimeout",
    "Runstate",
    "StateError",
]

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 60.0      # seconds; every command has a deadline


class Runstate(Enum):
    """qemu.qmp's Runstate: where the connection is in its life."""
    IDLE = "idle"
    CONNECTING = "connecting"
    RUNNING = "running"
    DISCONNECTING = "disconnecting"


class QMPError(Exception):
    """Base of the client's errors."""


class StateError(QMPError):
    """The call needs another run state (qemu.qmp's StateError)."""

    def __init__(self, what: str, state: Runstate, required: Runstate) -> None:
        super().__init__(f"{what}: the QMP connection is {state.value}, "
                         f"it must be {required.value}")
        self.state = state
        self.required = required


class ProtocolError(QMPError):
    """QEMU sent something that is not QMP (bad greeting, a line that is not JSON)."""


class Disconnected(QMPError):
    """The connection closed (QEMU exited or closed the monitor) before a reply came."""

    def __init__(self, message: str, sent: bytes | None = None) -> None:
        super().__init__(message)
        self.sent = sent


class QMPTimeout(QMPError):
    """No reply before the command's deadline; the late reply, if any, is dropped."""

    def __init__(self, message: str, sent: bytes, timeout: float) -> None:
        super().__init__(message)
        self.sent = sent
        self.timeout = timeout


class ExecuteError(QMPError):
    """QEMU answered a command with an error (qemu.qmp's ExecuteError)."""

    def __init__(self, sent: bytes, reply: bytes) -> None:
        self.sent = sent
        self.reply = reply
        try:
            err = json.loads(reply).get("error", {})
        except ValueError:
            err = {}
        self.error_class: str = err.get("class", "GenericError")
        self.desc: str = err.get("desc", reply.decode(errors="replace"))
        super().__init__(self.desc)


class EventListener:
    """A queue of events whose names pass the filter; use as a context manager on a
    client (qemu.qmp's EventListener): `with client.listen("STOP") as l: l.get(1.0)`."""

    def __init__(self, names: Iterable[str] | None = None,
                 event_filter: Callable[[dict[str, Any]], bool] | None = None) -> None:
        self.names = frozenset(names) if names is not None else None
        self.event_filter = event_filter
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._client: QMPClient | None = None

    def accept(self, event: dict[str, Any]) -> bool:
        if self.names is not None and event.get("event") not in self.names:
            return False
        return self.event_filter is None or self.event_filter(event)

    def put(self, event: dict[str, Any]) -> None:
        self._queue.put(event)

    def get(self, timeout: float | None = None) -> dict[str, Any]:
        """The next event; queue.Empty after `timeout` seconds."""
        return self._queue.get(timeout=timeout)

    def empty(self) -> bool:
        return self._queue.empty()

    def __enter__(self) -> EventListener:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._client is not None:
            self._client.remove_listener(self)


EventHandler = Callable[[QmpMessage], None]


class QMPClient:
    """One QMP connection to one QEMU.  Thread-safe: commands from several threads run
    one after the other (QEMU answers them in order anyway)."""

    def __init__(self, name: str = "", *, impl: Qmp | None = None,
                 on_event: EventHandler | None = None, always_ids: bool = False) -> None:
        self.name = name
        self.always_ids = always_ids
        self._orphans = 0       # replies still due to id-less commands that timed out
        self._impl: Qmp = impl if impl is not None else _core.qmp
        self._chan: QmpChannel | None = None
        self._lock = threading.Lock()
        self._state = Runstate.IDLE
        self._next_id = 1
        self._listeners: list[EventListener] = []
        self.on_event = on_event
        self.greeting: dict[str, Any] | None = None
        # Set by the driver's monitor thread: called after the lock is taken for a
        # command / released after it, so that thread does not wake for our replies.
        self.on_busy: Callable[[], None] | None = None
        self.on_idle: Callable[[], None] | None = None
        self.lost: str | None = None

    # -- state --------------------------------------------------------------------------
    @property
    def runstate(self) -> Runstate:
        return self._state

    def fileno(self) -> int:
        chan = self._chan
        if chan is None:
            raise StateError("fileno", self._state, Runstate.RUNNING)
        return chan.fileno()

    def _require(self, what: str, sent: bytes | None = None) -> QmpChannel:
        chan = self._chan
        if self._state is not Runstate.RUNNING or chan is None:
            if self.lost is not None:
                raise Disconnected(f"{what}: {self.lost}", sent)
            raise StateError(what, self._state, Runstate.RUNNING)
        return chan

    # -- connecting ---------------------------------------------------------------------
    def connect(self, path: str, timeout: float = DEFAULT_TIMEOUT, *,
                negotiate: bool = True) -> None:
        """Connect to QEMU's monitor socket, read the greeting, leave capabilities
        negotiation mode."""
        if self._state is not Runstate.IDLE:
            raise StateError("connect", self._state, Runstate.IDLE)
        self._state = Runstate.CONNECTING
        try:
            chan = self._impl.connect(path, int(timeout * 1000))
        except OSError:
            self._state = Runstate.IDLE
            raise
        self._start(chan, timeout, negotiate)

    def adopt(self, fd: int, timeout: float = DEFAULT_TIMEOUT, *,
              negotiate: bool = True) -> None:
        """As connect(), on a unix socket fd already connected (the client owns it)."""
        if self._state is not Runstate.IDLE:
            raise StateError("adopt", self._state, Runstate.IDLE)
        self._state = Runstate.CONNECTING
        self._start(self._impl.adopt(fd), timeout, negotiate)

    def _start(self, chan: QmpChannel, timeout: float, negotiate: bool) -> None:
        try:
            msg = chan.recv(int(timeout * 1000))
            if msg.kind != QMP_GREETING:
                raise ProtocolError(f"expected the QMP greeting, got {msg.line[:200]!r}")
            self.greeting = json.loads(msg.line)
            self._chan = chan
            self._state = Runstate.RUNNING
            self.lost = None
            if negotiate:
                self.execute("qmp_capabilities", timeout=timeout)
        except BaseException as exc:
            self._chan = None
            self._state = Runstate.IDLE
            chan.close()
            if isinstance(exc, TimeoutError):
                raise QMPTimeout("no QMP greeting before the deadline", b"", timeout) from None
            if isinstance(exc, ConnectionResetError):
                raise Disconnected("QEMU closed the monitor before its greeting") from None
            raise

    def close(self) -> None:
        """Close the connection; calls waiting for the lock then fail."""
        self._state = Runstate.DISCONNECTING
        with self._lock:
            chan, self._chan = self._chan, None
            if chan is not None:
                chan.close()
            self._state = Runstate.IDLE
            if self.lost is None:
                self.lost = "the QMP connection was closed"

    # -- commands -----------------------------------------------------------------------
    def _encode(self, cmd: str, args: dict[str, Any] | None, ident: int | None) -> bytes:
        if args:
            req: dict[str, Any] = {"execute": cmd, "arguments": args}
            if ident is not None:
                req["id"] = ident
            return json.dumps(req, separators=(",", ":")).encode() + b"\n"
        if ident is None:
            return b'{"execute":"%s"}\n' % cmd.encode()
        return b'{"execute":"%s","id":%d}\n' % (cmd.encode(), ident)

    def execute_msg(self, cmd: str, args: dict[str, Any] | None = None, *,
                    timeout: float | None = DEFAULT_TIMEOUT,
                    fds: Sequence[int] = ()) -> QmpMessage:
        """Run a command; return its reply message unparsed (ExecuteError on error).
        `fds` are passed with it (SCM_RIGHTS), for getfd and add-fd."""
        data, msg = self._call(lambda ident: self._encode(cmd, args, ident), cmd, timeout,
                               fds=fds)
        if msg.kind == QMP_ERROR:
            raise ExecuteError(data, msg.line)
        return msg

    def execute(self, cmd: str, args: dict[str, Any] | None = None, *,
                timeout: float | None = DEFAULT_TIMEOUT) -> Any:
        """Run a command; return the value of its "return" member."""
        msg = self.execute_msg(cmd, args, timeout=timeout)
        return json.loads(msg.line)["return"]

    def command(self, cmd: str, args: dict[str, Any] | None = None, *,
                timeout: float | None = DEFAULT_TIMEOUT, fds: Sequence[int] = ()) -> None:
        """Run a command whose return value is not needed (it is never parsed)."""
        self.execute_msg(cmd, args, timeout=timeout, fds=fds)

    def execute_text(self, text: str | bytes, *, timeout: float | None = DEFAULT_TIMEOUT) -> str:
        """Send a command given as JSON text; return QEMU's reply as text (as libvirt's
        qemuMonitorCommand passthrough does).  An "id" of our own is added; one the
        caller gave is kept, and the reply is then recognised by it."""
        raw = text.encode() if isinstance(text, str) else bytes(text)
        try:
            info = self._impl.classify(raw)
        except OSError:
            raise ProtocolError(f"not a JSON object: {raw[:200]!r}") from None
        if info.line[info.first:info.first + 1] != b"{":
            # QEMU would answer a non-object without an id; refuse it here instead
            raise ProtocolError(f"a QMP command must be a JSON object: {raw[:200]!r}")
        line = info.line
        if info.has_id == QMP_ID_ABSENT:
            at = info.first + 1
            sep = b"," if info.nonempty else b""
            _, msg = self._call(lambda ident: line + b"\n" if ident is None else
                                line[:at] + b'"id":%d' % ident + sep + line[at:] + b"\n",
                                "command", timeout)
        else:
            want = json.loads(line)["id"]
            _, msg = self._call(lambda ident: line + b"\n", "command", timeout,
                                match=lambda m: _id_of(m) == want)
        return msg.line.decode()

    def _call(self, build: Callable[[int | None], bytes], what: str, timeout: float | None,
              match: Callable[[QmpMessage], bool] | None = None,
              fds: Sequence[int] = ()) -> tuple[bytes, QmpMessage]:
        """Send build(id) and read until its reply; events met on the way are dispatched.

        Replies are routed by id whenever one could be mistaken for another: after a
        command timed out (its reply is still due) or when ids="always".  Otherwise the
        command goes without one and its reply is the next reply -- QEMU answers
        commands in order (QMP spec 2.3; no out-of-band execution here) -- because
        QEMU takes ~17% longer per round trip to echo an integer id (measured here;
        ~50% for libvirt's string ids)."""
        self._lock.acquire()
        try:
            ident: int | None = self._next_id
            self._next_id += 1
            if not self.always_ids and not self._orphans and match is None:
                ident = None
            data = build(ident)
            chan = self._require(what, data)
            busy = self.on_busy
            if busy is not None:
                busy()
            return data, self._roundtrip(chan, data, ident, what, timeout, match, fds)
        finally:
            self._lock.release()
            idle = self.on_idle
            if idle is not None:
                # after the release: the monitor thread's trylock that lost to us is
                # retried once this re-arms its wakeup (see monitor.py)
                idle()

    def _roundtrip(self, chan: QmpChannel, data: bytes, ident: int | None, what: str,
                   timeout: float | None,
                   match: Callable[[QmpMessage], bool] | None,
                   fds: Sequence[int] = ()) -> QmpMessage:
        ms = -1 if timeout is None else max(1, int(timeout * 1000))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            if fds:
                chan.send_fds(data, fds, ms)
                msg = chan.recv(ms)
            else:
                msg = chan.transact(data, ms)
            while True:
                if msg.kind in (QMP_RETURN, QMP_ERROR):
                    if msg.has_id == QMP_ID_ABSENT and self._orphans:
                        self._orphans -= 1      # the late reply of a timed-out command
                    elif ident is None and match is None:
                        if msg.has_id == QMP_ID_ABSENT:
                            return msg
                    elif (msg.has_id == QMP_ID_INT and msg.id == ident) if match is None \
                            else match(msg):
                        return msg
                self._dispatch(msg)
                if deadline is not None:
                    ms = max(1, int((deadline - time.monotonic()) * 1000))
                msg = chan.recv(ms)
        except TimeoutError:
            if ident is None and match is None:
                self._orphans += 1      # its reply may still come: ids until it has
            raise QMPTimeout(f"QEMU did not answer '{what}' within {timeout:g} s",
                             data, timeout or 0.0) from None
        except OSError as exc:
            if exc.errno == errno.EPROTO:
                raise ProtocolError(str(exc)) from None
            self._lost_locked(exc)
            raise Disconnected(f"'{what}' got no reply: {self.lost}", data) from None

    def _lost_locked(self, exc: OSError) -> None:
        if exc.errno in (errno.ECONNRESET, errno.EPIPE):
            self.lost = "QEMU closed the monitor connection"
        else:
            self.lost = f"the monitor connection failed: {exc}"
        chan, self._chan = self._chan, None
        if chan is not None:
            chan.close()
        self._state = Runstate.IDLE

    # -- events -------------------------------------------------------------------------
    def _dispatch(self, msg: QmpMessage) -> None:
        if msg.kind != QMP_EVENT:
            # a reply nobody waits for any more (its command timed out), or noise
            log.debug("%s: dropped QMP message %r", self.name, msg.line[:200])
            return
        handler = self.on_event
        if handler is not None:
            try:
                handler(msg)
            except Exception:
                log.exception("%s: event handler failed on %s", self.name, msg.event)
        if self._listeners:
            event = json.loads(msg.line)
            for lst in list(self._listeners):
                if lst.accept(event):
                    lst.put(event)

    def listen(self, *names: str,
               event_filter: Callable[[dict[str, Any]], bool] | None = None) -> EventListener:
        """A new listener for events with these names (none given: all events)."""
        lst = EventListener(names or None, event_filter)
        lst._client = self
        self._listeners.append(lst)
        return lst

    def remove_listener(self, lst: EventListener) -> None:
        try:
            self._listeners.remove(lst)
        except ValueError:
            pass

    def pump(self, blocking: bool = False) -> bool | None:
        """Read and dispatch what QEMU sent while no command ran: True when done, False
        when the connection is gone, None when a command holds the client (a
        non-blocking caller leaves the reading to it)."""
        if not self._lock.acquire(blocking):
            return None
        try:
            chan = self._chan
            if chan is None:
                return False
            while True:
                try:
                    msg = chan.recv(0)
                except BlockingIOError:
                    return True
                except OSError as exc:
                    if exc.errno == errno.EAGAIN:
                        return True
                    if exc.errno == errno.EPROTO:
                        log.warning("%s: %s", self.name, exc)
                        continue
                    self._lost_locked(exc)
                    return False
                self._dispatch(msg)
        finally:
            self._lock.release()


def _id_of(msg: QmpMessage) -> Any:
    if msg.has_id == QMP_ID_INT:
        return msg.id
    try:
        return json.loads(msg.line).get("id")
    except ValueError:
        return None
