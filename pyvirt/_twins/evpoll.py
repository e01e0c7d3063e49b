"""Pure-Python twin of csrc/evpoll.c: watches and timers on select.epoll and a heap.

Same contract as the C poller (documented in csrc/evpoll.h): ids from 1, never
reused; events == 0 means not polled; due timers first, then handles, each in id
order; period 0 fires every iteration, negative disables; re-arm at now + period.
Only the mechanics differ: a dict per fd instead of a fd-indexed table, and a heap
with lazy deletion instead of a scanned timer array.  One difference the runtime
imposes: Python's epoll.poll() retries on EINTR (PEP 475) where the C returns 0.
"""
from __future__ import annotations

import errno
import heapq
import os
import select
import threading
import time
import warnings

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from .abc import (
    EV_BATCH,
    EV_ERROR,
    EV_HANDLE,
    EV_HANGUP,
    EV_MAX_ENTRIES,
    EV_MAX_FD,
    EV_READABLE,
    EV_TIMER,
    EV_WRITABLE,
    error_from_code,
)

__all__ = ["PyPoller", "now_ms"]

_ALL = EV_READABLE | EV_WRITABLE | EV_ERROR | EV_HANGUP


def now_ms() -> int:
    """CLOCK_MONOTONIC in ms, truncated, as pv_ev_now_ms() reads it."""
    return time.monotonic_ns() // 1_000_000


def _from_native(ev: int) -> int:
    return ((EV_READABLE if ev & select.EPOLLIN else 0) |
            (EV_WRITABLE if ev & select.EPOLLOUT else 0) |
            (EV_ERROR if ev & select.EPOLLERR else 0) |
            (EV_HANGUP if ev & select.EPOLLHUP else 0))


class _Fd:
    __slots__ = ("in_epoll", "mask", "watches")

    def __init__(self) -> None:
        self.watches: dict[int, None] = {}  # an ordered set of watch ids
        self.mask = 0
        self.in_epoll = False


