"""vCPU slots of the QEMU driver: setVcpusFlags (config, and live hot(un)plug) and
getVcpus (per-vCPU time, host CPU and affinity from QEMU's vCPU threads).

As libvirt 9.0's qemuDomainSetVcpusFlags (errors checked against a private libvirtd):
a domain defined with <vcpu current='N'>M</vcpu> runs with `-smp N,maxcpus=M`; the
M - N missing vCPUs are QEMU's hotpluggable CPU slots (query-hotpluggable-cpus) and
`device_add` fills them in vCPU order under the ids libvirt gives them (vcpuI).  Only
vCPUs added that way can be unplugged (`device_del`, which the guest must acknowledge
through ACPI); the ones the domain booted with cannot.  The live state is QEMU's
answer, not a count kept on the side, so it stays right across a new owner.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ...constants import DomainVcpuFlags, ErrorDomain, ErrorNumber, VcpuState
from ...errors import error
from ...types import VcpuInfo
from ...xml.domain_model import DomainDef
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import check_flags, not_running
from .domains import proc_stat
from .lifecycle import monitor_error
from .node import Proc, QemuNode
from .qmp import QMPError

__all__ = ["VcpuSlots"]

Q = ErrorDomain.QEMU
_SET_FLAGS = DomainVcpuFlags.LIVE | DomainVcpuFlags.CONFIG | DomainVcpuFlags.MAXIMUM | \
    DomainVcpuFlags.GUEST | DomainVcpuFlags.HOTPLUGGABLE
_PLUGGED_BY_US = "/machine/peripheral/"     # qom-path of a CPU added with device_add
UNPLUG_WAIT = 5.0       # s: libvirt's QEMU_UNPLUG_TIMEOUT for the guest's acknowledgement


def _slot_key(entry: dict[str, Any]) -> tuple[int, ...]:
    props = entry.get("props", {})
    return tuple(int(props.get(k, 0)) for k in ("socket-id", "die-id", "core-id", "thread-id"))


def cpu_slots(p: Proc) -> list[dict[str, Any]]:
    """QEMU's CPU slots in vCPU order (query-hotpluggable-cpus lists them backwards)."""
    try:
        slots: list[dict[str, Any]] = p.mon.execute("query-hotpluggable-cpus")
    except QMPError as exc:
        raise monitor_error(exc, "query-hotpluggable-cpus") from None
    return sorted(slots, key=_slot_key)


def _set_current(d: DomainDef, n: int) -> None:
    d.vcpu_current = None if n == (d.vcpu or 1) else n


