"""Connection and node slots of the QEMU driver: type, versions, node facts, capabilities."""
from __future__ import annotations

import os
import socket

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...types import CPUMap, NodeInfo, SecurityModel
from ..util import check_flags
from .caps import capabilities_xml, domain_capabilities_xml
from .node import QemuNode

__all__ = ["HostSlots", "node_info"]

Q = ErrorDomain.QEMU


def _meminfo() -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                parts = v.split()
                if parts:
                    out[k] = int(parts[0])
    except OSError:
        pass
    return out


def node_info() -> NodeInfo:
    """virNodeGetInfo from /proc (libvirt's virHostCPUGetInfo, simplified)."""
    model = os.uname().machine
    mhz = 0
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    mhz = int(float(line.split(":")[1]))
                    break
    except (OSError, ValueError):
        pass
    cpus = os.cpu_count() or 1
    return NodeInfo(model, _meminfo().get("MemTotal", 0), cpus, mhz, 1, 1, cpus, 1)


class HostSlots:
    """Connection and node slots for QemuDriver."""

    node: QemuNode

    def connect_get_type(self) -> str:
        return "QEMU"

    def connect_get_version(self) -> int:
        return self.node.caps().version

    def connect_get_lib_version(self) -> int:
        from ..._lv_bases import API_LEVEL
        return API_LEVEL

    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    def connect_get_uri(self) -> str:
        return self.node.uri

    def connect_get_max_vcpus(self, type: str | None) -> int:
        if type is not None and type.lower() not in ("qemu", "kvm"):
            raise error(ErrorNumber.INVALID_ARG, Q, f"unknown type '{type}'")
        return self.node.caps().max_cpus(None)

    def connect_is_alive(self) -> bool:
        return not self.node.closed

    def connect_is_secure(self) -> bool:
        return True

    def connect_is_encrypted(self) -> bool:
        return False

    def connect_get_capabilities(self) -> str:
        return capabilities_xml(self.node.caps())

    def connect_get_domain_capabilities(self, emulatorbin: str | None, arch: str | None,
                                        machine: str | None, virttype: str | None,
                                        flags: int) -> str:
        check_flags(flags, 0, "qemuConnectGetDomainCapabilities", Q)
        return domain_capabilities_xml(self.node.caps(), emulatorbin, arch, machine, virttype)

    def node_get_info(self) -> NodeInfo:
        return node_info()

    def node_get_free_memory(self) -> int:
        return _meminfo().get("MemFree", 0) * 1024

    def node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        if start_cell != 0 or max_cells < 1:
            raise error(ErrorNumber.INVALID_ARG, Q,
                        f"start cell {start_cell} out of range (0-0)")
        return [self.node_get_free_memory()]

    def node_get_security_model(self) -> SecurityModel:
        return SecurityModel("", "")

    def node_get_cpu_map(self, flags: int) -> CPUMap:
        check_flags(flags, 0, "virNodeGetCPUMap", Q)
        n = os.cpu_count() or 1
        online = [True] * n
        try:
            with open("/sys/devices/system/cpu/online") as f:
                spec = f.read().strip()
            online = [False] * n
            for part in spec.split(","):
                lo, _, hi = part.partition("-")
                for i in range(int(lo), int(hi or lo) + 1):
                    if i < n:
                        online[i] = True
        except (OSError, ValueError):
            pass
        return CPUMap(n, online)
