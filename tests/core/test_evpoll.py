"""The poller hot path (C epoll poller and its twin) below pyvirt.eventloop: records,
ordering, the scripted clock, error codes, lifecycle; and a differential test feeding
both pollers the same scripted sequence of fd events and timers."""
from __future__ import annotations

import errno
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from coretest import CORE_SETTINGS
from hypothesis import given
from hypothesis import strategies as st

from pyvirt import _core
from pyvirt._twins.abc import EV_BATCH, EV_HANDLE, EV_MAX_FD, EV_TIMER, Poller
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import libvirtError
from pyvirt.eventloop import PollLoop

READ, WRITE, ERROR, HANGUP = 1, 2, 4, 8
T, H = EV_TIMER, EV_HANDLE


def quads(recs: list[int]) -> list[tuple[int, ...]]:
    return [tuple(recs[i:i + 4]) for i in range(0, len(recs), 4)]


@pytest.fixture
def poller(impl: _core.Impl, no_fd_leak: None) -> Iterator[Poller]:
    p = impl.new_poller()
    yield p
    p.close()


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    ps = [socket.socketpair() for _ in range(4)]
    yield ps
    for a, b in ps:
        a.close()
        b.close()


def test_records_timers_first_then_handles_by_id(poller: Poller, pairs: Any) -> None:
    for _, b in pairs[:3]:
        b.send(b"x")
    w3 = poller.add_handle(pairs[2][0].fileno(), READ)    # ids follow creation order
    w1 = poller.add_handle(pairs[0][0].fileno(), READ)
    w2 = poller.add_handle(pairs[1][0].fileno(), READ)
    t1, t2 = poller.add_timeout(0), poller.add_timeout(0)
    assert quads(poller.run_once(0)) == [
        (T, t1, -1, 0), (T, t2, -1, 0), (H, w3, pairs[2][0].fileno(), READ),
        (H, w1, pairs[0][0].fileno(), READ), (H, w2, pairs[1][0].fileno(), READ)]


def test_scripted_clock(poller: Poller) -> None:
    poller.set_clock(1000)
    t = poller.add_timeout(50)
    assert poller.add_timeout(-1) > t
    assert poller.next_timeout() == 50
    poller.set_clock(1030)
    assert (poller.next_timeout(), poller.run_once(0)) == (20, [])
    poller.set_clock(1075)
    assert poller.next_timeout() == 0
    assert quads(poller.run_once(0)) == [(T, t, -1, 0)]
    assert poller.next_timeout() == 50      # re-armed at now + period: no catching up
    assert poller.update_timeout(t, 10)
    assert poller.next_timeout() == 10      # an update restarts the period from now
    assert poller.update_timeout(t, -1) and poller.next_timeout() == -1


def test_events_zero_is_not_polled_and_error_hangup_always_reported(poller: Poller) -> None:
    r, w = os.pipe()
    try:
        watch = poller.add_handle(r, 0)
        os.close(w)
        w = -1
        assert poller.run_once(0) == []
        assert poller.update_handle(watch, HANGUP)       # HANGUP only: still reported
        assert quads(poller.run_once(0)) == [(H, watch, r, HANGUP)]
        assert poller.update_handle(watch, WRITE)        # not asked, but HANGUP comes
        assert quads(poller.run_once(0)) == [(H, watch, r, HANGUP)]
        assert poller.remove_handle(watch)
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


def test_unknown_ids(poller: Poller) -> None:
    assert not poller.remove_handle(7) and not poller.update_handle(7, READ)
    assert not poller.remove_timeout(7) and not poller.update_timeout(7, 0)


def _raises(code: int, err: int | None = None) -> Any:
    class Check:
        def __enter__(self) -> None:
            return None

        def __exit__(self, tp: object, e: object, tb: object) -> bool:
            assert isinstance(e, libvirtError), e
            assert (e.get_error_code(), e.get_error_domain()) == (code, ErrorDomain.EVENT)
            if err is not None:
                assert e.get_int1() == err and os.strerror(err) in str(e)
            return True
    return Check()


