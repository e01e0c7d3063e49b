"""libvirt's six-callback event-loop contract, one test body per behaviour, run on the
default loop over the C poller, over its twin, and on the asyncio adapter (uvloop-style
mixins: the same class body, a different `make()` per implementation)."""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from coretest import impls_in_play
from evloop_harness import AsyncioHarness, Harness, PollHarness, Sockets

from pyvirt import _core

READ, WRITE, ERROR, HANGUP = 1, 2, 4, 8


@pytest.fixture
def socks() -> Iterator[Sockets]:
    s = Sockets()
    yield s
    s.close()


class Contract:
    """What every implementation of the contract must do."""

    def make(self) -> Harness:
        raise NotImplementedError

    @pytest.fixture
    def ev(self, no_fd_leak: None, socks: Sockets) -> Iterator[Harness]:
        h = self.make()
        yield h
        h.close()

    def ticker(self, ev: Harness) -> tuple[int, list[int]]:
        """A 0 ms timer counting loop iterations: the yardstick for "never fires"."""
        ticks: list[int] = []
        return ev.add_timeout(0, lambda t, o: ticks.append(t), None), ticks

    def test_readable(self, ev: Harness, socks: Sockets) -> None:
        a, b = socks.pair()
        got: list[tuple[Any, ...]] = []
        w = ev.add_handle(a.fileno(), READ, lambda *args: got.append(args), "op")
        assert w > 0
        b.send(b"x")
        ev.run_until(lambda: got, "readable callback")
        assert got[0] == (w, a.fileno(), READ, "op")
        assert ev.remove_handle(w) == 0
        assert ev.counts() == (0, 0)

    def test_writable(self, ev: Harness, socks: Sockets) -> None:
        a, _ = socks.pair()
        got: list[int] = []
        w = ev.add_handle(a.fileno(), WRITE, lambda w, fd, events, o: got.append(events))
        ev.run_until(lambda: got, "writable callback")
        assert got[0] == WRITE
        assert ev.remove_handle(w) == 0

    def test_update_handle_enables_and_disables(self, ev: Harness, socks: Sockets) -> None:
        a, b = socks.pair()
        b.send(b"x")
        fired: list[int] = []
        w = ev.add_handle(a.fileno(), 0, lambda w, fd, events, o: fired.append(events))
        t, ticks = self.ticker(ev)
        ev.run_until(lambda: len(ticks) >= 3, "ticks")
        assert fired == []
        ev.update_handle(w, READ)
        ev.run_until(lambda: fired, "enabled watch")
        ev.update_handle(w, 0)
        n, start = len(fired), len(ticks)
        ev.run_until(lambda: len(ticks) >= start + 3, "ticks")
        assert len(fired) == n
        assert ev.remove_handle(w) == 0 and ev.remove_timeout(t) == 0

    def test_remove_self_inside_callback(self, ev: Harness, socks: Sockets) -> None:
        a, b = socks.pair()
        b.send(b"x")
        fired: list[int] = []

        def cb(w: int, fd: int, events: int, o: Any) -> None:
            fired.append(w)
            assert ev.remove_handle(w) == 0
        ev.add_handle(a.fileno(), READ, cb)
        t, ticks = self.ticker(ev)
        ev.run_until(lambda: fired and len(ticks) >= 3, "callback and ticks")
        assert len(fired) == 1
        assert ev.remove_timeout(t) == 0
        assert ev.counts() == (0, 0)

    def test_callback_removes_another_watch(self, ev: Harness, socks: Sockets) -> None:
        (a1, b1), (a2, b2) = socks.pair(), socks.pair()
        b1.send(b"x")
        b2.send(b"x")
        fired: list[int] = []
        watches: dict[int, int] = {}

        def cb(w: int, fd: int, events: int, o: Any) -> None:
            fired.append(w)
            other = watches[o]
            ev.remove_handle(other)
            ev.remove_handle(w)
        watches[1] = ev.add_handle(a1.fileno(), READ, cb, 2)
        watches[2] = ev.add_handle(a2.fileno(), READ, cb, 1)
        t, ticks = self.ticker(ev)
        ev.run_until(lambda: fired and len(ticks) >= 3, "callback and ticks")
        assert len(fired) == 1
        assert ev.remove_timeout(t) == 0
        assert ev.counts() == (0, 0)

    def test_two_watches_on_one_fd(self, ev: Harness, socks: Sockets) -> None:
        a, b = socks.pair()
        b.send(b"x")
        got: dict[int, int] = {}
        w1 = ev.add_handle(a.fileno(), READ, lambda w, fd, e, o: got.__setitem__(w, e))
        w2 = ev.add_handle(a.fileno(), READ | WRITE, lambda w, fd, e, o: got.__setitem__(w, e))
        ev.run_until(lambda: len(got) == 2, "both watches")
        assert got[w1] & READ and got[w2] & (READ | WRITE)
        assert ev.remove_handle(w1) == 0 and ev.remove_handle(w2) == 0
        assert ev.counts() == (0, 0)

    def test_zero_timer_fires_every_iteration(self, ev: Harness) -> None:
        calls: list[tuple[int, Any]] = []
        t = ev.add_timeout(0, lambda timer, o: calls.append((timer, o)), "z")
        assert t > 0
        ev.run_until(lambda: len(calls) >= 5, "zero timer")
        assert set(calls) == {(t, "z")}
        assert ev.remove_timeout(t) == 0

    def test_periodic_timer_repeats(self, ev: Harness) -> None:
        calls: list[int] = []
        t = ev.add_timeout(5, lambda timer, o: calls.append(timer))
        ev.run_until(lambda: len(calls) >= 3, "periodic timer")
        assert ev.remove_timeout(t) == 0

    def test_disabled_timer_then_enabled_then_disabled(self, ev: Harness) -> None:
        calls: list[int] = []
        t = ev.add_timeout(-1, lambda timer, o: calls.append(timer))
        tick, ticks = self.ticker(ev)
        ev.run_until(lambda: len(ticks) >= 3, "ticks")
        assert calls == []
        ev.update_timeout(t, 0)
        ev.run_until(lambda: len(calls) >= 2, "enabled timer")
        ev.update_timeout(t, -1)
        n, start = len(calls), len(ticks)
        ev.run_until(lambda: len(ticks) >= start + 3, "ticks")
        assert len(calls) <= n + 1     # at most one already-scheduled run
        n = len(calls)
        ev.run_until(lambda: len(ticks) >= start + 6, "ticks")
        assert len(calls) == n
        assert ev.remove_timeout(t) == 0 and ev.remove_timeout(tick) == 0

    def test_remove_timer_inside_callback(self, ev: Harness) -> None:
        calls: list[int] = []

        def cb(timer: int, o: Any) -> None:
            calls.append(timer)
            assert ev.remove_timeout(timer) == 0
        ev.add_timeout(0, cb)
        tick, ticks = self.ticker(ev)
        ev.run_until(lambda: calls and len(ticks) >= 3, "timer and ticks")
        assert len(calls) == 1
        assert ev.remove_timeout(tick) == 0
        assert ev.counts() == (0, 0)

    def test_unknown_ids(self, ev: Harness) -> None:
        assert ev.remove_handle(12345) == -1
        assert ev.remove_timeout(12345) == -1
        ev.update_handle(12345, READ)
        ev.update_timeout(12345, 0)

    def test_ids_are_positive_and_never_reused(self, ev: Harness, socks: Sockets) -> None:
        a, _ = socks.pair()
        ws = [ev.add_handle(a.fileno(), 0, lambda *x: None) for _ in range(3)]
        ts = [ev.add_timeout(-1, lambda *x: None) for _ in range(3)]
        assert ev.counts() == (3, 3)
        for w in ws:
            assert ev.remove_handle(w) == 0
        for t in ts:
            assert ev.remove_timeout(t) == 0
        w, t = ev.add_handle(a.fileno(), 0, lambda *x: None), ev.add_timeout(-1, lambda *x: None)
        assert min(ws + ts) > 0 and w not in ws and t not in ts
        assert ev.remove_handle(w) == 0 and ev.remove_timeout(t) == 0
        assert ev.counts() == (0, 0)

    def test_hangup(self, ev: Harness) -> None:
        r, w = os.pipe()
        try:
            got: list[int] = []
            watch = ev.add_handle(r, READ, lambda wt, fd, e, o: got.append(e))
            os.close(w)
            w = -1
            ev.run_until(lambda: got, "hangup")
            assert got[0] & (READ | HANGUP)
            if ev.reports_hangup:
                assert got[0] & HANGUP
            assert ev.remove_handle(watch) == 0
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)

    def test_exceptions_are_logged_and_the_loop_goes_on(
            self, ev: Harness, socks: Sockets, caplog: pytest.LogCaptureFixture) -> None:
        a, b = socks.pair()
        b.send(b"x")
        seen: list[str] = []

        def bad(*args: Any) -> None:
            seen.append("bad")
            raise ValueError("boom")
        w1 = ev.add_handle(a.fileno(), READ, bad)
        w2 = ev.add_handle(a.fileno(), READ, lambda *x: seen.append("good"))
        t = ev.add_timeout(0, bad)
        with caplog.at_level(logging.ERROR):
            ev.run_until(lambda: seen.count("good") >= 2 and seen.count("bad") >= 4, "callbacks")
        assert ev.callback_errors >= 4
        assert any("boom" in (r.exc_text or "") or r.exc_info for r in caplog.records)
        for w in (w1, w2):
            assert ev.remove_handle(w) == 0
        assert ev.remove_timeout(t) == 0

    def test_add_from_another_thread_wakes_the_loop(self, ev: Harness) -> None:
        fired: list[int] = []

        def cb(timer: int, o: Any) -> None:
            if not fired:
                fired.append(timer)
                ev.signal()

        def later() -> None:
            started.wait()
            holder.append(ev.add_timeout(0, cb))
        started, holder = threading.Event(), []
        th = threading.Thread(target=later)
        th.start()
        try:
            started.set()
            ev.wait("timer added from another thread")     # blocks: nothing else registered
        finally:
            th.join()
        assert fired == holder
        assert ev.remove_timeout(holder[0]) == 0

    def test_handle_readiness_from_another_thread(self, ev: Harness, socks: Sockets) -> None:
        a, b = socks.pair()

        def cb(w: int, fd: int, e: int, o: Any) -> None:
            a.recv(16)
            ev.signal()
        w = ev.add_handle(a.fileno(), READ, cb)
        th = threading.Thread(target=b.send, args=(b"x",))
        th.start()
        try:
            ev.wait("readable from another thread")
        finally:
            th.join()
        assert ev.remove_handle(w) == 0

    def test_concurrent_adds_and_removes(self, ev: Harness, socks: Sockets) -> None:
        a, _ = socks.pair()
        errors: list[BaseException] = []
        done = threading.Event()

        def churn() -> None:
            try:
                for i in range(200):
                    w = ev.add_handle(a.fileno(), WRITE if i % 2 else 0, lambda *x: None)
                    t = ev.add_timeout(i % 3 - 1, lambda *x: None)
                    assert ev.remove_timeout(t) == 0
                    assert ev.remove_handle(w) == 0
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
        threads = [threading.Thread(target=churn) for _ in range(3)]
        for th in threads:
            th.start()
        stopper = threading.Thread(target=lambda: ([th.join() for th in threads], done.set()))
        stopper.start()
        ev.run_until(done.is_set, "churning threads")
        stopper.join()
        assert errors == []
        assert ev.counts() == (0, 0)


def _poll_param(name: str) -> object:
    ok = name in impls_in_play() and name in _core.available_impls()
    return pytest.mark.skipif(not ok, reason=f"implementation {name!r} not in play here")


@_poll_param("c")
class TestDefaultLoopOnC(Contract):
    def make(self) -> Harness:
        return PollHarness("c")


@_poll_param("python")
class TestDefaultLoopOnTwin(Contract):
    def make(self) -> Harness:
        return PollHarness("python")


class TestAsyncioAdapter(Contract):
    def make(self) -> Harness:
        return AsyncioHarness()
