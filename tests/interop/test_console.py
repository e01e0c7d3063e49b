"""Guest consoles over the wire: the real virsh, libvirt-python and pyvirsh through pyvirtd.

pyvirtd (private root) runs the real test guest (pyvirt.testing.guest: a kernel and
busybox shell that prints a readiness line on its serial console); each client attaches
to that console over libvirt's stream packets, sees the guest's output, types a command
and sees its answer. virsh and pyvirsh need a terminal: they run on a pty. Every
process is stopped by PID, every QEMU is killed by its UUID at the end.
"""
from __future__ import annotations

import os
import select
import shutil
import subprocess
import sys
import time
import uuid as _uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.testing import GuestImage, build_guest
from tests.qemu.helpers import guest_xml

from .peers import PyvirtdProcess, kill_guests, stop_pid

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

CTRL_RIGHT_BRACKET = b"\x1d"


@pytest.fixture(scope="module")
def image() -> GuestImage:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    return build_guest()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, image: GuestImage
           ) -> Iterator[PyvirtdProcess]:
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd-console")) as d:
        yield d


@pytest.fixture
def guest(daemon: PyvirtdProcess, image: GuestImage, tmp_path: Path) -> Iterator[str]:
    """A defined (not started) guest with a pty serial console logged to
    tmp_path/console.log; its name."""
    u = str(_uuid.uuid4())
    name = f"con-{u[:8]}"
    conn = pyvirt.connect(daemon.uri("qemu", "/system"))
    try:
        dom = conn.define_domain(guest_xml(name, image, tmp_path / "console.log", uuid=u))
        yield name
        if dom.is_active():
            dom.destroy()
        dom.undefine()
    finally:
        conn.close()
        kill_guests({u})


def _booted(daemon: PyvirtdProcess, name: str, image: GuestImage, log: Path) -> None:
    """Start the guest through the wire and wait for its readiness line in its log."""
    with pyvirt.connect(daemon.uri("qemu", "/system")) as conn:
        conn.lookup_domain_by_name(name).create()
    deadline = time.monotonic() + 90
    while image.ready_line not in (log.read_text(errors="replace") if log.exists() else ""):
        assert time.monotonic() < deadline, "the guest did not get ready"
        time.sleep(0.2)


class Terminal:
    """A program on a pty, as a person at a terminal runs it."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True, env=env)
        os.close(slave)
        self.seen = b""

    def expect(self, what: bytes, timeout: float = 90) -> bytes:
        deadline = time.monotonic() + timeout
        while what not in self.seen:
            assert time.monotonic() < deadline, f"no {what!r} in {self.seen[-1500:]!r}"
            if select.select([self.master], [], [], 0.5)[0]:
                try:
                    self.seen += os.read(self.master, 65536)
                except OSError:       # EIO: the program exited
                    assert what in self.seen, f"exited without {what!r}: {self.seen[-1500:]!r}"
        return self.seen

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.proc.wait(timeout)
        finally:
            stop_pid(self.proc)          # still running after the timeout: by its PID

    def close(self) -> None:
        stop_pid(self.proc)
        os.close(self.master)


def test_virsh_console_through_pyvirtd(daemon: PyvirtdProcess, guest: str,
                                      image: GuestImage) -> None:
    if shutil.which("virsh") is None:
        pytest.skip("virsh is not installed")
    # start --console attaches at once: virsh sees the boot, then the readiness line
    term = Terminal(["virsh", "-c", daemon.uri("qemu", "/system"), "start", "--console",
                     guest])
    try:
        term.expect(b"Escape character is ^]")
        term.expect(image.ready_line.encode())
        term.type(b"echo virsh-$((6*7))\r")
        term.expect(b"virsh-42")
        term.type(CTRL_RIGHT_BRACKET)
        assert term.wait() == 0, term.seen[-1500:]
    finally:
        term.close()
    # the session ended cleanly: a new one needs no --force
    term = Terminal(["virsh", "-c", daemon.uri("qemu", "/system", "tcp"), "console", guest])
    try:
        term.expect(b"Escape character is ^]")
        time.sleep(0.5)             # virsh sets its terminal raw after the banner
        term.type(b"echo again-$((6*7))\r")
        term.expect(b"again-42")
        term.type(CTRL_RIGHT_BRACKET)
        assert term.wait() == 0
    finally:
        term.close()


LV_SCRIPT = r"""
import sys, threading, time, libvirt
uri, name = sys.argv[1], sys.argv[2]
libvirt.virEventRegisterDefaultImpl()     # before opening, as virsh does
libvirt.virEventAddTimeout(500, lambda timer, opaque: None, None)   # the loop never sleeps long
conn = libvirt.open(uri)
dom = conn.lookupByName(name)
# blocking: newStream + openConsole + send + recv, then finish
st = conn.newStream(0)
dom.openConsole(None, st, 0)
st.send(b"echo lv-$((6*7))\r")
buf = b""
deadline = time.time() + 60
while b"lv-42" not in buf and time.time() < deadline:
    buf += st.recv(4096)
st.finish()
print("blocking", b"lv-42" in buf)
# a second session while none is open needs no force; a third is refused
st = conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
dom.openConsole(None, st, 0)
try:
    dom.openConsole(None, conn.newStream(0), 0)
    print("refused", False)
except libvirt.libvirtError as e:
    print("refused", "Active console session" in str(e))
# non-blocking with the event loop, as virsh console does
got = []
def on_event(stream, events, opaque):
    if events & libvirt.VIR_STREAM_EVENT_READABLE:
        data = stream.recv(4096)
        if data != -2:
            got.append(data)