class PyPoller:
    """Poller on select.epoll; see pyvirt._twins.abc.Poller and csrc/evpoll.h."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._ep: select.epoll | None = select.epoll()
        self._wake = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._ep.register(self._wake, select.EPOLLIN)
        self._handles: dict[int, list[int]] = {}    # watch -> [fd, events]
        self._fds: dict[int, _Fd] = {}
        self._timers: dict[int, list[int]] = {}     # timer -> [ms, expires, generation]
        self._heap: list[tuple[int, int, int]] = []  # (expires, timer, generation)
        self._next_watch = self._next_timer = 1
        self._manual_now = -1
        self._running = False
        self._leader = 0

    @property
    def closed(self) -> bool:
        return self._ep is None

    def _epoll(self) -> select.epoll:
        ep = self._ep
        if ep is None:
            raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, "the event loop is closed")
        return ep

    def _now(self) -> int:
        return self._manual_now if self._manual_now >= 0 else now_ms()

    def _wake_if_other(self) -> None:
        if self._running and self._leader != threading.get_ident():
            os.eventfd_write(self._wake, 1)

    def _wake_next(self) -> None:
        # wake_next() in evpoll.c: libvirt's GLib loop retires sources via g_idle_add,
        # so its next iteration does not block; callers rely on that.
        os.eventfd_write(self._wake, 1)

    def _fd_sync(self, ep: select.epoll, fd: int) -> None:
        """Make epoll's interest in fd the union of its watches' events (fd_sync)."""
        f = self._fds[fd]
        any_ev = 0
        for w in f.watches:
            any_ev |= self._handles[w][1]
        mask = ((select.EPOLLIN if any_ev & EV_READABLE else 0) |
                (select.EPOLLOUT if any_ev & EV_WRITABLE else 0))
        if not any_ev:
            if f.in_epoll:
                try:
                    ep.unregister(fd)
                except OSError:
                    pass    # fd may be closed already
            f.in_epoll = False
            return
        if f.in_epoll and f.mask == mask:
            return
        try:
            if f.in_epoll:
                try:
                    ep.modify(fd, mask)
                except FileNotFoundError:
                    ep.register(fd, mask)
            else:
                try:
                    ep.register(fd, mask)
                except FileExistsError:
                    ep.modify(fd, mask)
        except OSError as e:
            raise error_from_code(-(e.errno or errno.EIO), f"cannot watch fd {fd}",
                                  ErrorDomain.EVENT) from None
        f.in_epoll, f.mask = True, mask

    def add_handle(self, fd: int, events: int) -> int:
        if fd < 0 or events & ~_ALL:
            rc = -errno.EBADF if fd < 0 else -errno.EINVAL
            raise error_from_code(rc, f"cannot watch fd {fd}", ErrorDomain.EVENT)
        if fd >= EV_MAX_FD:
            raise error_from_code(-errno.ERANGE, f"cannot watch fd {fd}", ErrorDomain.EVENT)
        with self._lock:
            ep = self._epoll()
            if len(self._handles) >= EV_MAX_ENTRIES:
                raise error_from_code(-errno.ENOSPC, "cannot watch fd", ErrorDomain.EVENT)
            watch = self._next_watch
            self._handles[watch] = [fd, events]
            f = self._fds.get(fd)
            if f is None:
                f = self._fds[fd] = _Fd()
            f.watches[watch] = None
            try:
                self._fd_sync(ep, fd)
            except BaseException:
                del self._handles[watch], f.watches[watch]
                if not f.watches and not f.in_epoll:
                    del self._fds[fd]
                raise
            self._next_watch += 1
            self._wake_if_other()
            return watch

    def update_handle(self, watch: int, events: int) -> bool:
        if events & ~_ALL:
            raise error_from_code(-errno.EINVAL, f"cannot update watch {watch}",
                                  ErrorDomain.EVENT)
        with self._lock:
            ep = self._epoll()
            h = self._handles.get(watch)
            if h is None:
                return False
            old, h[1] = h[1], events
            try:
                self._fd_sync(ep, h[0])
            except BaseException:
                h[1] = old
                raise
            if old and old != events:
                self._wake_next()
            else:
                self._wake_if_other()
            return True

    def remove_handle(self, watch: int) -> bool:
        with self._lock:
            ep = self._epoll()
            h = self._handles.pop(watch, None)
            if h is None:
                return False
            f = self._fds[h[0]]
            del f.watches[watch]
            try:
                self._fd_sync(ep, h[0])
            except libvirtError:    # only ever narrows the interest: nothing to undo
                pass
            if not f.watches:
                del self._fds[h[0]]
            self._wake_next()
            return True

    def _arm(self, timer: int, t: list[int], ms: int) -> None:
        t[0] = -1 if ms < 0 else ms
        t[2] += 1   # invalidates heap entries of the previous arming
        if ms >= 0:
            t[1] = self._now() + ms
            heapq.heappush(self._heap, (t[1], timer, t[2]))

    def add_timeout(self, ms: int) -> int:
        with self._lock:
            self._epoll()
            if len(self._timers) >= EV_MAX_ENTRIES:
                raise error_from_code(-errno.ENOSPC, "cannot add a timer", ErrorDomain.EVENT)
            timer = self._next_timer
            self._next_timer += 1
            t = self._timers[timer] = [-1, 0, 0]
            self._arm(timer, t, ms)
            self._wake_if_other()
            return timer

    def update_timeout(self, timer: int, ms: int) -> bool:
        with self._lock:
            self._epoll()
            t = self._timers.get(timer)
            if t is None:
                return False
            was_enabled = t[0] >= 0
            self._arm(timer, t, ms)
            if was_enabled:
                self._wake_next()
            else:
                self._wake_if_other()
            return True

    def remove_timeout(self, timer: int) -> bool:
        with self._lock:
            self._epoll()
            if self._timers.pop(timer, None) is None:
                return False
            self._wake_next()
            return True

    def _live_top(self) -> tuple[int, int, int] | None:
        heap, timers = self._heap, self._timers
        while heap:
            _, timer, gen = heap[0]
            t = timers.get(timer)
            if t is not None and t[2] == gen and t[0] >= 0:
                return heap[0]
            heapq.heappop(heap)
        return None

    def _next_timeout_locked(self, now: int) -> int:
        top = self._live_top()
        if top is None:
            return -1
        return max(0, min(top[0] - now, 2**31 - 1))

    def next_timeout(self) -> int:
        with self._lock:
            self._epoll()
            return self._next_timeout_locked(self._now())

    def set_clock(self, now_ms: int) -> None:
        with self._lock:
            self._manual_now = now_ms if now_ms >= 0 else -1

    def count(self, kind: int) -> int:
        with self._lock:
            self._epoll()
            if kind == EV_HANDLE:
                return len(self._handles)
            if kind == EV_TIMER:
                return len(self._timers)
        raise error_from_code(-errno.EINVAL, "cannot count", ErrorDomain.EVENT)

    def interrupt(self) -> None:
        self._epoll()
        try:
            os.eventfd_write(self._wake, 1)
        except BlockingIOError:
            pass    # counter saturated: a wakeup is pending anyway

    def run_once(self, max_wait_ms: int = -1) -> list[int]:
        with self._run_lock:
            with self._lock:
                ep = self._epoll()
                if self._running:
                    raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT,
                                "another thread is already running this event loop")
                self._running, self._leader = True, threading.get_ident()
                timeout = self._next_timeout_locked(self._now())
            if max_wait_ms >= 0 and (timeout < 0 or timeout > max_wait_ms):
                timeout = max_wait_ms
            try:
                ready = ep.poll(timeout / 1000 if timeout >= 0 else -1, EV_BATCH)
            finally:
                with self._lock:
                    self._running = False
            return self._collect(ready)

    def _collect(self, ready: list[tuple[int, int]]) -> list[int]:
        out: list[int] = []
        with self._lock:
            now, heap, timers = self._now(), self._heap, self._timers
            due = []
            while True:
                top = self._live_top()
                if top is None or top[0] > now:
                    break
                heapq.heappop(heap)
                due.append(top)
            due.sort(key=lambda e: e[1])
            for i, entry in enumerate(due):
                if i >= EV_BATCH:       # no room: stays due for the next iteration
                    heapq.heappush(heap, entry)
                    continue
                timer = entry[1]
                self._arm(timer, timers[timer], timers[timer][0])
                out += (EV_TIMER, timer, -1, 0)
            hrecs: list[tuple[int, int, int]] = []
            room = EV_BATCH - len(out) // 4
            for fd, ev in ready:
                if fd == self._wake:
                    try:
                        os.eventfd_read(self._wake)
                    except BlockingIOError:
                        pass
                    continue
                f = self._fds.get(fd)
                if f is None:
                    continue
                rev = _from_native(ev)
                for w in reversed(f.watches):   # newest first, like the C chain
                    if len(hrecs) >= room:
                        break
                    hev = self._handles[w][1]
                    e = rev & (hev | EV_ERROR | EV_HANGUP)
                    if hev and e:
                        hrecs.append((w, fd, e))
            hrecs.sort()
            for w, fd, e in hrecs:
                out += (EV_HANDLE, w, fd, e)
        return out

    def close(self) -> None:
        ep = self._ep
        if ep is None:
            return
        self.interrupt()
        with self._run_lock, self._lock:
            if self._ep is not None:
                self._ep = None
                ep.close()
                os.close(self._wake)

    def __del__(self) -> None:
        if getattr(self, "_ep", None) is not None:
            warnings.warn(f"unclosed {type(self).__name__}", ResourceWarning, source=self)
            self.close()
