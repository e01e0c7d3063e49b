"""memoryPeek: guest memory straight from its shared RAM file, or through QEMU.

Where the domain's RAM is a shared file-backed mapping (<memoryBacking><source
type='file'/><access mode='shared'/>), the C core's memory-peek hot path maps that file
read-only and copies from it: physical addresses through the machine's RAM layout,
virtual ones through a walk of the guest's x86 page tables (CR3 and the paging mode
read from vCPU 0, as QMP memsave uses vCPU 0).  Anything that path cannot answer
exactly -- an address outside RAM, the VGA/ROM window, an unmapped page -- and every
domain without such a file goes the way libvirt's qemuDomainMemoryPeek goes: QMP
pmemsave/memsave into a temp file, then read it.  Both paths give the same bytes.
"""
from __future__ import annotations

import errno
import os
import re
import tempfile
from typing import TYPE_CHECKING

from ... import _core
from ..._twins.abc import (
    MP_PAGING_4LEVEL,
    MP_PAGING_5LEVEL,
    MP_PAGING_32,
    MP_PAGING_NONE,
    MP_PAGING_PAE,
    MemPeek,
    MemRegion,
)
from ...constants import DomainMemoryFlags, DomainState, ErrorDomain, ErrorNumber
from ...errors import error
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import not_running
from .lifecycle import monitor_error
from .node import Proc, QemuNode
from .qmp import QMPClient, QMPError

__all__ = ["MemorySlots", "paging_of", "peek_via_qemu"]

Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN
_REG = re.compile(r"\b(CR0|CR3|CR4|EFER)=([0-9a-fA-F]+)")


def paging_of(mon: QMPClient, cpu: int = 0) -> tuple[int, int, bool]:
    """(cr3, paging mode, CR4.PSE) of a vCPU, from HMP `info registers`."""
    text = mon.execute("human-monitor-command",
                       {"command-line": "info registers", "cpu-index": cpu})
    regs = {k: int(v, 16) for k, v in _REG.findall(text)}
    cr0, cr3, cr4, efer = (regs.get(k, 0) for k in ("CR0", "CR3", "CR4", "EFER"))
    if not cr0 & (1 << 31):
        mode = MP_PAGING_NONE
    elif efer & (1 << 10):      # EFER.LMA: long mode
        mode = MP_PAGING_5LEVEL if cr4 & (1 << 12) else MP_PAGING_4LEVEL
    elif cr4 & (1 << 5):
        mode = MP_PAGING_PAE
    else:
        mode = MP_PAGING_32
    return cr3, mode, bool(cr4 & (1 << 4))


def _tmpdir(node: QemuNode) -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else node.layout.cache


def peek_via_qemu(node: QemuNode, mon: QMPClient, start: int, size: int, virtual: bool) -> bytes:
    """QMP memsave (virtual, vCPU 0) or pmemsave (physical) into a temp file, read back."""
    fd, path = tempfile.mkstemp(prefix="pyvirt-mem.", dir=_tmpdir(node))
    os.close(fd)
    try:
        # QAPI's 'int' is int64: an upper-half (kernel) address goes as a negative number
        val = start - (1 << 64) if start >= 1 << 63 else start
        args = {"val": val, "size": size, "filename": path}
        if virtual:
            args["cpu-index"] = 0
        try:
            mon.command("memsave" if virtual else "pmemsave", args)
        except QMPError as exc:
            raise monitor_error(exc, "memsave" if virtual else "pmemsave") from None
        with open(path, "rb") as f:
            data = f.read()
        if len(data) != size:
            raise error(ErrorNumber.OPERATION_FAILED, Q,
                        f"QEMU wrote {len(data)} of {size} bytes of guest memory")
        return data
    finally:
        os.unlink(path)


class MemorySlots:
    """domain_memory_peek for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...

    def _ram(self, p: Proc, impl: MemPeek | None = None) -> object | None:
        """The mapped RAM file of a run (mapped on first use), or None."""
        if p.ram_path is None:
            return None
        if p.ram is None:
            hot: MemPeek = impl if impl is not None else _core.mempeek
            regions = [MemRegion(*r) for r in p.ram_regions]
            top = max((r.offset + r.size for r in regions), default=0)
            try:
                p.ram = hot.open(p.ram_path, top, regions)
            except OSError:
                return None
        return p.ram

    def domain_memory_peek(self, dom: DomainHandle, start: int, size: int, flags: int) -> bytes:
        if flags not in (DomainMemoryFlags.VIRTUAL, DomainMemoryFlags.PHYSICAL):
            raise error(ErrorNumber.INVALID_ARG, Q,
                        "flags parameter must be VIR_MEMORY_VIRTUAL or VIR_MEMORY_PHYSICAL")
        node = self.node
        with node.lock:
            o = self._obj(dom)
            if o.priv is None:
                raise not_running(D)
        virtual = flags == DomainMemoryFlags.VIRTUAL
        with node.job(o, "memory peek"):
            p: Proc | None = o.priv
            if p is None:
                raise not_running(D)
            if size == 0:
                return b""
            return self._peek(o, p, start, size, virtual)

    def _paging(self, o: DomainObj, p: Proc) -> tuple[int, int, bool]:
        """vCPU 0's paging registers; kept while the domain stays paused, since a
        paused vCPU cannot change them (any RESUME or RESET forgets them)."""
        with self.node.lock:
            paused = o.state == DomainState.PAUSED
            cached = p.paging
            gen = p.vcpu_gen
        if paused and cached is not None and cached[0] == gen:
            return cached[1], cached[2], cached[3]
        cr3, mode, pse = paging_of(p.mon)
        if paused:
            with self.node.lock:
                if p.vcpu_gen == gen:
                    p.paging = (gen, cr3, mode, pse)
        return cr3, mode, pse

    def _peek(self, o: DomainObj, p: Proc, start: int, size: int, virtual: bool) -> bytes:
        ram = self._ram(p)
        if ram is not None:
            try:
                if not virtual:
                    return ram.read_phys(start, size)  # type: ignore[attr-defined,no-any-return]
                cr3, mode, pse = self._paging(o, p)
                return ram.read_virt(cr3, mode, pse, start, size)  # type: ignore[attr-defined,no-any-return]
            except OSError as exc:
                if exc.errno not in (errno.EFAULT, errno.ENXIO, errno.EINVAL):
                    raise
            except QMPError as exc:
                raise monitor_error(exc, "info registers") from None
        return peek_via_qemu(self.node, p.mon, start, size, virtual)
