"""The test driver's connection and node slots: type, versions, node info, capabilities."""
from __future__ import annotations

import socket

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...types import CPUMap, NodeInfo, SecurityModel
from .node import TestNode

T = ErrorDomain.TEST
MAX_VCPUS = 32


class HostSlots:
    """Connection and node slots for TestDriver."""

    node: TestNode

    def connect_get_type(self) -> str:
        return "TEST"

    def connect_get_version(self) -> int:
        return 2

    def connect_get_lib_version(self) -> int:
        from ..._lv_bases import API_LEVEL
        return API_LEVEL

    def connect_get_hostname(self) -> str:
        return socket.gethostname()

    def connect_get_uri(self) -> str:
        return self.node.uri

    def connect_get_max_vcpus(self, type: str | None) -> int:
        return MAX_VCPUS

    def connect_is_alive(self) -> bool:
        return True

    def connect_is_secure(self) -> bool:
        return True

    def connect_is_encrypted(self) -> bool:
        return False

    def node_get_info(self) -> NodeInfo:
        i = self.node.info
        return NodeInfo(i.model, i.memory, i.cpus, i.mhz, i.nodes, i.sockets, i.cores, i.threads)

    def node_get_free_memory(self) -> int:
        # libvirt's test driver answers the node's memory size, unscaled
        return self.node.info.memory

    def node_get_cells_free_memory(self, start_cell: int, max_cells: int) -> list[int]:
        cells = self.node.cells
        if start_cell < 0 or max_cells < 0 or start_cell > len(cells) or \
                start_cell + max_cells > len(cells) and not cells:
            raise error(ErrorNumber.INVALID_ARG, T, "Range exceeds available cells")
        if start_cell + max_cells > len(cells) and start_cell >= len(cells):
            raise error(ErrorNumber.INVALID_ARG, T, "Range exceeds available cells")
        return [c.memory for c in cells[start_cell:start_cell + max_cells]]

    def node_get_security_model(self) -> SecurityModel:
        return SecurityModel("testSecurity", "")

    def node_get_cpu_map(self, flags: int) -> CPUMap:
        # testNodeGetCPUMap: a fixed map of 8 CPUs, 0, 2 and 4 online
        return CPUMap(8, [True, False, True, False, True, False, False, False])

    def connect_get_capabilities(self) -> str:
        return capabilities_xml(self.node)


def capabilities_xml(node: TestNode) -> str:
    """The capabilities document of a test node (testBuildCapabilities)."""
    out = ["<capabilities>\n\n  <host>\n    <cpu>\n      <arch>i686</arch>\n",
           "      <features>\n        <pae/>\n        <nonpae/>\n      </features>\n"]
    for size in (4, 8, 2048, 1048576):
        out.append(f"      <pages unit='KiB' size='{size}'/>\n")
    out.append("    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n")
    out.append(f"    <topology>\n      <cells num='{len(node.cells)}'>\n")
    for i, cell in enumerate(node.cells):
        page = 4 << i
        out.append(f"        <cell id='{i}'>\n")
        out.append(f"          <memory unit='KiB'>{cell.memory}</memory>\n")
        out.append(f"          <pages unit='KiB' size='{page}'>{cell.memory // page}</pages>\n")
        out.append("          <pages unit='KiB' size='2048'>0</pages>\n")
        out.append("          <pages unit='KiB' size='1048576'>0</pages>\n")
        out.append(f"          <cpus num='{len(cell.cpus)}'>\n")
        for core, cpu in enumerate(cell.cpus):
            out.append(f"            <cpu id='{cpu}' socket_id='{i}' die_id='0' "
                       f"core_id='{core}' siblings='{cpu}'/>\n")
        out.append("          </cpus>\n        </cell>\n")
    out.append("      </cells>\n    </topology>\n")
    out.append("    <secmodel>\n      <model>testSecurity</model>\n      <doi></doi>\n"
               "    </secmodel>\n  </host>\n\n")
    for os_type in ("hvm", "xen"):
        out.append(f"  <guest>\n    <os_type>{os_type}</os_type>\n    <arch name='i686'>\n"
                   "      <wordsize>32</wordsize>\n      <emulator>/usr/bin/test-hv</emulator>\n"
                   "      <domain type='test'/>\n    </arch>\n    <features>\n      <pae/>\n"
                   "      <nonpae/>\n    </features>\n  </guest>\n\n")
    out.append("</capabilities>\n")
    return "".join(out)
