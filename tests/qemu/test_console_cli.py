"""`pyvirsh console` end to end: on a real pseudo-terminal, attached to a booting test
guest's serial console; typed input reaches the guest's shell, Ctrl+] leaves, the guest
keeps running."""
from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.constants import DomainState
from pyvirt.testing import GuestImage

from .helpers import guest_xml

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


def _read_until(fd: int, want: bytes, buf: bytearray, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while want not in buf:
        assert time.monotonic() < deadline, f"no {want!r} in {bytes(buf[-400:])!r}"
        if select.select([fd], [], [], 0.5)[0]:
            try:
                buf += os.read(fd, 4096)
            except OSError:       # EIO: the other side closed
                break


def test_pyvirsh_console_on_a_pty(root: Path, guest: GuestImage) -> None:
    uri = f"qemu:///embed?root={root}"
    with pyvirt.connect(uri) as c:
        c.define_domain(guest_xml("con1", guest, root / "con1.log"))
    # one owner per root: the test lets go, and pyvirsh starts the guest and attaches
    main, sub = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pyvirt.cli", "-c", uri,
                             "start con1; console con1"], stdin=sub, stdout=sub, stderr=sub,
                            start_new_session=True, close_fds=True)
    os.close(sub)
    buf = bytearray()
    try:
        _read_until(main, b"Escape character is ^]", buf, 30)
        _read_until(main, guest.ready_line.encode(), buf)
        os.write(main, b"echo console-$((6*7))\r")
        _read_until(main, b"console-42", buf, 30)
        os.write(main, b"\x1d")                       # Ctrl+]
        assert proc.wait(timeout=30) == 0, bytes(buf[-400:])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(main)
    assert b"Connected to domain 'con1'" in buf
    with pyvirt.connect(uri) as c:
        dom = c.lookup_domain_by_name("con1")
        assert dom.state().state is DomainState.RUNNING   # leaving the console leaves it
        dom.destroy()
