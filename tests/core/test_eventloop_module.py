"""pyvirt.eventloop's registry (virEventRegisterImpl semantics) and libvirtaio's
registration functions."""
from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pyvirt import eventloop, libvirtaio
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import libvirtError


@pytest.fixture(autouse=True)
def clean_registry(no_fd_leak: None) -> Iterator[None]:
    eventloop._reset()
    libvirtaio._current_impl = None
    yield
    eventloop._reset()
    libvirtaio._current_impl = None


def _no_loop(e: libvirtError) -> bool:
    return (e.get_error_code(), e.get_error_domain()) == \
        (ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT) and "no event loop" in str(e)


@pytest.mark.parametrize("call", [
    lambda: eventloop.add_handle(0, 1, lambda *a: None),
    lambda: eventloop.update_handle(1, 1), lambda: eventloop.remove_handle(1),
    lambda: eventloop.add_timeout(0, lambda *a: None),
    lambda: eventloop.update_timeout(1, 0), lambda: eventloop.remove_timeout(1)])
def test_nothing_registered_raises(call: Any) -> None:
    """libvirt's C API returns -1 here; the Pythonic layer raises instead."""
    assert not eventloop.is_registered()
    with pytest.raises(libvirtError) as ei:
        call()
    assert _no_loop(ei.value)


def test_run_default_without_registering() -> None:
    with pytest.raises(libvirtError, match="not registered"):
        eventloop.run_default_impl()
    eventloop.interrupt()   # nothing to wake: no-op


def test_default_impl_is_idempotent_and_runs() -> None:
    eventloop.register_default_impl()
    impl, loop = eventloop.current_impl(), eventloop.default_loop()
    eventloop.register_default_impl()
    assert eventloop.is_registered() and eventloop.current_impl() == impl
    assert eventloop.default_loop() is loop and loop is not None
    fired: list[tuple[int, Any]] = []
    t = eventloop.add_timeout(0, lambda timer, o: fired.append((timer, o)), "x")
    eventloop.run_default_impl()
    assert fired == [(t, "x")]
    assert eventloop.remove_timeout(t) == 0 and eventloop.remove_timeout(t) == -1
    assert loop.counts() == (0, 0)


def test_interrupt_wakes_run_default_impl() -> None:
    eventloop.register_default_impl()
    th = threading.Thread(target=eventloop.run_default_impl)   # nothing registered: blocks
    th.start()
    eventloop.interrupt()
    th.join(10)
    assert not th.is_alive()


def test_user_impl_first_registration_wins(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[Any, ...]] = []

    def rec(name: str, ret: Any = None) -> Any:
        return lambda *a: calls.append((name, *a)) or ret
    impl = (rec("ah", 7), rec("uh"), rec("rh", 0), rec("at", 9), rec("ut"), rec("rt", 0))
    eventloop.register_impl(*impl)
    cb = lambda *a: None
    assert eventloop.add_handle(3, 1, cb, "o") == 7
    eventloop.update_handle(7, 2)
    assert eventloop.remove_handle(7) == 0
    assert eventloop.add_timeout(5, cb) == 9
    eventloop.update_timeout(9, -1)
    assert eventloop.remove_timeout(9) == 0
    assert calls == [("ah", 3, 1, cb, "o"), ("uh", 7, 2), ("rh", 7), ("at", 5, cb, None),
                     ("ut", 9, -1), ("rt", 9)]
    with caplog.at_level(logging.WARNING, logger="pyvirt.eventloop"):
        eventloop.register_impl(*impl)          # the same again: silently a no-op
        assert not caplog.records
        eventloop.register_default_impl()       # another one: ignored, with a warning
        eventloop.register_impl(*reversed(impl))  # type: ignore[arg-type]
    assert [r.getMessage() for r in caplog.records] == \
        ["Ignoring attempt to replace registered event loop"] * 2
    assert eventloop.current_impl() == impl and eventloop.default_loop() is None


