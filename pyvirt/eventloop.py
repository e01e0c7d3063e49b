"""libvirt's event-loop contract: the registered implementation and the default loop.

libvirt asks applications for six callbacks (virEventRegisterImpl): add/update/remove
a watch on a file descriptor, add/update/remove a timer.  This module keeps the one
registered implementation and dispatches the module-level add_handle() ... to it, and
provides the default implementation, PollLoop, on the C epoll poller or its twin
(whichever pyvirt._core selected), run one iteration at a time by run_default_impl().
asyncio programs use pyvirt.libvirtaio instead.

Behaviour taken from libvirt (src/util/virevent.c, vireventpoll.c):
- the first registration wins; later attempts to register another implementation are
  ignored with a logged warning ("the event loop implementation cannot be changed");
- watch and timer ids are > 0; remove_*() of an unknown id returns -1, update_*() of an
  unknown id does nothing;
- callbacks are cb(watch, fd, events, opaque) and cb(timer, opaque); a callback that
  raises is logged and the loop keeps running.
Where libvirt's C API returns -1 because no implementation is registered, this
Pythonic layer raises libvirtError (VIR_ERR_INTERNAL_ERROR from VIR_FROM_EVENT); the
C-named layer turns that back into -1.  All functions are thread-safe.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Self

from . import _core
from ._twins.abc import EV_HANDLE, EV_TIMER, Poller
from .constants import ErrorDomain, ErrorNumber, EventHandleType
from .errors import error, libvirtError

__all__ = [
    "EventHandleType",
    "EventImpl",
    "HandleCallback",
    "PollLoop",
    "TimeoutCallback",
    "add_handle",
    "add_timeout",
    "current_impl",
    "default_loop",
    "interrupt",
    "is_registered",
    "register_default_impl",
    "register_impl",
    "remove_handle",
    "remove_timeout",
    "run_default_impl",
    "run_default_in_thread",
    "update_handle",
    "update_timeout",
]

_log = logging.getLogger("pyvirt.eventloop")

HandleCallback = Callable[[int, int, int, Any], None]
"""cb(watch, fd, events, opaque): events are EventHandleType bits."""
TimeoutCallback = Callable[[int, Any], None]
"""cb(timer, opaque)."""


class EventImpl(NamedTuple):
    """The six callbacks of virEventRegisterImpl."""

    add_handle: Callable[[int, int, HandleCallback, Any], int]
    update_handle: Callable[[int, int], None]
    remove_handle: Callable[[int], int]
    add_timeout: Callable[[int, TimeoutCallback, Any], int]
    update_timeout: Callable[[int, int], None]
    remove_timeout: Callable[[int], int]


def _arg_error(detail: str) -> libvirtError:
    return error(ErrorNumber.INVALID_ARG, ErrorDomain.EVENT, detail)


class PollLoop:
    """libvirt's default event loop: callbacks on top of a Poller (C or twin).

    The poller does the waiting and bookkeeping; this class keeps the Python callbacks
    and calls them.  Debug counters (handle_count, timer_count, callback_errors) let
    tests assert that nothing leaked.
    """

    def __init__(self, poller: Poller | None = None) -> None:
        self._poller = poller if poller is not None else _core.new_poller()
        self._handles: dict[int, tuple[HandleCallback, Any]] = {}
        self._timers: dict[int, tuple[TimeoutCallback, Any]] = {}
        # Held across "poller call + dict update" so that dispatch, which reads the dicts
        # without it, can wait for an add in progress on another thread (see _late).
        self._lock = threading.Lock()
        self._running = threading.Lock()
        self.callback_errors = 0

    @property
    def poller(self) -> Poller:
        return self._poller

    @property
    def closed(self) -> bool:
        return self._poller.closed

    @property
    def handle_count(self) -> int:
        return len(self._handles)

    @property
    def timer_count(self) -> int:
        return len(self._timers)

    def add_handle(self, fd: int, events: int, cb: HandleCallback, opaque: Any = None) -> int:
        if not callable(cb):
            raise _arg_error("handle callback is not callable")
        with self._lock:
            watch = self._poller.add_handle(fd, events)
            self._handles[watch] = (cb, opaque)
        return watch

    def update_handle(self, watch: int, events: int) -> None:
        if not self._poller.update_handle(watch, events):
            _log.debug("ignoring update of unknown watch %d", watch)

    def remove_handle(self, watch: int) -> int:
        with self._lock:
            self._handles.pop(watch, None)
            return 0 if self._poller.remove_handle(watch) else -1

    def add_timeout(self, timeout: int, cb: TimeoutCallback, opaque: Any = None) -> int:
        if not callable(cb):
            raise _arg_error("timeout callback is not callable")
        with self._lock:
            timer = self._poller.add_timeout(timeout)
            self._timers[timer] = (cb, opaque)
        return timer

    def update_timeout(self, timer: int, timeout: int) -> None:
        if not self._poller.update_timeout(timer, timeout):
            _log.debug("ignoring update of unknown timer %d", timer)

    def remove_timeout(self, timer: int) -> int:
        with self._lock:
            self._timers.pop(timer, None)
            return 0 if self._poller.remove_timeout(timer) else -1

    def as_impl(self) -> EventImpl:
        """This loop's six callbacks, for register_impl()."""
        return EventImpl(self.add_handle, self.update_handle, self.remove_handle,
                         self.add_timeout, self.update_timeout, self.remove_timeout)

    def interrupt(self) -> None:
        """Make a blocked (or the next) run_once() return; callable from any thread."""
        self._poller.interrupt()

    def _late(self, table: dict[int, Any], ident: int) -> Any:
        # A record whose id is not in the table yet: either removed (skip it) or being
        # added right now on another thread; the lock tells which.
        with self._lock:
            return table.get(ident)

    def run_once(self, max_wait_ms: int = -1) -> int:
        """Wait for ready fds / due timers (at most max_wait_ms, -1: no cap) and call
        their callbacks; return how many were called."""
        if not self._running.acquire(blocking=False):
            raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT,
                        "another thread is already running the event loop")
        try:
            recs = self._poller.run_once(max_wait_ms)
            handles, timers = self._handles, self._timers
            called = 0
            # Records are flat (kind, id, fd, events) quadruples.  An id whose entry is
            # gone was removed by an earlier callback of this batch: skip it.
            for i in range(0, len(recs), 4):
                ident = recs[i + 1]
                if recs[i] == EV_HANDLE:
                    h = handles.get(ident) or self._late(handles, ident)
                    if h is None:
                        continue
                    try:
                        h[0](ident, recs[i + 2], recs[i + 3], h[1])
                    except Exception:  # noqa: BLE001 - a failing callback must not stop the loop
                        self._failed("handle", ident, h[0])
                else:
                    t = timers.get(ident) or self._late(timers, ident)
                    if t is None:
                        continue
                    try:
                        t[0](ident, t[1])
                    except Exception:  # noqa: BLE001 - a failing callback must not stop the loop
                        self._failed("timer", ident, t[0])
                called += 1
            return called
        finally:
            self._running.release()

    def _failed(self, kind: str, ident: int, cb: Callable[..., Any]) -> None:
        self.callback_errors += 1
        _log.exception("event loop: %s %d callback %r raised; the loop keeps running",
                       kind, ident, cb)

    def counts(self) -> tuple[int, int]:
        """(watches, timers) as the poller counts them (the C side for the C poller)."""
        return self._poller.count(EV_HANDLE), self._poller.count(EV_TIMER)

    def close(self) -> None:
        """Forget every watch and timer and free the poller (fds are not closed)."""
        with self._lock:
            self._handles.clear()
            self._timers.clear()
        self._poller.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# ---- the registered implementation ----

