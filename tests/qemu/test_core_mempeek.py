"""The memory-peek hot path on a synthetic RAM file: regions, page walks, both impls."""
from __future__ import annotations

import errno
import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt import _core
from pyvirt._twins.abc import (
    MP_PAGING_4LEVEL,
    MP_PAGING_5LEVEL,
    MP_PAGING_32,
    MP_PAGING_NONE,
    MP_PAGING_PAE,
    MemPeek,
    MemRegion,
)

IMPLS = _core.available_impls()
MIB = 1 << 20
SIZE = 8 * MIB
# low RAM without the 640K-1M window, as pyvirt's QEMU driver maps a pc machine
REGIONS = [MemRegion(0, 0xA0000, 0), MemRegion(0x100000, SIZE - 0x100000, 0x100000)]
P = 0x1     # present
PS = 0x80   # large page


def _q(buf: bytearray, addr: int, value: int) -> None:
    struct.pack_into("<Q", buf, addr, value)


def _l(buf: bytearray, addr: int, value: int) -> None:
    struct.pack_into("<I", buf, addr, value)


def build_ram() -> tuple[bytearray, dict[str, int]]:
    """RAM with a recognisable pattern and page tables for each paging mode."""
    ram = bytearray(SIZE)
    for i in range(0, SIZE, 4096):
        struct.pack_into("<Q", ram, i, i)           # each page starts with its address
        ram[i + 8:i + 16] = b"PAGE%04x" % ((i >> 12) & 0xFFFF)
    roots: dict[str, int] = {}
    # 4-level: PML4 at 0x200000, PDPT 0x201000, PD 0x202000, PT 0x203000
    pml4, pdpt, pd, pt = 0x200000, 0x201000, 0x202000, 0x203000
    va = 0xFFFFFFFF81000000                          # kernel text, PML4 511 / PDPT 510
    _q(ram, pml4 + 511 * 8, pdpt | P)
    _q(ram, pdpt + 510 * 8, pd | P)
    _q(ram, pd + ((va >> 21) & 0x1FF) * 8, pt | P)   # 4 KiB pages below
    for i in range(512):
        # scatter: virtual page i -> physical page (0x300 + 7*i) mod 0x700 + 0x100
        phys = (0x100 + (0x300 + 7 * i) % 0x600) << 12
        _q(ram, pt + i * 8, phys | P | (1 << 63))    # NX set: must be ignored
    _q(ram, pt + 5 * 8, 0)                           # page 5 not present
    _q(ram, pd + (((va >> 21) + 1) & 0x1FF) * 8, 0x400000 | P | PS)   # next 2 MiB: large
    _q(ram, pml4 + 256 * 8, 0x20A000 | P)            # direct map at 0xffff800000000000
    _q(ram, 0x20A000, 0 | P | PS)                    # a 1 GiB page at physical 0
    roots["4level"] = pml4 | 0x5                     # PCID bits in CR3 are ignored
    # 5-level: PML5 at 0x204000 -> the same PML4
    pml5 = 0x204000
    _q(ram, pml5 + 511 * 8, pml4 | P)
    roots["5level"] = pml5
    # PAE: PDPT (32-byte aligned) at 0x205000, PD at 0x206000, PT at 0x207000
    pdpt3, pd3, pt3 = 0x205000, 0x206000, 0x207000
    _q(ram, pdpt3 + 3 * 8, pd3 | P)                  # 0xc0000000..
    _q(ram, pd3 + 0 * 8, pt3 | P)
    for i in range(512):
        _q(ram, pt3 + i * 8, ((0x100 + i) << 12) | P)
    _q(ram, pd3 + 1 * 8, 0x600000 | P | PS)
    roots["pae"] = pdpt3
    # 32-bit: PD at 0x208000, PT at 0x209000, a 4 MiB page too
    pd2, pt2 = 0x208000, 0x209000
    _l(ram, pd2 + (0xC0000000 >> 22) * 4, pt2 | P)
    for i in range(1024):
        _l(ram, pt2 + i * 4, ((0x180 + i % 0x200) << 12) | P)
    _l(ram, pd2 + (0xC0400000 >> 22) * 4, 0x400000 | P | PS)
    roots["32"] = pd2
    return ram, roots


@pytest.fixture(scope="module")
def ramfile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytearray, dict[str, int]]:
    ram, roots = build_ram()
    path = tmp_path_factory.mktemp("ram") / "guest.ram"
    path.write_bytes(ram)
    return path, ram, roots


@pytest.fixture(params=IMPLS)
def peek(request: pytest.FixtureRequest) -> MemPeek:
    return _core.get_impl(request.param).mempeek  # type: ignore[return-value]


