"""The console relay (terminal <-> console stream, escape character) on a socketpair and
pipes, and the console command's refusals."""
from __future__ import annotations

import os
import socket
import threading

import pytest

from pyvirt.cli.console import escape_byte, relay

from .conftest import Result, needs_virsh, run_virsh


def test_escape_byte() -> None:
    assert escape_byte("^]") == 0x1D
    assert escape_byte("^a") == 0x01
    assert escape_byte("x") == ord("x")


def test_relay_copies_both_ways_until_escape() -> None:
    guest, console = socket.socketpair()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        guest.sendall(b"login: ")
        os.write(in_w, b"root\n")
        got = []
        t = threading.Thread(target=lambda: got.append(relay(console, in_r, out_w, 0x1D)))
        t.start()
        assert os.read(out_r, 100) == b"login: "
        assert guest.recv(100) == b"root\n"
        os.write(in_w, b"ls\x1dignored")
        t.join(60)
        assert got == ["escape"]
        assert guest.recv(100) == b"ls"
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
        guest.close()
        console.close()


def test_relay_ends_when_the_console_closes() -> None:
    guest, console = socket.socketpair()
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    try:
        guest.sendall(b"bye")
        guest.close()
        assert relay(console, in_r, out_w, 0x1D) == "eof"
        assert os.read(out_r, 10) == b"bye"
    finally:
        for fd in (in_r, in_w, out_r, out_w):
            os.close(fd)
        console.close()


@needs_virsh
@pytest.mark.interop
@pytest.mark.parametrize("cmd", ["console nope", "destroy test; console test",
                                 "console test", "create foo.xml --console",
                                 "destroy test; start test --console"])
def test_refusals_as_virsh(pyvirsh: object, cmd: str) -> None:
    # without a terminal both refuse before any console is opened
    args = ["-c", "test:///default", cmd]
    ours: Result = pyvirsh(args)  # type: ignore[operator]
    assert ours == run_virsh(args)


def _on_a_terminal(argv: list[str]) -> tuple[str, int]:
    """Run argv with a pseudo-terminal as its stdin/stdout; its output and exit status."""
    import pty
    import select

    from .conftest import _env
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child
        os.execve(argv[0], argv, _env())
    out = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:   # the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return out.decode(), os.waitstatus_to_exitcode(status)


@needs_virsh
@pytest.mark.interop
def test_console_on_a_terminal_as_virsh() -> None:
    """On a terminal both announce the console, then fail to open it the same way (the
    test driver has no consoles; pyvirt has no console streams yet)."""
    import sys

    from .conftest import VIRSH
    assert VIRSH is not None
    args = ["-c", "test:///default", "console test"]
    theirs, their_rc = _on_a_terminal([VIRSH, *args])
    ours, our_rc = _on_a_terminal([sys.executable, "-m", "pyvirt.cli", *args])
    # libvirt's client may add a polkit notice on a terminal; it is not virsh's output
    theirs = "".join(line for line in theirs.splitlines(True) if "polkit" not in line)
    assert (ours, our_rc) == (theirs, their_rc)
    assert "virDomainOpenConsole" in ours
