"""This test process's children, read from /proc, and how to get rid of them by PID.

The test process is a child subreaper (tests/conftest.py), so the children include the
orphans of daemons and guests that a test's subprocesses left behind."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import NamedTuple

__all__ = ["Child", "children", "kill_and_reap"]


class Child(NamedTuple):
    pid: int
    state: str          # /proc's state letter: "Z" for an exited, unreaped child
    comm: bytes
    cmdline: bytes      # NUL-separated, as /proc has it


def children(parent: int | None = None) -> list[Child]:
    """The processes whose parent is `parent` (this process by default)."""
    me = os.getpid() if parent is None else parent
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        if int(fields[1]) != me:
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        comm = stat[stat.find(b"(") + 1:stat.rfind(b")")]
        out.append(Child(int(entry), fields[0].decode(), comm, cmdline))
    return out


def kill_and_reap(pids: list[int], timeout: float = 5.0) -> None:
    """SIGKILL each PID, then reap those that are this process's children."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)
