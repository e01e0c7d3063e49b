"""Drivers that let one test body run on every event-loop implementation.

A harness exposes the six libvirt callbacks of one implementation plus ways to run it:
run_until(predicate) for polling loops, and wait(flag) which blocks without polling, so
a missing wakeup hangs (caught by a watchdog) instead of passing by accident.  Time
limits here are hang guards, never assertions about speed.
"""
from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from pyvirt import _core
from pyvirt.eventloop import PollLoop
from pyvirt.libvirtaio import virEventAsyncIOImpl

HANG_GUARD_S = 10.0


class PollHarness:
    """PollLoop on the C poller or its twin."""

    name = "poll"
    reports_hangup = True

    def __init__(self, impl_name: str) -> None:
        self.loop = PollLoop(_core.get_impl(impl_name).new_poller())
        self.name = f"poll-{impl_name}"
        self._signalled = threading.Event()
        (self.add_handle, self.update_handle, self.remove_handle, self.add_timeout,
         self.update_timeout, self.remove_timeout) = self.loop.as_impl()

    def run_until(self, pred: Callable[[], Any], what: str = "condition") -> None:
        deadline = time.monotonic() + HANG_GUARD_S
        while not pred():
            if time.monotonic() > deadline:
                pytest.fail(f"hang guard: no {what} after {HANG_GUARD_S}s")
            self.loop.run_once(100)

    def signal(self) -> None:
        """Called by a test callback: what wait() waits for."""
        self._signalled.set()

    def wait(self, what: str = "wakeup") -> None:
        """Run blocking iterations (no cap) until signal(); a lost wakeup would hang,
        so a watchdog interrupts the loop and fails the test instead."""
        guard = threading.Timer(HANG_GUARD_S, self.loop.interrupt)
        guard.start()
        try:
            start = time.monotonic()
            while not self._signalled.is_set():
                if time.monotonic() - start > HANG_GUARD_S:
                    pytest.fail(f"hang guard: no {what}")
                self.loop.run_once(-1)
        finally:
            guard.cancel()
            guard.join()
            self._signalled.clear()

    def counts(self) -> tuple[int, int]:
        c_side = self.loop.counts()
        assert c_side == (self.loop.handle_count, self.loop.timer_count)
        return c_side

    @property
    def callback_errors(self) -> int:
        return self.loop.callback_errors

    def close(self) -> None:
        self.loop.close()


class AsyncioHarness:
    """The asyncio adapter on a fresh asyncio loop."""

    name = "asyncio"
    reports_hangup = False

    def __init__(self) -> None:
        self.aloop = asyncio.new_event_loop()
        self.impl = virEventAsyncIOImpl(loop=self.aloop)
        self._signalled = threading.Event()
        self._fut: asyncio.Future[None] | None = None
        i = self.impl
        self.add_handle, self.update_handle, self.remove_handle = \
            i._add_handle, i._update_handle, i._remove_handle
        self.add_timeout, self.update_timeout, self.remove_timeout = \
            i._add_timeout, i._update_timeout, i._remove_timeout

    def run_until(self, pred: Callable[[], Any], what: str = "condition") -> None:
        async def poll() -> None:
            while not pred():
                await asyncio.sleep(0.001)
        try:
            self.aloop.run_until_complete(asyncio.wait_for(poll(), HANG_GUARD_S))
        except TimeoutError:
            pytest.fail(f"hang guard: no {what} after {HANG_GUARD_S}s")

    def signal(self) -> None:
        """Called by a test callback (in the loop thread): resolves what wait() awaits."""
        self._signalled.set()
        if self._fut is not None and not self._fut.done():
            self._fut.set_result(None)

    def wait(self, what: str = "wakeup") -> None:
        """Run the loop, without polling, until signal()."""
        self._fut = self.aloop.create_future()
        try:
            if not self._signalled.is_set():
                self.aloop.run_until_complete(asyncio.wait_for(self._fut, HANG_GUARD_S))
        except TimeoutError:
            pytest.fail(f"hang guard: no {what}")
        finally:
            self._fut = None
            self._signalled.clear()

    def counts(self) -> tuple[int, int]:
        self.aloop.run_until_complete(self.impl.drain())
        return self.impl.handle_count, self.impl.timer_count

    @property
    def callback_errors(self) -> int:
        return self.impl.callback_errors

    def close(self) -> None:
        self.impl.close()
        self.aloop.run_until_complete(self.impl.drain())
        self.aloop.run_until_complete(asyncio.sleep(0))
        self.aloop.close()


Harness = PollHarness | AsyncioHarness


class Sockets:
    """socketpairs that are closed when the test ends."""

    def __init__(self) -> None:
        self._all: list[socket.socket] = []

    def pair(self) -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair()
        self._all += (a, b)
        return a, b

    def close(self) -> None:
        for s in self._all:
            s.close()
