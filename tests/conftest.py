"""Session-wide test plumbing: child processes are accounted for, events have a loop.

The test process is a child subreaper, so daemons and guests that a test's subprocess
leaves behind are reparented here. After every test module, any qemu-system, pyvirtd,
libvirtd, dnsmasq or dropbear process still running under this process is killed by its
PID and the module fails for it; exited children (zombies) are reaped, not reported.

A run stopped with SIGTERM (`timeout`, a CI job's cancel) ends like a Ctrl+C: pytest
tears down the fixtures in play, so the daemons and guests they started are stopped by
their PIDs instead of being left running with no owner.
"""
from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Iterator

import pytest

from tests.procs import children, kill_and_reap

PR_SET_CHILD_SUBREAPER = 36
_WATCHED = (b"qemu-system", b"pyvirtd", b"libvirtd", b"dnsmasq", b"pyvirt.daemon", b"dropbear")


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def pytest_configure(config: pytest.Config) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    signal.signal(signal.SIGTERM, _interrupted)


def reap_and_find_leftovers() -> list[tuple[int, str]]:
    """Reap exited children; return the watched ones still running."""
    left = []
    for c in children():
        if c.state == "Z":
            try:
                os.waitpid(c.pid, os.WNOHANG)
            except ChildProcessError:
                pass
        elif any(w in c.comm + b" " + c.cmdline for w in _WATCHED):
            cmd = (c.comm + b" " + c.cmdline).replace(b"\0", b" ")
            left.append((c.pid, cmd.decode(errors="replace")[:120]))
    return left


@pytest.fixture(scope="module", autouse=True)
def _no_processes_left_by_module() -> Iterator[None]:
    before = {pid for pid, _ in reap_and_find_leftovers()}
    yield
    left = [(pid, cmd) for pid, cmd in reap_and_find_leftovers() if pid not in before]
    kill_and_reap([pid for pid, _ in left])
    assert not left, f"processes left running by this module (killed now): {left}"


@pytest.fixture
def event_loop() -> None:
    """pyvirt's default event loop, running on its own thread (events need a loop).

    Function-scoped on purpose: tests of the loop registry reset it, and asking again
    starts a fresh runner."""
    from pyvirt import eventloop
    eventloop.run_default_in_thread("test-event-loop")