def test_bad_fds_and_events_change_nothing(poller: Poller) -> None:
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with _raises(ErrorNumber.SYSTEM_ERROR, errno.EBADF):
        poller.add_handle(-1, READ)
    with _raises(ErrorNumber.SYSTEM_ERROR, errno.EBADF):
        poller.add_handle(r, READ)                     # closed
    with tempfile.TemporaryFile() as f, _raises(ErrorNumber.SYSTEM_ERROR, errno.EPERM):
        poller.add_handle(f.fileno(), READ)            # epoll refuses regular files
    with _raises(ErrorNumber.INVALID_ARG):
        poller.add_handle(0, 16)
    with _raises(ErrorNumber.INVALID_ARG):
        poller.add_handle(EV_MAX_FD, READ)
    assert (poller.count(H), poller.count(T)) == (0, 0)
    watch = poller.add_handle(r, 0)     # not polled, so not checked: as libvirt
    with _raises(ErrorNumber.SYSTEM_ERROR, errno.EBADF):
        poller.update_handle(watch, READ)
    assert poller.remove_handle(watch)


def test_interrupt_wakes_a_blocked_wait_and_is_remembered(poller: Poller) -> None:
    poller.interrupt()
    assert poller.run_once(-1) == []    # pending wakeup: returns at once
    th = threading.Timer(0.05, poller.interrupt)
    th.start()
    try:
        assert poller.run_once(-1) == []
    finally:
        th.join()


def _next_wait_returns(poller: Poller) -> None:
    """run_once(-1) must return by itself; a watchdog turns a hang into a failure."""
    guard_fired = threading.Event()

    def guard() -> None:
        guard_fired.set()
        poller.interrupt()
    t = threading.Timer(10, guard)
    t.start()
    try:
        poller.run_once(-1)
    finally:
        t.cancel()
        t.join()
    assert not guard_fired.is_set(), "the wait blocked"


def test_retiring_a_registration_wakes_the_next_wait(poller: Poller) -> None:
    """libvirt's GLib loop retires removed/replaced sources with g_idle_add(), so its
    next iteration does not block; programs rely on it (a timer removing itself, then
    "run the loop a few times").  Both pollers behave the same."""
    r, w = os.pipe()
    try:
        t = poller.add_timeout(60_000)
        assert poller.remove_timeout(t)
        _next_wait_returns(poller)
        t = poller.add_timeout(60_000)
        assert poller.update_timeout(t, 120_000)
        _next_wait_returns(poller)
        assert poller.update_timeout(t, -1)
        _next_wait_returns(poller)
        assert poller.remove_timeout(t)
        _next_wait_returns(poller)
        watch = poller.add_handle(r, READ)          # never readable here
        assert poller.update_handle(watch, 0)
        _next_wait_returns(poller)
        assert poller.update_handle(watch, READ)
        assert poller.remove_handle(watch)
        _next_wait_returns(poller)
    finally:
        os.close(r)
        os.close(w)


def test_close_while_another_thread_waits(impl: _core.Impl, no_fd_leak: None) -> None:
    p = impl.new_poller()
    out: list[Any] = []
    th = threading.Thread(target=lambda: out.append(p.run_once(-1)))
    th.start()
    p.close()
    th.join(10)
    assert not th.is_alive() and out == [[]]
    assert p.closed
    with _raises(ErrorNumber.INTERNAL_ERROR):
        p.add_timeout(0)
    p.close()   # idempotent


def test_unclosed_poller_warns(impl: _core.Impl, no_fd_leak: None) -> None:
    with pytest.warns(ResourceWarning, match="unclosed"):
        impl.new_poller()   # dropped at once: __del__ warns and closes it


def test_grows_and_compacts(poller: Poller, pairs: Any) -> None:
    fds = [a.fileno() for a, _ in pairs]
    ws = [poller.add_handle(fds[i % 4], (i % 3) & (READ | WRITE)) for i in range(600)]
    ts = [poller.add_timeout(i % 5 - 1) for i in range(2000)]
    assert (poller.count(H), poller.count(T)) == (600, 2000)
    for w in ws[::2] + ws[1::2]:
        assert poller.remove_handle(w)
    for t in reversed(ts):
        assert poller.remove_timeout(t)
    assert (poller.count(H), poller.count(T)) == (0, 0)


