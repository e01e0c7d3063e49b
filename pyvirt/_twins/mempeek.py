"""The memory-peek hot path in pure Python: guest RAM through mmap, with an x86 page walk.

The twin of csrc/mempeek.c: the same region table, the same page walk (after QEMU's
x86_cpu_get_phys_page_attrs_debug), the same errors (OSError EFAULT outside the
table, ENXIO for an unmapped page).
"""
from __future__ import annotations

import errno
import mmap
import os
import stat
from collections.abc import Sequence

from .abc import (
    MP_MAX_REGIONS,
    MP_PAGING_4LEVEL,
    MP_PAGING_5LEVEL,
    MP_PAGING_32,
    MP_PAGING_NONE,
    MP_PAGING_PAE,
    MemRegion,
)
from .qmp import oserror

__all__ = ["PyGuestRAM", "PyMemPeek"]

_PRESENT = 0x1
_PSE = 0x80
_ADDR = 0x000FFFFFFFFFF000
_PAGE = 4096
_M64 = (1 << 64) - 1


class PyGuestRAM:
    """A read-only MAP_SHARED mapping of a guest RAM file, with its region table."""

    def __init__(self, path: str, min_size: int, regions: Sequence[MemRegion]) -> None:
        if len(regions) > MP_MAX_REGIONS:
            raise oserror(errno.EINVAL, "too many regions")
        self._regions = [MemRegion(*r) for r in regions]
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size <= 0 or st.st_size < min_size:
                raise oserror(errno.EINVAL, path)
            self._map: mmap.mmap | None = mmap.mmap(fd, st.st_size, mmap.MAP_SHARED,
                                                   mmap.PROT_READ)
        finally:
            os.close(fd)
        self._size = st.st_size

    @property
    def size(self) -> int:
        return self._size

    def _m(self) -> mmap.mmap:
        if self._map is None:
            raise oserror(errno.EINVAL, "the guest RAM mapping is closed")
        return self._map

    def _find(self, gpa: int) -> tuple[int, int] | None:
        """(file offset, bytes available from there) for gpa, or None."""
        for r in self._regions:
            if r.gpa <= gpa and gpa - r.gpa < r.size:
                fo = r.offset + (gpa - r.gpa)
                if fo >= self._size:
                    return None
                return fo, min(r.size - (gpa - r.gpa), self._size - fo)
        return None

    def phys_offset(self, gpa: int, size: int) -> int:
        found = self._find(gpa)
        if found is None or size > found[1]:
            raise oserror(errno.EFAULT, f"0x{gpa:x}+{size}")
        return found[0]

    def read_phys(self, gpa: int, size: int) -> bytes:
        m = self._m()
        found = self._find(gpa)
        if found is not None and size <= found[1]:     # the common case: one piece
            return m[found[0]:found[0] + size]
        parts = []
        done = 0
        while done < size:
            found = self._find(gpa + done)
            if found is None:
                raise oserror(errno.EFAULT, f"0x{gpa + done:x}")
            n = min(size - done, found[1])
            parts.append(m[found[0]:found[0] + n])
            done += n
        return b"".join(parts)

    def _load(self, gpa: int, width: int) -> int:
        found = self._find(gpa & _M64)
        if found is None or found[1] < width:
            raise oserror(errno.EFAULT, f"page table at 0x{gpa:x}")
        return int.from_bytes(self._m()[found[0]:found[0] + width], "little")

    def translate(self, cr3: int, mode: int, pse: bool, va: int) -> int:
        self._m()
        page = _PAGE
        if mode == MP_PAGING_NONE:
            return va & 0x000FFFFFFFFFFFFF     # QEMU: addr & PG_ADDRESS_MASK, page kept
        if mode in (MP_PAGING_4LEVEL, MP_PAGING_5LEVEL):
            la57 = mode == MP_PAGING_5LEVEL
            signed = va - (1 << 64) if va >> 63 else va
            sext = signed >> (56 if la57 else 47)
            if sext not in (0, -1):
                raise oserror(errno.ENXIO, f"0x{va:x} is not canonical")
            e = cr3
            if la57:
                e = self._present((e & _ADDR) + (((va >> 48) & 0x1FF) << 3), 8, va)
            e = self._present((e & _ADDR) + (((va >> 39) & 0x1FF) << 3), 8, va)
            e = self._present((e & _ADDR) + (((va >> 30) & 0x1FF) << 3), 8, va)
            if e & _PSE:
                page = 1 << 30
            else:
                page, e = self._pae_pd(e, va)
        elif mode == MP_PAGING_PAE:
            e = self._present(((cr3 & ~0x1F) & 0xFFFFFFFF) + ((va >> 27) & 0x18), 8, va)
            page, e = self._pae_pd(e, va)
        elif mode == MP_PAGING_32:
            e = self._present(((cr3 & ~0xFFF) & 0xFFFFFFFF) + ((va >> 20) & 0xFFC), 4, va)
            if e & _PSE and pse:
                e |= (e & 0x1FE000) << (32 - 13)
                page = 4 << 20
            else:
                e = self._present((e & ~0xFFF) + ((va >> 10) & 0xFFC), 4, va)
        else:
            raise oserror(errno.EINVAL, f"paging mode {mode}")
        return (e & _ADDR & ~(page - 1)) | (va & (page - 1))

    def _pae_pd(self, e: int, va: int) -> tuple[int, int]:
        e = self._present((e & _ADDR) + (((va >> 21) & 0x1FF) << 3), 8, va)
        if e & _PSE:
            return 2 << 20, e
        return _PAGE, self._present((e & _ADDR) + (((va >> 12) & 0x1FF) << 3), 8, va)

    def _present(self, gpa: int, width: int, va: int) -> int:
        e = self._load(gpa, width)
        if not e & _PRESENT:
            raise oserror(errno.ENXIO, f"0x{va:x} is not mapped")
        return e

    def read_virt(self, cr3: int, mode: int, pse: bool, va: int, size: int) -> bytes:
        parts = []
        done = 0
        while done < size:
            addr = (va + done) & _M64
            n = min(_PAGE - (addr & (_PAGE - 1)), size - done)
            parts.append(self.read_phys(self.translate(cr3, mode, pse, addr), n))
            done += n
        return b"".join(parts)

    def close(self) -> None:
        m, self._map = self._map, None
        if m is not None:
            m.close()


class PyMemPeek:
    """The memory-peek hot path's twin."""

    name = "python"

    def open(self, path: str, min_size: int, regions: Sequence[MemRegion]) -> PyGuestRAM:
        return PyGuestRAM(path, min_size, regions)

