"""memoryPeek on a real guest: the shared-mapping path and QEMU's pmemsave/memsave give
the same bytes, physical and virtual, on both implementations of the hot path."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt import _core
from pyvirt.constants import ErrorNumber
from pyvirt.drivers.qemu.memory import peek_via_qemu
from pyvirt.testing import GuestImage

from .helpers import firmware_xml, guest_xml, wait_ready

pytestmark = pytest.mark.qemu
PHYS, VIRT = 2, 1
MIB = 1 << 20


@pytest.fixture
def paused_guest(conn: Any, guest: GuestImage, root: Path) -> Any:
    log = root / "m1.console"
    dom = conn.define_domain(guest_xml("m1", guest, log, shared=True))
    dom.create()
    wait_ready(log)
    dom.suspend()       # memory stands still: both paths must see the same bytes
    return dom


def _proc(conn: Any, name: str) -> Any:
    return conn._hv.node.domains.by_name[name].priv


@pytest.mark.parametrize("impl", _core.available_impls())
@pytest.mark.slow
def test_shared_mapping_matches_qemu(conn: Any, paused_guest: Any, impl: str) -> None:
    p = _proc(conn, "m1")
    drv = conn._hv
    assert p.ram_path is not None and p.ram_path.startswith("/dev/shm/")
    p.ram = None
    ram = drv._ram(p, _core.get_impl(impl).mempeek)
    assert ram is not None
    o = drv.node.domains.by_name["m1"]
    for addr, size in [(0x100000, 4096), (0x1000000, MIB), (0, 4096), (0x7F000, 0x40000),
                       (0x9F000, 0x2000), (0xFFFFF000, 16), (0x7FFF000, 8192)]:
        direct = drv._peek(o, p, addr, size, False)
        assert direct == peek_via_qemu(drv.node, p.mon, addr, size, False), hex(addr)
    assert paused_guest.memory_peek(0x1000000, 64, PHYS) == \
        peek_via_qemu(drv.node, p.mon, 0x1000000, 64, False)
    # kernel text and the direct map: the same under any CR3; the walk must agree
    for va, size in [(0xFFFFFFFF81000000, 4096), (0xFFFFFFFF81000000 + 4000, 8192),
                     (0xFFFF888001000000, 65536), (0xFFFFFFFF82000000, MIB)]:
        direct = drv._peek(o, p, va, size, True)
        assert direct == peek_via_qemu(drv.node, p.mon, va, size, True), hex(va)
    with pytest.raises(pyvirt.libvirtError) as e:
        paused_guest.memory_peek(0x1234, 16, VIRT)      # not mapped: QEMU's own answer
    assert "Invalid addr" in str(e.value)
    p.ram.close()
    p.ram = None


def test_without_shared_memory_qemu_answers(conn: Any) -> None:
    dom = conn.create_domain(firmware_xml("m2", "qemu", memory_mib=64))
    p = _proc(conn, "m2")
    assert p.ram_path is None
    dom.suspend()
    got = dom.memory_peek(0xF0000, 256, PHYS)       # the BIOS, as the guest sees it
    assert got == peek_via_qemu(conn._hv.node, p.mon, 0xF0000, 256, False)
    assert len(dom.memory_peek(0x100, 1024, VIRT)) == 1024   # real mode: virtual = physical
    dom.destroy()


def test_flags_and_bounds(conn: Any) -> None:
    dom = conn.create_domain(firmware_xml("m3", "qemu", memory_mib=64, shared=True))
    for flags in (0, 3):
        with pytest.raises(pyvirt.libvirtError) as e:
            dom.memory_peek(0, 16, flags)
        assert e.value.get_error_code() == ErrorNumber.INVALID_ARG
    assert dom.memory_peek(64 * MIB - 16, 16, PHYS) == \
        peek_via_qemu(conn._hv.node, _proc(conn, "m3").mon, 64 * MIB - 16, 16, False)
    dom.destroy()
