"""Lifecycle on real QEMU: states, reasons, events and errors as libvirt 9.0 gives them."""
from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import (
    DomainCreateFlags,
    DomainEventID,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
)
from pyvirt.testing import GuestImage

from .helpers import console_text, firmware_xml, guest_xml, wait_for, wait_ready

pytestmark = pytest.mark.qemu

# libvirt's event numbers, by name
DEFINED, UNDEFINED, STARTED, SUSPENDED, RESUMED, STOPPED, SHUTDOWN = 0, 1, 2, 3, 4, 5, 6


class Events:
    """Lifecycle and reboot events of one connection, as (name, event, detail)."""

    def __init__(self, conn: Any) -> None:
        self.got: list[tuple[Any, ...]] = []
        self._cond = threading.Condition()
        conn.domain_event_register_any(None, DomainEventID.LIFECYCLE, self._lifecycle)
        conn.domain_event_register_any(None, DomainEventID.REBOOT, self._reboot)

    def _lifecycle(self, conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
        with self._cond:
            self.got.append((dom.name, event, detail))
            self._cond.notify_all()

    def _reboot(self, conn: Any, dom: Any, opaque: Any) -> None:
        with self._cond:
            self.got.append((dom.name, "reboot"))
            self._cond.notify_all()

    def wait(self, *want: tuple[Any, ...], timeout: float = 30.0) -> list[tuple[Any, ...]]:
        """Wait until the events received so far end with `want`; return and clear."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.got[-len(want):] != list(want):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"events {self.got}, wanted them to end with {want}")
                self._cond.wait(left)
            got, self.got = self.got, []
            return got


@pytest.fixture
def events(conn: Any, event_loop: None) -> Events:
    return Events(conn)


def _err(fn: Any, *args: Any) -> pyvirt.libvirtError:
    with pytest.raises(pyvirt.libvirtError) as e:
        fn(*args)
    return e.value


def _st(dom: Any) -> tuple[int, int]:
    s = dom.state()
    return (s.state, s.reason)


def _pid(conn: Any, name: str) -> int:
    return conn._hv.node.domains.by_name[name].priv.pid  # type: ignore[no-any-return]


@pytest.mark.slow
def test_boot_suspend_resume_destroy(conn: Any, events: Events, guest: GuestImage,
                                     root: Path) -> None:
    log = root / "g1.console"
    dom = conn.define_domain(guest_xml("g1", guest, log))
    assert _st(dom) == (DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
    dom.create()
    assert dom.id >= 1 and dom.is_active()
    assert _st(dom) == (DomainState.RUNNING, DomainRunningReason.BOOTED)
    assert events.wait(("g1", RESUMED, 0), ("g1", STARTED, 0)) == \
        [("g1", DEFINED, 0), ("g1", RESUMED, 0), ("g1", STARTED, 0)]
    live = dom.xml_desc()
    assert f"<domain type='qemu' id='{dom.id}'>" in live and "<alias name='serial0'/>" in live
    assert "tty='/dev/pts/" in live
    assert conn.lookup_domain_by_id(dom.id).name == "g1"
    wait_ready(log)
    dom.suspend()
    assert _st(dom) == (DomainState.PAUSED, DomainPausedReason.USER)
    events.wait(("g1", SUSPENDED, 0))
    dom.suspend()       # already paused: nothing happens, as in libvirt
    dom.resume()
    assert _st(dom) == (DomainState.RUNNING, DomainRunningReason.UNPAUSED)
    events.wait(("g1", RESUMED, 0))
    info = dom.info()
    assert info.state == DomainState.RUNNING and info.max_mem == 128 * 1024
    assert info.nr_virt_cpu == 1 and info.cpu_time > 0
    pid = _pid(conn, "g1")
    dom.destroy()
    assert dom.id == -1 and not dom.is_active()
    assert _st(dom) == (DomainState.SHUTOFF, DomainShutoffReason.DESTROYED)
    events.wait(("g1", SHUTDOWN, 2), ("g1", STOPPED, 1))
    assert not os.path.exists(f"/proc/{pid}")     # exited and reaped
    assert "<domain type='qemu'>" in dom.xml_desc()


@pytest.mark.slow
def test_guest_powers_off_on_acpi_shutdown(conn: Any, events: Events, guest: GuestImage,
                                           root: Path) -> None:
    log = root / "g2.console"
    dom = conn.define_domain(guest_xml("g2", guest, log))
    dom.create()
    wait_ready(log)
    events.got.clear()
    dom.shutdown()
    wait_for(lambda: not dom.is_active(), 30, "the guest to power off")
    assert guest.poweroff_line in console_text(log)
    assert _st(dom) == (DomainState.SHUTOFF, DomainShutoffReason.SHUTDOWN)
    events.wait(("g2", SHUTDOWN, 1), ("g2", STOPPED, 0))


@pytest.mark.slow
def test_reboot_and_reset(conn: Any, events: Events, guest: GuestImage, root: Path) -> None:
    log = root / "g3.console"
    dom = conn.define_domain(guest_xml("g3", guest, log))
    dom.create()
    ident = dom.id
    wait_ready(log)
    dom.reboot()        # ACPI power button, then a reset once the guest is off
    wait_ready(log, 2)
    assert dom.id == ident and dom.state().state == DomainState.RUNNING
    assert ("g3", "reboot") in events.wait(("g3", "reboot"))
    dom.reset()
    wait_ready(log, 3)
    events.wait(("g3", "reboot"))
    assert dom.state().state == DomainState.RUNNING


def test_start_paused_and_transient(conn: Any, events: Events) -> None:
    dom = conn.create_domain(firmware_xml("fw1", "qemu"), DomainCreateFlags.START_PAUSED)
    assert _st(dom) == (DomainState.PAUSED, DomainPausedReason.USER)
    assert not dom.is_persistent()
    events.wait(("fw1", STARTED, 0), ("fw1", SUSPENDED, 0))
    dom.resume()
    dom.destroy()
    events.wait(("fw1", STOPPED, 1))
    err = _err(conn.lookup_domain_by_name, "fw1")
    assert err.get_error_code() == ErrorNumber.NO_DOMAIN


def test_errors_on_inactive_and_active(conn: Any) -> None:
    dom = conn.define_domain(firmware_xml("fw2", "qemu"))
    for call in (dom.suspend, dom.resume, dom.destroy, dom.reset):
        e = _err(call)
        assert (e.get_error_code(), e.get_error_domain()) == \
            (ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN), call
        assert "domain is not running" in str(e)
    e = _err(dom.shutdown)
    assert (e.get_error_code(), e.get_error_domain()) == \
        (ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU)
    e = _err(dom.memory_peek, 0, 16, 2)
    assert e.get_error_code() == ErrorNumber.OPERATION_INVALID
    dom.create()
    e = _err(dom.create)
    assert (e.get_error_code(), e.get_error_domain()) == \
        (ErrorNumber.OPERATION_INVALID, ErrorDomain.QEMU)
    assert "already running" in str(e)
    dom.undefine()      # running: becomes transient, disappears once stopped
    assert not dom.is_persistent() and dom.is_active()
    dom.destroy()
    assert _err(conn.lookup_domain_by_name, "fw2").get_error_code() == ErrorNumber.NO_DOMAIN


def test_qemu_refusing_to_start_says_why(conn: Any) -> None:
    xml = firmware_xml("bad", "qemu").replace(
        "<os><type arch='x86_64' machine='pc'>hvm</type>",
        "<os><type arch='x86_64' machine='pc'>hvm</type><kernel>/nonexistent/vmlinuz</kernel>")
    dom = conn.define_domain(xml)
    e = _err(dom.create)
    assert e.get_error_code() == ErrorNumber.INTERNAL_ERROR
    assert "could not open kernel file '/nonexistent/vmlinuz'" in str(e)
    assert dom.state().state == DomainState.SHUTOFF and dom.id == -1


def test_missing_disk_is_refused_before_qemu_runs(conn: Any) -> None:
    xml = firmware_xml("nodisk", "qemu", extra="<disk type='file' device='disk'>"
                       "<source file='/nonexistent.img'/><target dev='vda'/></disk>")
    e = _err(conn.create_domain, xml)
    assert (e.get_error_code(), e.get_error_domain()) == \
        (ErrorNumber.SYSTEM_ERROR, ErrorDomain.STORAGE)
    assert "Cannot access storage file '/nonexistent.img'" in str(e)


def test_kvm_required_but_unusable(conn: Any) -> None:
    node = conn._hv.node
    saved = node.kvm_ok, node.kvm_why
    node.kvm_ok, node.kvm_why = False, "cannot open /dev/kvm: No such file or directory"
    try:
        e = _err(conn.create_domain, firmware_xml("needkvm", "kvm"))
    finally:
        node.kvm_ok, node.kvm_why = saved
    assert e.get_error_code() == ErrorNumber.CONFIG_UNSUPPORTED
    assert "Domain requires KVM" in str(e) and "/dev/kvm" in str(e)


@pytest.mark.kvm
def test_firmware_guest_under_kvm(conn: Any, kvm: None, events: Events) -> None:
    dom = conn.create_domain(firmware_xml("kvm1", "kvm"))
    assert dom.state().state == DomainState.RUNNING
    cmdline = Path(f"/proc/{_pid(conn, 'kvm1')}/cmdline").read_bytes().split(b"\0")
    assert cmdline[cmdline.index(b"-accel") + 1] == b"kvm"
    dom.suspend()
    dom.resume()
    dom.destroy()
    events.wait(("kvm1", STOPPED, 1))


def test_guest_killed_from_outside(conn: Any, events: Events) -> None:
    conn.create_domain(firmware_xml("fw3", "qemu"))
    os.kill(_pid(conn, "fw3"), signal.SIGKILL)
    events.wait(("fw3", STOPPED, 5))        # STOPPED/FAILED
    # transient: gone once it stopped
    assert _err(conn.lookup_domain_by_name, "fw3").get_error_code() == ErrorNumber.NO_DOMAIN
    pdom = conn.define_domain(firmware_xml("fw4", "qemu"))
    pdom.create()
    os.kill(_pid(conn, "fw4"), signal.SIGKILL)
    events.wait(("fw4", STOPPED, 5))
    assert _st(pdom) == (DomainState.SHUTOFF, DomainShutoffReason.CRASHED)


def test_monitor_passthrough_drives_state(conn: Any, events: Events) -> None:
    from pyvirt import libvirt_qemu
    dom = conn.create_domain(firmware_xml("fw5", "qemu"))
    out = dom.qemu_monitor_command('{"execute": "query-status"}')
    assert out.startswith('{"return": {') and '"status": "running"' in out
    dom.qemu_monitor_command('{"execute":"stop"}')
    assert dom.state().state == DomainState.PAUSED
    events.wait(("fw5", SUSPENDED, 0))
    assert "paused" in dom.qemu_monitor_command("info status", 1)
    err = dom.qemu_monitor_command('{"execute": "no-such-command"}')
    assert '"CommandNotFound"' in err
    assert '"return"' in libvirt_qemu.qemuMonitorCommand(dom, '{"execute":"cont"}', 0)
    assert dom.state().state == DomainState.RUNNING
    e = _err(dom.qemu_monitor_command, "{not json")
    assert e.get_error_code() == ErrorNumber.INTERNAL_ERROR


def test_job_lock_serialises_one_domain_not_others(conn: Any) -> None:
    a = conn.create_domain(firmware_xml("ja", "qemu"))
    b = conn.create_domain(firmware_xml("jb", "qemu"))
    node = conn._hv.node
    oa = node.domains.by_name["ja"]
    done: list[str] = []
    with node.job(oa):
        t = threading.Thread(target=lambda: (a.suspend(), done.append("a")))
        t.start()
        b.suspend()                 # another domain: not blocked by a's job
        done.append("b")
        time.sleep(0.2)
        assert done == ["b"]        # a's call waits for the job
    t.join(10)
    assert done == ["b", "a"]
    assert a.state().state == b.state().state == DomainState.PAUSED


def test_many_guests_started_concurrently(conn: Any) -> None:
    doms = [conn.define_domain(firmware_xml(f"c{i}", "qemu")) for i in range(4)]
    errors: list[BaseException] = []

    def start(d: Any) -> None:
        try:
            d.create()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=start, args=(d,)) for d in doms]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    ids = sorted(d.id for d in doms)
    assert len(set(ids)) == 4 and all(d.is_active() for d in doms)
    assert sorted(conn.list_domain_ids()) == ids
