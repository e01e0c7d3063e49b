"""The real virsh and libvirt-python drive real QEMU guests through pyvirtd's qemu driver.

pyvirtd (private root, loopback TCP, its unix socket) serves qemu:///system from its own
qemu driver; the clients are Debian's virsh and libvirt-python, unchanged. Guests are
firmware-only (64 MiB, no disk); each test destroys and undefines what it defined, and
any QEMU left (matched by the test's UUIDs) is killed by PID at the end, pass or fail.
"""
from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid as _uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import DomainEventID, DomainState

from .peers import PyvirtdProcess, ensure_event_loop, firmware_guest, kill_guests

pytestmark = pytest.mark.qemu


@pytest.fixture(scope="module")
def qemu_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyvirtdProcess]:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    try:
        import pyvirt.drivers.qemu  # noqa: F401
    except ImportError:
        pytest.skip("pyvirt's qemu driver is not installed")
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd-qemu")) as d:
        yield d


@pytest.fixture
def guests(tmp_path: Path) -> Iterator[dict[str, str]]:
    """name -> XML file of two firmware guests with this test's UUIDs."""
    uuids = {f"g{i}": str(_uuid.uuid4()) for i in (1, 2)}
    files = {}
    for name, u in uuids.items():
        p = tmp_path / f"{name}.xml"
        p.write_text(firmware_guest(f"pv-{name}-{u[:8]}", u))
        files[name] = str(p)
    files.update({f"{n}_name": f"pv-{n}-{u[:8]}" for n, u in uuids.items()})
    yield files
    kill_guests(set(uuids.values()))


def in_order(seen: list[Any], wanted: list[Any]) -> bool:
    """Whether `wanted` occurs in `seen` in this order (others may come between: the
    qemu driver reports a start as RESUMED then STARTED and a destroy as SHUTDOWN then
    STOPPED, as libvirtd's does, shared/rpc-protocol.md §5)."""
    it = iter(seen)
    return all(any(x == w for x in it) for w in wanted)


