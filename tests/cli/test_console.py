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