_lock = threading.Lock()
_impl: EventImpl | None = None
_default: PollLoop | None = None


def _no_loop() -> libvirtError:
    return error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, "no event loop registered")


def register_impl(add_handle: Callable[[int, int, HandleCallback, Any], int],
                  update_handle: Callable[[int, int], None],
                  remove_handle: Callable[[int], int],
                  add_timeout: Callable[[int, TimeoutCallback, Any], int],
                  update_timeout: Callable[[int, int], None],
                  remove_timeout: Callable[[int], int]) -> None:
    """Register an event-loop implementation (virEventRegisterImpl).

    The first registration wins; registering the same six callables again is a no-op,
    registering others is ignored with a warning, as libvirt does.
    """
    global _impl
    impl = EventImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout,
                     remove_timeout)
    if not all(callable(f) for f in impl):
        raise _arg_error("every event-loop callback must be callable")
    with _lock:
        if _impl is None:
            _impl = impl
            return
        if _impl == impl:
            return
    _log.warning("Ignoring attempt to replace registered event loop")


def register_default_impl() -> None:
    """Register the default loop (virEventRegisterDefaultImpl); idempotent."""
    global _impl, _default
    with _lock:
        if _default is not None and _impl == _default.as_impl():
            return
        if _impl is not None:
            _log.warning("Ignoring attempt to replace registered event loop")
            return
        _default = PollLoop()
        _impl = _default.as_impl()