def virsh(uri: str, commands: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["virsh", "-c", uri, commands], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_virsh_manages_a_qemu_guest(qemu_daemon: PyvirtdProcess, guests: dict[str, str],
                                    tmp_path: Path, transport: str) -> None:
    if shutil.which("virsh") is None:
        pytest.skip("virsh is not installed")
    uri = qemu_daemon.uri("qemu", "/system", transport)
    name = guests["g1_name"]
    save = tmp_path / "g1.save"
    p = virsh(uri, f"version; define {guests['g1']}; list --all; dominfo {name}; start {name};"
                   f" domstate --reason {name}; list; suspend {name}; domstate --reason {name};"
                   f" resume {name}; qemu-monitor-command {name} --hmp info name;"
                   f" qemu-monitor-command {name} '{{\"execute\":\"query-status\"}}';"
                   f" save {name} {save}; domstate --reason {name}; restore {save};"
                   f" domstate --reason {name}; shutdown {name}; destroy {name};"
                   f" domstate --reason {name}; dumpxml --inactive {name}; nodeinfo;"
                   f" capabilities; hostname; undefine {name}; list --all")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Running hypervisor: QEMU 7." in out
    assert f"Domain '{name}' defined" in out and f"Domain '{name}' started" in out
    assert out.count("running (booted)") == 1 and "paused (user)" in out
    assert f"\n{name}\n" in out                                  # HMP info name
    assert '"running": true' in out                               # QMP query-status
    assert "shut off (saved)" in out and "running (restored)" in out
    assert "shut off (destroyed)" in out and "<domain type=" in out
    assert "CPU model:" in out and "<capabilities>" in out
    assert f"Domain '{name}' has been undefined" in out


def test_virsh_events_from_a_qemu_guest(qemu_daemon: PyvirtdProcess,
                                        guests: dict[str, str]) -> None:
    if shutil.which("virsh") is None:
        pytest.skip("virsh is not installed")
    uri = qemu_daemon.uri("qemu", "/system", "tcp")
    name = guests["g1_name"]
    assert virsh(uri, f"define {guests['g1']}").returncode == 0
    watcher = subprocess.Popen(["virsh", "-c", uri, "event", "--loop", "--timeout", "8",
                                "--event", "lifecycle"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)
        p = virsh(qemu_daemon.uri("qemu", "/system", "unix"),
                  f"start {name}; suspend {name}; resume {name}; destroy {name}")
        assert p.returncode == 0, p.stderr
        out, _ = watcher.communicate(timeout=30)
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
        virsh(uri, f"undefine {name}")
    events = [line.split(": ", 1)[1] for line in out.splitlines()
              if line.startswith(f"event 'lifecycle' for domain '{name}'")]
    assert in_order(events, ["Started Booted", "Suspended Paused", "Resumed Unpaused",
                             "Stopped Destroyed"]), events


def test_libvirt_python_with_events(qemu_daemon: PyvirtdProcess, guests: dict[str, str]) -> None:
    lv = pytest.importorskip("libvirt")
    lv.virEventRegisterDefaultImpl()
    stop = threading.Event()
    t = threading.Thread(target=lambda: [lv.virEventRunDefaultImpl() for _ in iter(
        stop.is_set, True)], daemon=True)
    t.start()
    got: list[tuple[Any, ...]] = []
    conn = lv.open(qemu_daemon.uri("qemu", "/system", "unix"))
    other = lv.open(qemu_daemon.uri("qemu", "/system", "tcp"))
    try:
        cid = conn.domainEventRegisterAny(None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                          lambda c, d, e, det, o: got.append((d.name(), e, det)),
                                          None)
        dom = other.defineXML(Path(guests["g1"]).read_text())
        dom.create()
        assert dom.ID() > 0 and dom.state() == [lv.VIR_DOMAIN_RUNNING, 1]
        assert dom.info()[1] == 65536 and dom.isActive() == 1
        assert conn.lookupByName(dom.name()).ID() == dom.ID()
        import libvirt_qemu
        assert libvirt_qemu.qemuMonitorCommand(dom, "info name", 1).strip() == dom.name()
        dom.suspend()
        dom.resume()
        dom.destroy()
        deadline = time.monotonic() + 10
        while (got[-1:] != [(dom.name(), lv.VIR_DOMAIN_EVENT_STOPPED, 1)]
               and time.monotonic() < deadline):
            time.sleep(0.02)
        conn.domainEventDeregisterAny(cid)
        dom.undefine()
    finally:
        other.close()
        conn.close()
        stop.set()
    name = Path(guests["g1"]).read_text().split("<name>")[1].split("<")[0]
    assert in_order(got, [(name, lv.VIR_DOMAIN_EVENT_DEFINED, 0),
                          (name, lv.VIR_DOMAIN_EVENT_STARTED, 0),
                          (name, lv.VIR_DOMAIN_EVENT_SUSPENDED, 0),
                          (name, lv.VIR_DOMAIN_EVENT_RESUMED, 0),
                          (name, lv.VIR_DOMAIN_EVENT_STOPPED, 1)]), got


def test_pyvirt_qemu_system_uri_reaches_pyvirtd(qemu_daemon: PyvirtdProcess,
                                                guests: dict[str, str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # qemu:///system resolves to the system daemon's socket ($PYVIRT_SYSTEM_SOCKET here)
    monkeypatch.setenv("PYVIRT_SYSTEM_SOCKET", qemu_daemon.sock)
    ensure_event_loop()
    got: list[int] = []
    with pyvirt.connect("qemu:///system") as c:
        assert c.get_uri() == "qemu:///system" and c.get_type() == "QEMU"
        cid = c.domain_event_register_any(None, DomainEventID.LIFECYCLE,
                                          lambda conn, d, ev, det, op: got.append(ev))
        dom = c.define_domain(Path(guests["g2"]).read_text())
        dom.create()
        assert dom.id > 0 and dom.state().state == DomainState.RUNNING
        assert dom.qemu_monitor_command("info name", 1).strip() == dom.name
        dom.destroy()
        assert dom.id == -1
        dom.undefine()
        deadline = time.monotonic() + 10
        while 1 not in got and time.monotonic() < deadline:     # UNDEFINED
            time.sleep(0.02)
        c.domain_event_deregister_any(cid)
    assert in_order(got, [0, 2, 5, 1]), got
    with pyvirt.connect("qemu:///system", readonly=True) as r:   # the -ro socket
        assert r.read_only and r.get_type() == "QEMU"


def test_qemu_session_starts_its_daemon_on_demand(monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import signal
    import tempfile
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    root = Path(tempfile.mkdtemp(prefix="pvss-"))    # short: QEMU sockets live under it
    monkeypatch.setenv("PYVIRT_SESSION_ROOT", str(root))
    monkeypatch.setenv("PYVIRT_SESSION_TIMEOUT", "2")
    monkeypatch.delenv("PYVIRT_SESSION_SOCKET", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    pidfile = root / "run" / "pyvirtd.pid"
    try:
        with pyvirt.connect("qemu:///session") as c:       # nobody listens: started
            assert c.get_type() == "QEMU" and c.get_uri() == "qemu:///session"
            pid = int(pidfile.read_text())
            assert c.list_all_domains() == []
        with pyvirt.connect("qemu:///session") as c:       # found running, not restarted
            assert int(pidfile.read_text()) == pid
        deadline = time.monotonic() + 30
        while pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pidfile.exists()                         # idle, no guests: it left
    finally:
        if pidfile.exists():
            os.kill(int(pidfile.read_text()), signal.SIGTERM)
        shutil.rmtree(root, ignore_errors=True)
