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
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _children() -> list[tuple[int, str, bytes]]:
    """(pid, state, command line) of this process's children."""
    me = os.getpid()
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[1]) == me:
            comm = stat[stat.find(b"(") + 1:stat.rfind(b")")]
            out.append((int(entry), fields[0].decode(), comm + b" " + cmdline))
    return out


def reap_and_find_leftovers() -> list[tuple[int, str]]:
    """Reap exited children; return the watched ones still running."""
    left = []
    for pid, state, cmd in _children():
        if state == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        elif any(w in cmd for w in _WATCHED):
            left.append((pid, cmd.replace(b"\0", b" ").decode(errors="replace")[:120]))
    return left


def kill_and_reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 5
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)


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