class VcpuSlots:
    """domain_set_vcpus / domain_get_vcpus for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...
        def _mon(self, p: Proc, cmd: str, args: dict[str, Any] | None = None) -> None: ...
        def _save_config(self, o: DomainObj, d: DomainDef) -> None: ...

    def domain_set_vcpus(self, dom: DomainHandle, nvcpus: int, flags: int) -> None:
        check_flags(flags, _SET_FLAGS, "qemuDomainSetVcpusFlags", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
        with node.job(o, "set vcpus"):
            if flags & DomainVcpuFlags.GUEST:
                # the guest agent's way: pyvirt drives no agent
                with node.lock:
                    if not o.active:
                        raise not_running(Q)
                raise error(ErrorNumber.ARGUMENT_UNSUPPORTED, Q,
                            "QEMU guest agent is not configured")
            with node.lock:
                live, pers = o.affected_defs(flags)
                p: Proc | None = o.priv if live is not None else None
                if flags & DomainVcpuFlags.MAXIMUM:
                    self._set_max_vcpus_locked(o, live, pers, nvcpus)
                    return
                for d, which in ((live, "live"), (pers, "persistent")):
                    if d is not None and nvcpus > (d.vcpu or 1):
                        raise error(ErrorNumber.INVALID_ARG, Q,
                                    f"requested vcpus is greater than max allowable vcpus "
                                    f"for the {which} domain: {nvcpus} > {d.vcpu or 1}")
            if p is not None:
                self._set_live(o, p, nvcpus)
            if pers is not None:
                with node.lock:
                    _set_current(pers, nvcpus)
                    self._save_config(o, pers)

    def _set_max_vcpus_locked(self, o: DomainObj, live: DomainDef | None, pers: DomainDef | None,
                        n: int) -> None:
        """qemuDomainSetVcpusMax: the config only; the current count follows it down."""
        if live is not None:
            raise error(ErrorNumber.OPERATION_UNSUPPORTED, Q,
                        "maximum vcpu count of a live domain can't be modified")
        assert pers is not None
        cpu = pers.cpu
        if cpu is not None and cpu.sockets and \
                cpu.sockets * (cpu.dies or 1) * (cpu.cores or 1) * (cpu.threads or 1) != n:
            raise error(ErrorNumber.INVALID_ARG, Q,
                        "CPU topology doesn't match the desired vcpu count")
        limit = self.node.caps().max_cpus(pers.os.machine)
        if n > limit:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"Maximum CPUs greater than specified machine type limit {limit}")
        current = min(pers.vcpu_current or pers.vcpu or 1, n)
        pers.vcpu = n
        _set_current(pers, current)
        self._save_config(o, pers)

    def _set_live(self, o: DomainObj, p: Proc, n: int) -> None:
        """Plug or unplug vCPUs until n are online (qemuDomainSetVcpusLive)."""
        slots = cpu_slots(p)
        online = [s for s in slots if s.get("qom-path")]
        need = abs(n - len(online))
        if n > len(online):     # the lowest free slots, in order
            todo = [(i, s) for i, s in enumerate(slots) if not s.get("qom-path")][:need]
        else:                   # the highest vCPUs we plugged, last first
            ours = [(i, s) for i, s in enumerate(slots)
                    if str(s.get("qom-path", "")).startswith(_PLUGGED_BY_US)]
            todo = ours[::-1][:need]
        if len(todo) != need:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "failed to find appropriate hotpluggable vcpus to reach the desired "
                        "target vcpu count")
        count = len(online)
        try:
            for index, slot in todo:
                if n > count:
                    args = {"driver": slot["type"], "id": f"vcpu{index}", **slot["props"]}
                    self._mon(p, "device_add", args)
                    count += 1
                else:
                    self._unplug(p, index)
                    count -= 1
        finally:
            if count != len(online):
                with self.node.lock:
                    if o.priv is p:
                        _set_current(o.def_, count)
                self.node.save_live_def(o)

    def _unplug(self, p: Proc, index: int) -> None:
        """device_del, then wait for the guest to let the vCPU go (qemuDomainHotplugDelVcpu)."""
        alias = f"vcpu{index}"
        self._mon(p, "device_del", {"id": alias})
        deadline = time.monotonic() + UNPLUG_WAIT
        while time.monotonic() < deadline:
            if not any(str(s.get("qom-path", "")).endswith("/" + alias) for s in cpu_slots(p)):
                return
            time.sleep(0.05)
        raise error(ErrorNumber.OPERATION_FAILED, Q,
                    "vcpu unplug request timed out. Unplug result must be manually inspected "
                    "in the domain")

    def domain_get_vcpus(self, dom: DomainHandle) -> list[VcpuInfo]:
        node = self.node
        with node.lock:
            o = self._obj(dom)
            p: Proc | None = o.priv
            if p is None:
                raise error(ErrorNumber.OPERATION_INVALID, Q,
                            "cannot retrieve vcpu information for inactive domain")
        # read-only and brief: no job, so that it answers during a save (libvirt reads
        # the thread ids it cached at start; QEMU's answer is as cheap and never stale)
        try:
            cpus: list[dict[str, Any]] = p.mon.execute("query-cpus-fast")
        except QMPError as exc:
            raise monitor_error(exc, "query-cpus-fast") from None
        host_cpus = os.cpu_count() or 1
        out = []
        for c in sorted(cpus, key=lambda c: int(c.get("cpu-index", 0))):
            tid = int(c.get("thread-id", 0))
            if tid and tid != p.pid:
                cpu_time, host_cpu = proc_stat(p.pid, tid)
                try:
                    allowed = os.sched_getaffinity(tid)
                except OSError:
                    allowed = set(range(host_cpus))
            else:   # no thread of its own: nothing to tell apart (libvirt does the same)
                cpu_time, host_cpu, allowed = 0, 0, set(range(host_cpus))
            out.append(VcpuInfo(int(c.get("cpu-index", 0)), VcpuState.RUNNING, cpu_time,
                                host_cpu, [i in allowed for i in range(host_cpus)]))
        return out