first = st.recv(4096)
# -2 (nothing yet) or what the console had already, never its end (b"")
print("nonblocking recv", first == -2 or (isinstance(first, bytes) and first != b""))
st.eventAddCallback(libvirt.VIR_STREAM_EVENT_READABLE, on_event, None)
st.send(b"echo ev-$((6*7))\r")
deadline = time.time() + 60
while b"ev-42" not in b"".join(got) and time.time() < deadline:
    libvirt.virEventRunDefaultImpl()
st.eventRemoveCallback()
st.abort()
print("events", b"ev-42" in b"".join(got))
conn.close()
"""


def test_libvirt_python_stream_console_through_pyvirtd(daemon: PyvirtdProcess, guest: str,
                                                       image: GuestImage, tmp_path: Path) -> None:
    pytest.importorskip("libvirt")
    _booted(daemon, guest, image, tmp_path / "console.log")
    p = subprocess.run(["/usr/bin/python3", "-c", LV_SCRIPT, daemon.uri("qemu", "/system"),
                        guest], capture_output=True, text=True, timeout=180, check=False)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split("\n")[:4] == ["blocking True", "refused True", "nonblocking recv True",
                                        "events True"], p.stdout + p.stderr


def test_pyvirsh_console_over_qemu_system(daemon: PyvirtdProcess, guest: str,
                                          image: GuestImage, tmp_path: Path) -> None:
    _booted(daemon, guest, image, tmp_path / "console.log")
    env = dict(os.environ, PYVIRT_SYSTEM_SOCKET=daemon.sock)
    term = Terminal([sys.executable, "-m", "pyvirt.cli", "-c", "qemu:///system", "console",
                     guest], env)
    try:
        term.expect(b"Escape character is ^]")
        term.expect(b"PYVIRT-COUNTER")      # the console is relayed (the terminal is raw)
        term.type(b"echo pv-$((6*7))\r")
        term.expect(b"pv-42")
        term.type(CTRL_RIGHT_BRACKET)
        assert term.wait() == 0, term.seen[-1500:]
    finally:
        term.close()


def _answer(st: pyvirt.Stream, word: str, timeout: float = 60) -> None:
    """Type `echo WORD-$((6*7))` on the console; wait for WORD-42 to come back."""
    st.sendall(f"echo {word}-$((6*7))\r".encode())
    want, seen = f"{word}-42".encode(), b""
    deadline = time.monotonic() + timeout
    while want not in seen:
        assert time.monotonic() < deadline, seen[-800:]
        got = st.recv(4096)
        assert got, "the console ended"
        seen += got


def test_pyvirt_api_console_and_disconnect_cleanup(daemon: PyvirtdProcess, guest: str,
                                                   image: GuestImage, tmp_path: Path) -> None:
    _booted(daemon, guest, image, tmp_path / "console.log")
    conn = pyvirt.connect(daemon.uri("qemu", "/system", "tcp"))
    _answer(conn.lookup_domain_by_name(guest).open_console(), "api")
    # the client goes away with the console still open: pyvirtd aborts the stream and
    # frees the console, so the next session needs no force
    conn.close()
    with pyvirt.connect(daemon.uri("qemu", "/system")) as c2:
        d2 = c2.lookup_domain_by_name(guest)
        deadline = time.monotonic() + 10
        while True:
            try:
                s2 = d2.open_console(None, 0)
                break
            except pyvirt.libvirtError as e:
                assert "Active console session" in str(e)
                assert time.monotonic() < deadline, "the old session was never released"
                time.sleep(0.1)
        _answer(s2, "again")
        s2.finish()
        assert s2.closed


def _echo_then_destroy(uri: str, image: GuestImage, log: Path) -> None:
    """Start a guest paused, attach, resume; see it boot and answer; then destroy it and
    see the console end (the end of data, then a confirmed finish)."""
    u = str(_uuid.uuid4())
    with pyvirt.connect(uri) as conn:
        try:
            dom = conn.create_domain(guest_xml(f"end-{u[:8]}", image, log, uuid=u),
                                     1)          # paused: attach before it prints
            st = dom.open_console()
            dom.resume()
            seen = b""
            deadline = time.monotonic() + 90
            while image.ready_line.encode() not in seen:
                assert time.monotonic() < deadline, seen[-800:]
                seen += st.recv(4096) or b""
            _answer(st, "end")
            dom.destroy()
            while st.recv(4096):
                assert time.monotonic() < deadline + 30, "the console did not end"
            st.finish()
        finally:
            kill_guests({u})


def test_console_ends_when_the_guest_goes(daemon: PyvirtdProcess, image: GuestImage,
                                         tmp_path: Path) -> None:
    _echo_then_destroy(daemon.uri("qemu", "/system"), image, tmp_path / "c.log")


@pytest.mark.interop
def test_remote_driver_consoles_of_the_real_libvirtd(libvirtd: Any, image: GuestImage,
                                                     tmp_path: Path) -> None:
    # libvirtd's test driver has no console: its NO_SUPPORT comes back unchanged
    with pyvirt.connect(libvirtd.uri("test", "/default")) as conn:
        with pytest.raises(pyvirt.libvirtError) as e:
            conn.lookup_domain_by_name("test").open_console()
        assert (e.value.get_error_code(), e.value.get_error_domain()) == (
            ErrorNumber.NO_SUPPORT, ErrorDomain.DOMAIN)
    # its qemu driver's console, through pyvirt's remote driver
    _echo_then_destroy(libvirtd.uri("qemu", "/system"), image, tmp_path / "c.log")