def test_phys(peek: MemPeek, ramfile: tuple[Path, bytearray, dict[str, int]]) -> None:
    path, ram, _ = ramfile
    m = peek.open(str(path), SIZE, REGIONS)
    try:
        assert m.size == SIZE
        for addr, n in [(0, 16), (0x9F000, 0x1000), (0x100000, MIB), (0x123456, 777),
                        (SIZE - 10, 10)]:
            assert m.read_phys(addr, n) == bytes(ram[addr:addr + n])
        for addr, n in [(0x9FFF0, 0x20), (0xA0000, 1), (SIZE - 4, 8), (SIZE, 1)]:
            with pytest.raises(OSError) as e:
                m.read_phys(addr, n)
            assert e.value.errno == errno.EFAULT
    finally:
        m.close()
    with pytest.raises(OSError):
        m.read_phys(0, 1)


def _virt_expect(ram: bytearray, walk: dict[int, int], va: int, n: int) -> bytes:
    out = b""
    for off in range(n):
        a = va + off
        page = walk[a & ~0xFFF]
        out += bytes(ram[page + (a & 0xFFF):page + (a & 0xFFF) + 1])
    return out


def test_virt_4level(peek: MemPeek, ramfile: tuple[Path, bytearray, dict[str, int]]) -> None:
    path, ram, roots = ramfile
    m = peek.open(str(path), SIZE, REGIONS)
    va = 0xFFFFFFFF81000000
    try:
        cr3 = roots["4level"]
        for i in (0, 1, 4, 6, 511):
            phys = (0x100 + (0x300 + 7 * i) % 0x600) << 12
            assert m.translate(cr3, MP_PAGING_4LEVEL, False, va + i * 4096 + 12) == phys + 12
        assert m.translate(cr3, MP_PAGING_4LEVEL, False, va + 0x200000 + 0x1234) == 0x401234
        assert m.translate(cr3, MP_PAGING_4LEVEL, False, 0xFFFF800000345678) == 0x345678
        data = m.read_virt(cr3, MP_PAGING_4LEVEL, False, va + 0x800, 4096 * 3)
        walk = {va + i * 4096: (0x100 + (0x300 + 7 * i) % 0x600) << 12 for i in range(5)}
        assert data == _virt_expect(ram, walk, va + 0x800, 4096 * 3)
        for bad in (va + 5 * 4096, 0x0000800000000000, 0x1000):
            with pytest.raises(OSError) as e:
                m.translate(cr3, MP_PAGING_4LEVEL, False, bad)
            assert e.value.errno == errno.ENXIO
        assert m.translate(roots["5level"], MP_PAGING_5LEVEL, False, 0xFFFFFFFF81000000) == \
            (0x100 + 0x300) << 12
        assert m.translate(0, MP_PAGING_NONE, False, 0x12345) == 0x12345
    finally:
        m.close()


def test_virt_32bit_modes(peek: MemPeek, ramfile: tuple[Path, bytearray, dict[str, int]]) -> None:
    path, _ram, roots = ramfile
    m = peek.open(str(path), SIZE, REGIONS)
    try:
        assert m.translate(roots["pae"], MP_PAGING_PAE, False, 0xC0003010) == 0x103010
        assert m.translate(roots["pae"], MP_PAGING_PAE, False, 0xC0212345) == 0x612345
        assert m.translate(roots["32"], MP_PAGING_32, True, 0xC0002010) == 0x182010
        assert m.translate(roots["32"], MP_PAGING_32, True, 0xC0412345) == 0x412345
        with pytest.raises(OSError):    # without CR4.PSE the 4 MiB entry is a table
            m.translate(roots["32"], MP_PAGING_32, False, 0xC0412345)
    finally:
        m.close()


@settings(max_examples=200, deadline=None)
@given(va=st.integers(0, (1 << 64) - 1), n=st.integers(0, 9000),
       mode=st.sampled_from([MP_PAGING_4LEVEL, MP_PAGING_5LEVEL, MP_PAGING_PAE, MP_PAGING_32,
                             MP_PAGING_NONE]), pse=st.booleans(),
       which=st.sampled_from(["4level", "5level", "pae", "32"]))
def test_differential(va: int, n: int, mode: int, pse: bool, which: str) -> None:
    if "c" not in IMPLS:
        pytest.skip("needs the C core")
    _ram, roots = _RAM
    outcomes = []
    for impl in ("c", "python"):
        m = _core.get_impl(impl).mempeek.open(_RAMPATH, SIZE, REGIONS)  # type: ignore[union-attr]
        try:
            outcomes.append(_try(lambda: m.read_virt(roots[which], mode, pse, va, n)))
            outcomes.append(_try(lambda: m.read_phys(va, n)))
        finally:
            m.close()
    assert outcomes[:2] == outcomes[2:]


def _try(fn: object) -> object:
    try:
        return fn()  # type: ignore[operator]
    except OSError as e:
        return e.errno


_RAM = build_ram()
_RAMPATH = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"pyvirt-mempeek-{os.getpid()}.ram")
with open(_RAMPATH, "wb") as _f:
    _f.write(_RAM[0])


def teardown_module() -> None:
    try:
        os.unlink(_RAMPATH)
    except FileNotFoundError:
        pass
