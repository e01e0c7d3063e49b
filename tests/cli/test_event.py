"""The `event` command receiving real lifecycle events.

test:///default lives per process, and `event` blocks the shell while it waits, so no
single virsh process can both wait for and cause an event; pyvirsh cannot either. So:
- pyvirsh runs in-process (pyvirt.cli.main.main in a thread, on its own streams) and the
  test changes the domain through pyvirt in the same process, once pyvirsh says it is
  waiting (the "event-wait" hook, so nothing depends on timing);
- the real virsh waits in one process while a second one changes the domain, both
  talking to a private, unprivileged libvirtd that serves test:///default (one shared
  state); that run gives the reference text pyvirsh's output is compared with.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.cli.main import main

from .conftest import VIRSH, run_virsh

T = ["-c", "test:///default"]
WAIT = 60.0   # generous bound on waits for a thread or daemon; never asserted on


class InProcess:
    """pyvirsh running `args` in a thread; `ready` is set once it waits for events."""

    def __init__(self, args: list[str]) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()
        self.ready = threading.Event()
        self.rc: list[int] = []

        def hook(point: str) -> None:
            if point == "event-wait":
                self.ready.set()

        self.thread = threading.Thread(
            target=lambda: self.rc.append(main(args, stdout=self.out, stderr=self.err,
                                               hooks=[hook])), daemon=True)
        self.thread.start()
        assert self.ready.wait(WAIT), self.err.getvalue()

    def finish(self) -> tuple[str, str, int]:
        self.thread.join(WAIT)
        assert not self.thread.is_alive()
        return self.out.getvalue(), self.err.getvalue(), self.rc[0]


def _redefine(conn: pyvirt.Connection) -> None:
    """Define `test` again with its own config: one 'Defined Updated' event."""
    dom = conn.lookup_domain_by_name("test")
    conn.define_domain(dom.xml_desc(2))   # VIR_DOMAIN_XML_INACTIVE


def test_loop_with_timeout_sees_changes_made_meanwhile() -> None:
    run = InProcess([*T, "event", "--loop", "--timeout", "3", "--event", "lifecycle"])
    with pyvirt.connect("test:///default") as conn:
        dom = conn.lookup_domain_by_name("test")
        dom.suspend()
        dom.resume()
        out, err, rc = run.finish()
    assert (out, err, rc) == (
        ("event 'lifecycle' for domain 'test': Suspended Paused\n"
         "event 'lifecycle' for domain 'test': Resumed Unpaused\n"
         "event loop timed out\n"
         "events received: 2\n\n"), "", 0)


def test_loop_filters_by_domain_and_type() -> None:
    foo = Path(__file__).with_name("data") / "foo.xml"
    run = InProcess([*T, "event", "--loop", "--timeout", "3", "--domain", "test", "--all"])
    with pyvirt.connect("test:///default") as conn:
        other = conn.create_domain(foo.read_text())   # not 'test': filtered out
        other.destroy()
        conn.lookup_domain_by_name("test").suspend()
        out, err, rc = run.finish()
    assert (out, err, rc) == (("event 'lifecycle' for domain 'test': Suspended Paused\n"
                               "event loop timed out\nevents received: 1\n\n"), "", 0)


def test_timestamps() -> None:
    run = InProcess([*T, "event", "--event", "lifecycle", "--timestamp"])
    with pyvirt.connect("test:///default") as conn:
        conn.lookup_domain_by_name("test").suspend()
        out, err, rc = run.finish()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+0000: event 'lifecycle' for "
                        r"domain 'test': Suspended Paused\nevents received: 1\n\n", out), out
    assert (err, rc) == ("", 0)


def test_ctrl_c_interrupts_the_wait() -> None:
    """Ctrl-C (SIGINT) while waiting ends the wait as virsh's 'event loop interrupted';
    raised from the wait hook itself, in the main thread, so it lands during the wait."""
    out, err = io.StringIO(), io.StringIO()

    def interrupt(point: str) -> None:
        if point == "event-wait":
            signal.raise_signal(signal.SIGINT)

    rc = main([*T, "event", "--loop", "--all"], stdout=out, stderr=err, hooks=[interrupt])
    assert (out.getvalue(), err.getvalue(), rc) == (
        "event loop interrupted\nevents received: 0\n\n", "", 1)


def one_shot_in_process() -> tuple[str, str, int]:
    run = InProcess([*T, "event", "--event", "lifecycle"])
    with pyvirt.connect("test:///default") as conn:
        _redefine(conn)
        return run.finish()


def test_one_shot_prints_the_first_event_only() -> None:
    assert one_shot_in_process() == (
        "event 'lifecycle' for domain 'test': Defined Updated\nevents received: 1\n\n", "", 0)


# -- the reference: real virsh against a private libvirtd ------------------------------
@pytest.fixture(scope="module")
def libvirtd_uri() -> Iterator[str]:
    """test:///default served by an unprivileged libvirtd of our own (session mode, as
    user nobody, all its files under a temporary directory); stopped by its PID."""
    daemon = shutil.which("libvirtd") or "/usr/sbin/libvirtd"
    setpriv = shutil.which("setpriv")
    if VIRSH is None or not os.path.exists(daemon) or setpriv is None or os.geteuid() != 0:
        pytest.skip("needs virsh, libvirtd, setpriv and root (to run libvirtd as nobody)")
    top = tempfile.mkdtemp(prefix="pyvirsh-libvirtd-")
    os.chmod(top, 0o755)
    for sub in ("run", "home", "config"):
        os.mkdir(os.path.join(top, sub))
        os.chown(os.path.join(top, sub), 65534, 65534)
    env = {"PATH": "/usr/sbin:/usr/bin:/bin", "HOME": f"{top}/home",
           "XDG_RUNTIME_DIR": f"{top}/run", "XDG_CONFIG_HOME": f"{top}/config",
           "XDG_CACHE_HOME": f"{top}/home/.cache"}
    with open(os.path.join(top, "libvirtd.log"), "w") as log:
        proc = subprocess.Popen([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                                 daemon], env=env, stdout=log, stderr=log, cwd=top)
    sock = f"{top}/run/libvirt/libvirt-sock"
    deadline = time.monotonic() + WAIT
    while not os.path.exists(sock) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        if not os.path.exists(sock):
            pytest.skip("the private libvirtd did not start (see its log)")
        yield f"test+unix:///default?socket={sock}"
    finally:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(top, ignore_errors=True)


@pytest.mark.interop
@pytest.mark.slow
def test_one_shot_same_as_virsh_across_processes(libvirtd_uri: str, tmp_path: Path) -> None:
    assert VIRSH is not None
    dumped = run_virsh(["-c", libvirtd_uri, "dumpxml", "--inactive", "test"])
    assert dumped.rc == 0, dumped.err
    xml = tmp_path / "test.xml"
    xml.write_text(dumped.out)
    waiter = subprocess.Popen([VIRSH, "-c", libvirtd_uri, "event", "--event", "lifecycle"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # keep redefining until the waiter has seen one: each define is one identical event,
    # so what it prints does not depend on when it started listening
    for _ in range(500):
        if waiter.poll() is not None:
            break
        run_virsh(["-c", libvirtd_uri, "define", str(xml)])
    out, err = waiter.communicate(timeout=WAIT)
    theirs = (out, err, waiter.returncode)
    assert theirs == (("event 'lifecycle' for domain 'test': Defined Updated\n"
                       "events received: 1\n\n"), "", 0)
    assert one_shot_in_process() == theirs


@pytest.mark.interop
@pytest.mark.slow
def test_timeout_without_events_same_as_virsh() -> None:
    if VIRSH is None:
        pytest.skip("the real virsh is not installed")
    args = [*T, "event", "--all", "--loop", "--timeout", "1"]
    out, err = io.StringIO(), io.StringIO()
    rc = main(args, stdout=out, stderr=err)
    theirs = run_virsh(args)
    assert (out.getvalue(), err.getvalue(), rc) == (theirs.out, theirs.err, theirs.rc)
