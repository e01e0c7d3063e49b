"""Persistence: configs and live status on disk, one owner per root, reattach after a
SIGKILL of the owner (same IDs and states, events flowing), guests that died meanwhile."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import DomainPausedReason, DomainShutoffReason, DomainState, ErrorNumber
from pyvirt.drivers.qemu.qmp import QMPClient
from pyvirt.testing import GuestImage

from .conftest import destroy_all
from .helpers import firmware_xml, guest_xml, kill_pids, last_counter, wait_for, wait_ready
from .test_lifecycle import RESUMED, STOPPED, SUSPENDED, Events

pytestmark = pytest.mark.qemu
REPO = Path(__file__).resolve().parents[2]


class Owner:
    """An owner subprocess (tests/qemu/owner.py) holding `root`."""

    def __init__(self, root: Path, spec: list[dict[str, Any]]) -> None:
        path = root / "owner-spec.json"
        path.write_text(json.dumps(spec))
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.qemu.owner", str(root),
                                      str(path)], stdout=subprocess.PIPE, cwd=REPO, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise AssertionError(f"the owner failed (exit {self.proc.returncode})")
        self.guests: list[dict[str, Any]] = json.loads(line)

    def sigkill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def pids(self) -> list[int]:
        return [g["pid"] for g in self.guests]


@pytest.fixture
def owner_cleanup() -> Iterator[list[Owner]]:
    owners: list[Owner] = []
    yield owners
    for o in owners:
        if o.proc.poll() is None:
            o.sigkill()
        kill_pids([p for p in o.pids() if os.path.exists(f"/proc/{p}")])


def test_configs_and_status_on_disk(conn: Any, root: Path) -> None:
    dom = conn.define_domain(firmware_xml("disk1", "qemu"))
    cfg = root / "etc" / "qemu" / "disk1.xml"
    assert cfg.exists() and "<name>disk1</name>" in cfg.read_text()
    dom.create()
    status = json.loads((root / "run" / "qemu" / "disk1.json").read_text())
    assert status["id"] == dom.id and status["state"] == DomainState.RUNNING
    assert Path(status["monitor"]).exists() and f"id='{dom.id}'" in status["xml"]
    dom.suspend()       # state changes are written by the status writer, soon after
    wait_for(lambda: json.loads((root / "run" / "qemu" / "disk1.json").read_text())["state"]
             == DomainState.PAUSED, 5, "the status file to say paused")
    dom.destroy()
    assert not (root / "run" / "qemu" / "disk1.json").exists()
    dom.set_autostart(True)
    assert dom.autostart()
    dom.undefine()
    assert not cfg.exists()
    assert not (root / "etc" / "qemu" / "autostart" / "disk1.xml").exists()


def test_one_owner_per_root(root: Path, qemu_bin: str, owner_cleanup: list[Owner]) -> None:
    owner = Owner(root, [])
    owner_cleanup.append(owner)
    with pytest.raises(pyvirt.libvirtError) as e:
        pyvirt.connect(f"qemu:///embed?root={root}")
    assert e.value.get_error_code() == ErrorNumber.OPERATION_INVALID
    assert f"in use by process {owner.proc.pid}" in str(e.value)
    owner.sigkill()
    with pyvirt.connect(f"qemu:///embed?root={root}") as c:   # the lock died with it
        assert c.get_type() == "QEMU"


def test_same_process_shares_the_root(root: Path, qemu_bin: str) -> None:
    with pyvirt.connect(f"qemu:///embed?root={root}") as a, \
            pyvirt.connect(f"qemu:///embed?root={root}/") as b:
        a.define_domain(firmware_xml("shared1", "qemu"))
        assert b.lookup_domain_by_name("shared1").name == "shared1"


@pytest.mark.slow
def test_reattach_after_owner_sigkill(root: Path, guest: GuestImage, event_loop: None,
                                      owner_cleanup: list[Owner]) -> None:
    log = root / "r1.console"
    spec = [{"xml": guest_xml("r1", guest, log)},
            {"xml": firmware_xml("r2", "qemu"), "paused": True},
            {"xml": firmware_xml("r3", "qemu"), "persistent": False},
            {"xml": firmware_xml("r4", "qemu")}]
    owner = Owner(root, spec)
    owner_cleanup.append(owner)
    before = {g["name"]: g for g in owner.guests}
    wait_ready(log)
    owner.sigkill()                 # guests outlive their owner
    for g in owner.guests:
        assert os.path.exists(f"/proc/{g['pid']}"), g
    kill_pids([before["r4"]["pid"]])        # meanwhile, r4's QEMU dies
    counter = last_counter(log)
    conn = pyvirt.connect(f"qemu:///embed?root={root}")
    try:
        for name in ("r1", "r2", "r3"):
            dom = conn.lookup_domain_by_name(name)
            st = dom.state()
            assert (dom.id, int(st.state), int(st.reason)) == \
                (before[name]["id"], before[name]["state"], before[name]["reason"]), name
        assert not conn.lookup_domain_by_name("r3").is_persistent()
        st4 = conn.lookup_domain_by_name("r4").state()
        assert (st4.state, st4.reason) == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
        assert sorted(conn.list_domain_ids()) == sorted(
            before[n]["id"] for n in ("r1", "r2", "r3"))
        # events flow again, and the guest kept running (its counter went on)
        events = Events(conn)
        r1 = conn.lookup_domain_by_name("r1")
        r1.suspend()
        events.wait(("r1", SUSPENDED, 0))
        r1.resume()
        events.wait(("r1", RESUMED, 0))
        wait_for(lambda: last_counter(log) > counter, 10, "the counter to go on")
        assert r1.state().state == DomainState.RUNNING
        # a reattached QEMU is not our child, its exit is still seen at once
        r2 = conn.lookup_domain_by_name("r2")
        assert r2.state().reason == DomainPausedReason.USER
        os.kill(before["r2"]["pid"], signal.SIGKILL)
        events.wait(("r2", STOPPED, 5))
        r1.destroy()
        assert not os.path.exists(f"/proc/{before['r1']['pid']}")
    finally:
        destroy_all(conn)
        conn.close()


@pytest.mark.slow
def test_guest_powered_off_while_unowned(root: Path, guest: GuestImage,
                                         owner_cleanup: list[Owner]) -> None:
    log = root / "p1.console"
    owner = Owner(root, [{"xml": guest_xml("p1", guest, log)}])
    owner_cleanup.append(owner)
    wait_ready(log)
    owner.sigkill()
    (g,) = owner.guests
    q = QMPClient("test")
    q.connect(str(root / "run" / "qemu" / f"{g['id']}.monitor"), 10)
    q.command("system_powerdown")
    wait_for(lambda: q.execute("query-status")["status"] == "shutdown", 30,
             "the guest to power off")
    q.close()
    with pyvirt.connect(f"qemu:///embed?root={root}") as conn:
        dom = conn.lookup_domain_by_name("p1")
        st = dom.state()
        assert (st.state, st.reason) == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)
    wait_for(lambda: not os.path.exists(f"/proc/{g['pid']}"), 10, "QEMU to be gone")


def test_autostart_on_open(root: Path, qemu_bin: str) -> None:
    with pyvirt.connect(f"qemu:///embed?root={root}") as c:
        c.define_domain(firmware_xml("auto1", "qemu")).set_autostart(True)
    conn = pyvirt.connect(f"qemu:///embed?root={root}")
    try:
        assert conn.lookup_domain_by_name("auto1").is_active()
    finally:
        destroy_all(conn)
        conn.close()