def run_default_impl() -> None:
    """Run one iteration of the default loop, blocking until something is ready
    (virEventRunDefaultImpl)."""
    loop = _default
    if loop is None:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT,
                    "the default event loop is not registered")
    loop.run_once()


_runner: threading.Thread | None = None


def run_default_in_thread(name: str = "pyvirt-eventloop") -> bool:
    """Register the default loop and run it on one daemon thread for the rest of the
    process (the thread every libvirt-python program that wants events starts itself).

    Idempotent: later calls find the thread already running. Returns False, starting
    nothing, when another implementation is registered (its owner runs it).
    """
    global _runner
    register_default_impl()
    with _lock:
        loop = _default
        if loop is None or _impl != loop.as_impl():
            return False
        if _runner is not None and _runner.is_alive():
            return True

        def run() -> None:
            # ends when the loop is replaced (only _reset does that, for tests)
            while _default is loop:
                loop.run_once()
        _runner = threading.Thread(target=run, name=name, daemon=True)
        _runner.start()
        return True


def is_registered() -> bool:
    """Whether an implementation is registered."""
    return _impl is not None


def current_impl() -> EventImpl | None:
    """The registered implementation, if any."""
    return _impl


def default_loop() -> PollLoop | None:
    """The default loop once register_default_impl() created it (for its counters)."""
    return _default


def interrupt() -> None:
    """Wake the default loop if it is blocked in run_default_impl(); thread-safe."""
    loop = _default
    if loop is not None:
        loop.interrupt()


def _registered() -> EventImpl:
    impl = _impl
    if impl is None:
        raise _no_loop()
    return impl


def add_handle(fd: int, events: int, cb: HandleCallback, opaque: Any = None) -> int:
    """Watch fd for events (EventHandleType bits); return the watch id (> 0)."""
    watch = _registered().add_handle(fd, events, cb, opaque)
    if watch < 0:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, f"cannot watch fd {fd}")
    return watch


def update_handle(watch: int, events: int) -> None:
    """Change the events a watch waits for (0: none); unknown watches are ignored."""
    _registered().update_handle(watch, events)


def remove_handle(watch: int) -> int:
    """Stop a watch: 0, or -1 if it does not exist."""
    return _registered().remove_handle(watch)


def add_timeout(timeout: int, cb: TimeoutCallback, opaque: Any = None) -> int:
    """Call cb every `timeout` ms (0: every iteration, -1: disabled); return the timer id."""
    timer = _registered().add_timeout(timeout, cb, opaque)
    if timer < 0:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, "cannot add a timer")
    return timer


def update_timeout(timer: int, timeout: int) -> None:
    """Change a timer's period (restarting it from now); unknown timers are ignored."""
    _registered().update_timeout(timer, timeout)


def remove_timeout(timer: int) -> int:
    """Delete a timer: 0, or -1 if it does not exist."""
    return _registered().remove_timeout(timer)


def _reset() -> None:
    """Unregister everything and close the default loop.  For tests only: libvirt
    itself never unregisters an implementation."""
    global _impl, _default, _runner
    with _lock:
        loop, _default, _impl = _default, None, None
        runner, _runner = _runner, None
    if loop is not None:
        if runner is not None and runner.is_alive():
            loop.interrupt()        # the runner sees the loop replaced and ends
            runner.join(timeout=5)
        loop.close()