def test_records_are_capped_per_iteration(poller: Poller, pairs: Any) -> None:
    a = pairs[0][0]
    poller.set_clock(5)
    ts = [poller.add_timeout(0) for _ in range(EV_BATCH + 10)]
    first = quads(poller.run_once(0))
    assert len(first) == EV_BATCH and [r[1] for r in first] == ts[:EV_BATCH]
    for t in ts:
        poller.remove_timeout(t)
    ws = [poller.add_handle(a.fileno(), WRITE) for _ in range(EV_BATCH + 10)]
    assert len(quads(poller.run_once(0))) == EV_BATCH
    for w in ws:
        poller.remove_handle(w)


def test_default_loop_refuses_a_second_runner(impl: _core.Impl, no_fd_leak: None) -> None:
    with PollLoop(impl.new_poller()) as loop:
        th = threading.Thread(target=loop.run_once, args=(-1,))
        th.start()
        try:
            while not loop._running.locked():   # the thread is inside run_once
                threading.Event().wait(0.001)
            with _raises(ErrorNumber.INTERNAL_ERROR):
                loop.run_once(0)
        finally:
            loop.interrupt()
            th.join()


# ---- differential: one script, two pollers, the same records ----

OPS = st.lists(st.one_of(
    st.tuples(st.just("add_t"), st.integers(-2, 30)),
    st.tuples(st.just("upd_t"), st.integers(1, 8), st.integers(-2, 30)),
    st.tuples(st.just("rm_t"), st.integers(1, 8)),
    st.tuples(st.just("add_h"), st.integers(0, 3), st.integers(0, 15)),
    st.tuples(st.just("upd_h"), st.integers(1, 8), st.integers(0, 15)),
    st.tuples(st.just("rm_h"), st.integers(1, 8)),
    st.tuples(st.just("send"), st.integers(0, 3)),
    st.tuples(st.just("drain"), st.integers(0, 3)),
    st.tuples(st.just("shut"), st.integers(0, 3)),
    st.tuples(st.just("tick"), st.integers(0, 40)),
    st.tuples(st.just("run"), st.just(0)),
), max_size=50)


@CORE_SETTINGS
@given(script=OPS)
def test_differential_scripted(both: tuple[_core.Impl, _core.Impl], script: Any) -> None:
    c, py = both[0].new_poller(), both[1].new_poller()
    pairs = [socket.socketpair() for _ in range(4)]
    shut: set[int] = set()
    now = 10_000
    try:
        for p in (c, py):
            p.set_clock(now)
        for op, *args in script:
            if op == "send" and args[0] not in shut:
                pairs[args[0]][1].send(b"x")
            elif op == "drain":
                pairs[args[0]][0].setblocking(False)
                try:
                    pairs[args[0]][0].recv(4096)
                except BlockingIOError:
                    pass
            elif op == "shut" and args[0] not in shut:
                pairs[args[0]][1].shutdown(socket.SHUT_WR)
                shut.add(args[0])
            elif op == "tick":
                now += args[0]
                for p in (c, py):
                    p.set_clock(now)
            elif op in ("add_t", "upd_t", "rm_t", "add_h", "upd_h", "rm_h", "run"):
                results = []
                for p in (c, py):
                    if op == "add_t":
                        results.append(p.add_timeout(args[0]))
                    elif op == "upd_t":
                        results.append(p.update_timeout(*args))
                    elif op == "rm_t":
                        results.append(p.remove_timeout(args[0]))
                    elif op == "add_h":
                        results.append(p.add_handle(pairs[args[0]][0].fileno(), args[1]))
                    elif op == "upd_h":
                        results.append(p.update_handle(*args))
                    elif op == "rm_h":
                        results.append(p.remove_handle(args[0]))
                    else:
                        results.append(quads(p.run_once(0)))
                assert results[0] == results[1], (op, args)
            assert c.next_timeout() == py.next_timeout()
            assert (c.count(H), c.count(T)) == (py.count(H), py.count(T))
    finally:
        c.close()
        py.close()
        for a, b in pairs:
            a.close()
            b.close()
