"""libvirt's event-loop contract on asyncio, so asyncio programs keep their own loop.

Same names as libvirt-python's libvirtaio: virEventRegisterAsyncIOImpl(loop=None)
registers an adapter for `loop` and returns it; getCurrentImpl() returns it.  Watches
become loop.add_reader/add_writer registrations (several watches on one fd share
them), timers become call_soon/call_later chains.

Thread safety: the six callbacks may be called from any thread (libvirt calls them
from its own).  Bookkeeping happens at once under a lock, so ids are returned
immediately; the asyncio side is only ever touched in the loop's thread, directly when
called there, else through loop.call_soon_threadsafe, which also wakes the loop.  The
deferred step re-reads the bookkeeping, so it applies the latest state whatever the
order in which deferred steps run.

Limits of asyncio: it reports readable and writable only; ERROR and HANGUP requests
are accepted but arrive as READABLE/WRITABLE (selectors turn EPOLLERR/EPOLLHUP into
both).  A callback that raises is logged and the loop keeps going.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import threading
import warnings
from collections.abc import Callable
from typing import Any

from . import eventloop
from ._twins.abc import error_from_code
from .constants import ErrorDomain, ErrorNumber, EventHandleType
from .errors import error

__all__ = ["getCurrentImpl", "virEventAsyncIOImpl", "virEventRegisterAsyncIOImpl"]

_READ, _WRITE = int(EventHandleType.READABLE), int(EventHandleType.WRITABLE)
_ALL = _READ | _WRITE | int(EventHandleType.ERROR) | int(EventHandleType.HANGUP)


class _Watch:
    __slots__ = ("cb", "events", "fd", "opaque")

    def __init__(self, fd: int, events: int, cb: eventloop.HandleCallback, opaque: Any) -> None:
        self.fd, self.events, self.cb, self.opaque = fd, events, cb, opaque


class _Timer:
    __slots__ = ("cb", "gen", "handle", "ms", "opaque")

    def __init__(self, cb: eventloop.TimeoutCallback, opaque: Any) -> None:
        self.ms, self.cb, self.opaque = -1, cb, opaque
        self.gen = 0        # bumped by every change; a stale scheduled fire is ignored
        self.handle: asyncio.Handle | None = None


def _default_loop() -> asyncio.AbstractEventLoop:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        with warnings.catch_warnings():     # "no current event loop" on newer Pythons
            warnings.simplefilter("ignore", DeprecationWarning)
            return asyncio.get_event_loop_policy().get_event_loop()


class virEventAsyncIOImpl:
    """libvirt event-loop implementation on an asyncio loop (default: the current one)."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.loop = loop if loop is not None else _default_loop()
        self.log = logging.getLogger("pyvirt.libvirtaio")
        self._lock = threading.Lock()
        self._watches: dict[int, _Watch] = {}
        self._fds: dict[int, dict[int, None]] = {}      # fd -> its watch ids, in order
        self._registered: dict[int, tuple[bool, bool]] = {}  # fd -> (reader, writer) in asyncio
        self._timers: dict[int, _Timer] = {}
        self._next_watch = self._next_timer = 1
        self._pending = 0
        self.callback_errors = 0

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} watches={len(self._watches)} "
                f"timers={len(self._timers)} pending={self._pending}>")

    # ---- registration and state ----

    def register(self) -> virEventAsyncIOImpl:
        """Make this the implementation behind pyvirt.eventloop; returns self."""
        global _current_impl
        _current_impl = self
        eventloop.register_impl(_add_handle, _update_handle, _remove_handle,
                                _add_timeout, _update_timeout, _remove_timeout)
        if eventloop.current_impl() != _TRAMPOLINES:
            self.log.warning("another event loop implementation is registered; "
                             "this asyncio adapter will not receive libvirt's events")
        return self

    @property
    def handle_count(self) -> int:
        return len(self._watches)

    @property
    def timer_count(self) -> int:
        return len(self._timers)

    def is_idle(self) -> bool:
        """True when no watch, timer or deferred change is left (nothing leaked)."""
        return not self._watches and not self._timers and not self._pending

    async def drain(self) -> None:
        """Wait until changes made from other threads have been applied to the loop."""
        while self._pending:
            await asyncio.sleep(0)

    def close(self) -> None:
        """Remove every watch and timer."""
        for watch in list(self._watches):
            self._remove_handle(watch)
        for timer in list(self._timers):
            self._remove_timeout(timer)

    def _in_loop_thread(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _apply(self, fn: Callable[[int], None], arg: int) -> None:
        """Run fn(arg) in the loop's thread: now if we are in it, else via the loop."""
        if self._in_loop_thread():
            fn(arg)
            return
        with self._lock:
            self._pending += 1
        try:
            self.loop.call_soon_threadsafe(self._deferred, fn, arg)
        except RuntimeError:    # loop closed: nothing left to update
            with self._lock:
                self._pending -= 1

    def _deferred(self, fn: Callable[[int], None], arg: int) -> None:
        try:
            fn(arg)
        except Exception:   # logged; later updates must still run
            self.log.exception("libvirtaio: deferred update of %d failed", arg)
        finally:
            with self._lock:
                self._pending -= 1

    def _sync_fd(self, fd: int) -> None:
        """Make asyncio's reader/writer for fd match the watches on it (loop thread)."""
        with self._lock:
            want_r = want_w = False
            for w in self._fds.get(fd, ()):
                ev = self._watches[w].events
                want_r |= bool(ev & _READ)
                want_w |= bool(ev & _WRITE)
            have_r, have_w = self._registered.get(fd, (False, False))
        if want_r and not have_r:
            self.loop.add_reader(fd, self._on_ready, fd, _READ)
        elif have_r and not want_r:
            self.loop.remove_reader(fd)
        if want_w and not have_w:
            self.loop.add_writer(fd, self._on_ready, fd, _WRITE)
        elif have_w and not want_w:
            self.loop.remove_writer(fd)
        with self._lock:
            if want_r or want_w:
                self._registered[fd] = (want_r, want_w)
            else:
                self._registered.pop(fd, None)

    def _on_ready(self, fd: int, bit: int) -> None:
        with self._lock:
            watches = list(self._fds.get(fd, ()))
        for w in watches:
            h = self._watches.get(w)    # gone if an earlier callback removed it
            if h is None or not h.events & bit:
                continue
            try:
                h.cb(w, fd, bit, h.opaque)
            except Exception:  # noqa: BLE001 - a failing callback must not stop the loop
                self._failed("handle", w, h.cb)

    def _sync_timer(self, timer: int) -> None:
        """(Re)schedule a timer from its current period (loop thread)."""
        with self._lock:
            t = self._timers.get(timer)
            if t is None:
                return
            if t.handle is not None:
                t.handle.cancel()
                t.handle = None
            ms, gen = t.ms, t.gen
        if ms == 0:     # "every iteration": call_soon runs it in the next one
            t.handle = self.loop.call_soon(self._fire, timer, gen)
        elif ms > 0:
            t.handle = self.loop.call_later(ms / 1000, self._fire, timer, gen)

    def _fire(self, timer: int, gen: int) -> None:
        t = self._timers.get(timer)
        if t is None or t.gen != gen:
            return
        t.handle = None
        try:
            t.cb(timer, t.opaque)
        except Exception:  # noqa: BLE001 - a failing callback must not stop the loop
            self._failed("timer", timer, t.cb)
        # Periodic: re-arm unless the callback changed or removed the timer.
        if self._timers.get(timer) is t and t.gen == gen and t.handle is None:
            self._sync_timer(timer)

    def _failed(self, kind: str, ident: int, cb: Callable[..., Any]) -> None:
        self.callback_errors += 1
        self.log.exception("libvirtaio: %s %d callback %r raised; the loop keeps running",
                           kind, ident, cb)

    # ---- the six callbacks (libvirt-python's libvirtaio names) ----

    def _add_handle(self, fd: int, events: int, cb: eventloop.HandleCallback,
                    opaque: Any = None) -> int:
        if fd < 0 or events & ~_ALL or not callable(cb):
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.EVENT,
                        f"bad watch: fd {fd}, events {events}, callback {cb!r}")
        if self.loop.is_closed():
            raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, "the asyncio loop is closed")
        with self._lock:
            watch = self._next_watch
            self._next_watch += 1
            self._watches[watch] = _Watch(fd, events, cb, opaque)
            self._fds.setdefault(fd, {})[watch] = None
        try:
            self._apply(self._sync_fd, fd)
        except OSError as e:    # applied at once (loop thread) and refused: undo
            self._forget_watch(watch)
            self._apply(self._sync_fd, fd)
            raise error_from_code(-(e.errno or errno.EINVAL), f"cannot watch fd {fd}",
                                  ErrorDomain.EVENT) from None
        return watch

    def _update_handle(self, watch: int, events: int) -> None:
        with self._lock:
            h = self._watches.get(watch)
            if h is None:
                self.log.debug("ignoring update of unknown watch %d", watch)
                return
            h.events = events
        self._apply(self._sync_fd, h.fd)

    def _forget_watch(self, watch: int) -> _Watch | None:
        with self._lock:
            h = self._watches.pop(watch, None)
            if h is not None:
                ws = self._fds[h.fd]
                del ws[watch]
                if not ws:
                    del self._fds[h.fd]
            return h

    def _remove_handle(self, watch: int) -> int:
        h = self._forget_watch(watch)
        if h is None:
            return -1
        self._apply(self._sync_fd, h.fd)
        return 0

    def _add_timeout(self, timeout: int, cb: eventloop.TimeoutCallback,
                     opaque: Any = None) -> int:
        if not callable(cb):
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.EVENT,
                        "timeout callback is not callable")
        with self._lock:
            timer = self._next_timer
            self._next_timer += 1
            t = self._timers[timer] = _Timer(cb, opaque)
            t.ms = -1 if timeout < 0 else timeout
        self._apply(self._sync_timer, timer)
        return timer

    def _update_timeout(self, timer: int, timeout: int) -> None:
        with self._lock:
            t = self._timers.get(timer)
            if t is None:
                self.log.debug("ignoring update of unknown timer %d", timer)
                return
            t.ms, t.gen = (-1 if timeout < 0 else timeout), t.gen + 1
        self._apply(self._sync_timer, timer)

    def _remove_timeout(self, timer: int) -> int:
        with self._lock:
            t = self._timers.pop(timer, None)
            if t is None:
                return -1
            t.gen += 1
            handle, t.handle = t.handle, None
        if handle is not None:
            # Cancel in the loop thread; a fire that slips through sees the bumped gen.
            self._apply(lambda _: handle.cancel(), timer)
        return 0