def test_user_impl_failure_raises() -> None:
    eventloop.register_impl(lambda *a: -1, lambda *a: None, lambda *a: -1,
                            lambda *a: -1, lambda *a: None, lambda *a: -1)
    with pytest.raises(libvirtError):
        eventloop.add_handle(0, 1, lambda *a: None)
    with pytest.raises(libvirtError):
        eventloop.add_timeout(0, lambda *a: None)
    assert eventloop.remove_handle(1) == -1


def test_register_impl_checks_callables() -> None:
    with pytest.raises(libvirtError) as ei:
        eventloop.register_impl(None, None, None, None, None, None)  # type: ignore[arg-type]
    assert ei.value.get_error_code() == ErrorNumber.INVALID_ARG
    assert not eventloop.is_registered()


def test_asyncio_registration_and_swap() -> None:
    loop1, loop2 = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert libvirtaio.getCurrentImpl() is None
        impl1 = libvirtaio.virEventRegisterAsyncIOImpl(loop=loop1)
        assert libvirtaio.getCurrentImpl() is impl1 and eventloop.is_registered()
        fired: list[int] = []
        t = eventloop.add_timeout(0, lambda timer, o: fired.append(timer))
        loop1.run_until_complete(asyncio.sleep(0.01))
        assert fired and set(fired) == {t}
        assert eventloop.remove_timeout(t) == 0
        loop1.run_until_complete(impl1.drain())
        assert impl1.is_idle()
        # libvirt-python lets a program register a new adapter (say, for a new loop):
        # the trampolines stay registered and now forward to the new one.
        impl2 = libvirtaio.virEventRegisterAsyncIOImpl(loop=loop2)
        assert libvirtaio.getCurrentImpl() is impl2
        t2 = eventloop.add_timeout(-1, lambda *a: None)
        assert impl2.timer_count == 1 and impl1.timer_count == 0
        assert eventloop.remove_timeout(t2) == 0
    finally:
        loop1.close()
        loop2.close()


def test_asyncio_adapter_refused_when_another_loop_is_registered(
        caplog: pytest.LogCaptureFixture) -> None:
    eventloop.register_default_impl()
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.WARNING):
            libvirtaio.virEventRegisterAsyncIOImpl(loop=loop)
        assert "will not receive" in caplog.text
    finally:
        loop.close()


def test_asyncio_default_loop_is_the_running_one() -> None:
    async def main() -> libvirtaio.virEventAsyncIOImpl:
        return libvirtaio.virEventAsyncIOImpl()
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(main()).loop is loop
    finally:
        loop.close()


def test_asyncio_bad_fd_applied_in_the_loop_thread_raises(no_fd_leak: None) -> None:
    import os
    r, w = os.pipe()
    os.close(r)
    os.close(w)

    async def main() -> None:
        impl = libvirtaio.virEventAsyncIOImpl()
        with pytest.raises(libvirtError) as ei:
            impl._add_handle(r, 1, lambda *a: None)
        assert ei.value.get_int1() > 0 and impl.is_idle()
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()


def test_run_default_in_thread_is_one_runner_per_process() -> None:
    assert eventloop.run_default_in_thread("t-loop")
    assert eventloop.run_default_in_thread("t-loop")      # idempotent
    runners = [t for t in threading.enumerate() if t.name == "t-loop"]
    assert len(runners) == 1
    fired = threading.Event()
    eventloop.add_timeout(0, lambda timer, opaque: (eventloop.remove_timeout(timer),
                                                    fired.set()))
    eventloop.interrupt()
    assert fired.wait(10)
    eventloop._reset()                                   # the runner ends with its loop
    runners[0].join(10)
    assert not runners[0].is_alive()


def test_run_default_in_thread_defers_to_a_foreign_impl() -> None:
    eventloop.register_impl(lambda *a: 1, lambda *a: None, lambda *a: 0, lambda *a: 1,
                            lambda *a: None, lambda *a: 0)
    assert eventloop.run_default_in_thread("t-loop2") is False
    assert not [t for t in threading.enumerate() if t.name == "t-loop2"]
