"""Memory sizing on real QEMU: setMemory (the balloon), setMaxMemory, BALLOON_CHANGE.
Error codes and messages are those a private libvirt 9.0 libvirtd gave for the same
calls (firmware-only guests, probed by hand; tests/interop/test_qemu_sizing.py compares
them automatically); the real test guest's virtio_balloon driver does the live part."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyvirt._twins.qmp import classify
from pyvirt.constants import DomainEventID, ErrorDomain, ErrorNumber
from pyvirt.testing import GuestImage

from .helpers import config_on_disk, expect_errors, guest_xml, sized_xml, wait_for, wait_ready

pytestmark = pytest.mark.qemu

LIVE, CONFIG, MAXIMUM, GUEST = 1, 2, 4, 8
Q, D = ErrorDomain.QEMU, ErrorDomain.DOMAIN
MIB = 1 << 20


def test_set_memory_config_of_an_inactive_domain(conn: Any, root: Path) -> None:
    dom = conn.define_domain(sized_xml("m1"))
    expect_errors(
        (dom.set_memory, (65536, LIVE), (ErrorNumber.OPERATION_INVALID, D,
         "Requested operation is not valid: domain is not running")),
        (dom.set_memory, (265536, 0), (ErrorNumber.INVALID_ARG, Q,
         "invalid argument: cannot set memory higher than max memory")),
        (dom.set_memory, (65536, 64), (ErrorNumber.INVALID_ARG, Q,
         "unsupported flags (0x40) in function qemuDomainSetMemoryFlags")),
    )
    dom.set_memory(65536, 0)                      # current = config on an inactive domain
    assert list(dom.info())[1:3] == [131072, 65536]
    assert "<currentMemory unit='KiB'>65536</currentMemory>" in config_on_disk(root, "m1")
    dom.set_max_memory(262144)
    assert list(dom.info())[1:3] == [262144, 65536]
    dom.set_max_memory(32768)                     # the current memory follows it down
    assert list(dom.info())[1:3] == [32768, 32768]
    text = config_on_disk(root, "m1")
    assert "<memory unit='KiB'>32768</memory>" in text
    assert "<currentMemory unit='KiB'>32768</currentMemory>" in text


def test_set_memory_live_through_the_balloon(conn: Any, root: Path, event_loop: None) -> None:
    dom = conn.define_domain(sized_xml("m2", current_mib=96))
    dom.create()
    mon = '{"execute":"query-balloon"}'
    # no balloon driver in the firmware: QEMU asked for 96 MiB, the guest still has 128,
    # and the live currentMemory says what the guest has (as libvirt's does)
    assert json.loads(dom.qemu_monitor_command(mon, 0))["return"]["actual"] == 128 << 20
    assert list(dom.info())[1:3] == [131072, 131072]
    expect_errors(
        (dom.set_max_memory, (262144,), (ErrorNumber.OPERATION_INVALID, Q,
         "Requested operation is not valid: cannot resize the maximum memory on an active domain")),
        (dom.set_memory, (262144, LIVE | MAXIMUM), (ErrorNumber.OPERATION_INVALID, Q,
         "Requested operation is not valid: cannot resize the maximum memory on an active domain")),
        (dom.set_memory, (999999, LIVE), (ErrorNumber.INVALID_ARG, Q,
         "invalid argument: cannot set memory higher than max memory")),
    )
    dom.set_memory(65536, LIVE)       # accepted: QEMU's balloon now aims at 64 MiB
    # no balloon driver in a firmware guest: nothing is given back, and the live
    # currentMemory follows what QEMU reports, not the request
    assert list(dom.info())[1:3] == [131072, 131072]
    dom.set_memory(70000, LIVE | CONFIG)
    assert "<currentMemory unit='KiB'>70000</currentMemory>" in config_on_disk(root, "m2")
    dom.set_memory(262144, CONFIG | MAXIMUM)      # the next boot's maximum: allowed
    assert "<memory unit='KiB'>262144</memory>" in dom.xml_desc(2)
    assert list(dom.info())[1] == 131072          # the running guest's is not

    # what a guest balloon driver makes QEMU say: the live currentMemory follows it,
    # with libvirt's BALLOON_CHANGE event (QEMU's event, fed to the driver's handler;
    # a real guest driver sending it is test_linux_guest_balloon, marked slow)
    seen: list[int] = []
    conn.domain_event_register_any(None, DomainEventID.BALLOON_CHANGE,
                                   lambda c, d, actual, opaque: seen.append(actual))
    drv = conn._hv
    o = drv._obj(dom)
    line = json.dumps({"event": "BALLOON_CHANGE", "data": {"actual": 70000 * 1024},
                       "timestamp": {"seconds": 0, "microseconds": 0}}).encode()
    drv._on_event(o, o.priv, classify(line))
    assert list(dom.info())[1:3] == [131072, 70000]
    assert "<currentMemory unit='KiB'>70000</currentMemory>" in dom.xml_desc(0)
    wait_for(lambda: seen == [70000], 10, "the BALLOON_CHANGE event")
    conn._hv.node.flush_status()
    status = json.loads((root / "run" / "qemu" / "m2.json").read_text())
    assert "<currentMemory unit='KiB'>70000</currentMemory>" in status["xml"]
    dom.destroy()


def test_set_memory_without_a_balloon_and_on_transients(conn: Any) -> None:
    dom = conn.create_domain(sized_xml("m3", balloon=False), 0)
    expect_errors(
        (dom.set_memory, (65536, LIVE), (ErrorNumber.OPERATION_INVALID, Q,
         "Requested operation is not valid: Unable to change memory of active domain without "
         "the balloon device and guest OS balloon driver")),
        (dom.set_memory, (65536, CONFIG), (ErrorNumber.OPERATION_INVALID, D,
         "Requested operation is not valid: transient domains do not have any persistent config")),
    )
    dom.destroy()




@pytest.mark.slow
def test_linux_guest_balloon(conn: Any, guest: GuestImage, root: Path,
                             event_loop: None) -> None:
    """The real test guest loads virtio_balloon: it gives memory back when asked (at start
    for its currentMemory, then through setMemory) and QEMU's BALLOON_CHANGE events move
    the live currentMemory, info() and libvirt's BALLOON_CHANGE event with it."""
    seen: list[int] = []
    conn.domain_event_register_any(None, DomainEventID.BALLOON_CHANGE,
                                   lambda c, d, actual, opaque: seen.append(actual))
    log = root / "b1.console"
    xml = guest_xml("b1", guest, log).replace("<memballoon model='none'/>",
                                              "<memballoon model='virtio'/>")
    xml = xml.replace("<vcpu>", "<currentMemory unit='MiB'>112</currentMemory><vcpu>")
    dom = conn.define_domain(xml)
    dom.create()
    wait_ready(log)
    wait_for(lambda: dom.info().memory == 112 * 1024, 30, "the guest to reach 112 MiB")
    dom.set_memory(80 * 1024)                         # virDomainSetMemory: live
    wait_for(lambda: dom.info().memory == 80 * 1024, 30, "the guest to give back 32 MiB")
    assert "<currentMemory unit='KiB'>81920</currentMemory>" in dom.xml_desc(0)
    wait_for(lambda: seen and seen[-1] == 80 * 1024, 10, "the BALLOON_CHANGE event")
    actual = json.loads(dom.qemu_monitor_command('{"execute":"query-balloon"}', 0))
    assert actual["return"]["actual"] == 80 * MIB
    dom.set_memory(128 * 1024, LIVE)
    wait_for(lambda: dom.info().memory == 128 * 1024, 30, "the guest to take it back")
    assert "<currentMemory unit='KiB'>114688</currentMemory>" in config_on_disk(root, "b1")
    dom.destroy()