# ---- the registered adapter and its module-level trampolines ----

_current_impl: virEventAsyncIOImpl | None = None


def _impl() -> virEventAsyncIOImpl:
    impl = _current_impl
    if impl is None:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT,
                    "no asyncio event loop registered")
    return impl


# libvirt keeps the first registered implementation for good (see pyvirt.eventloop);
# like libvirt-python, registering a new adapter swaps what these forward to.
def _add_handle(fd: int, events: int, cb: eventloop.HandleCallback, opaque: Any) -> int:
    return _impl()._add_handle(fd, events, cb, opaque)


def _update_handle(watch: int, events: int) -> None:
    _impl()._update_handle(watch, events)


def _remove_handle(watch: int) -> int:
    return _impl()._remove_handle(watch)


def _add_timeout(timeout: int, cb: eventloop.TimeoutCallback, opaque: Any) -> int:
    return _impl()._add_timeout(timeout, cb, opaque)


def _update_timeout(timer: int, timeout: int) -> None:
    _impl()._update_timeout(timer, timeout)


def _remove_timeout(timer: int) -> int:
    return _impl()._remove_timeout(timer)


_TRAMPOLINES = eventloop.EventImpl(_add_handle, _update_handle, _remove_handle,
                                   _add_timeout, _update_timeout, _remove_timeout)


def virEventRegisterAsyncIOImpl(loop: asyncio.AbstractEventLoop | None = None
                                ) -> virEventAsyncIOImpl:
    """Register an asyncio adapter for `loop` (default: the current loop); return it."""
    return virEventAsyncIOImpl(loop=loop).register()


def getCurrentImpl() -> virEventAsyncIOImpl | None:
    """The adapter last registered by virEventRegisterAsyncIOImpl, or None."""
    return _current_impl
