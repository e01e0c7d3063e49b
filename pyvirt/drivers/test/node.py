"""The test driver's node: every object it holds, shared by the connections open on it.

`test:///default` starts with the objects libvirt's test driver starts with (domain
`test`, network `default`, pool `default-pool`, the same node info and NUMA cells);
`test:///PATH.xml` loads a node described in libvirt's test-driver file format.
"""
from __future__ import annotations

import copy
import threading
import time
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any

from ...constants import DomainRunningReason, DomainState
from ...events import EventState
from ...types import NodeInfo
from ...xml.domain_normalize import load_domain
from ...xml.network import load_network
from ..domobj import DomainObj, DomainObjList

__all__ = ["TestNode", "Cell", "NetObj", "PoolObj", "VolObj", "default_node"]


@dataclass(slots=True)
class Cell:
    """A NUMA cell of the node: its memory (KiB) and CPU IDs."""
    memory: int
    cpus: list[int]


@dataclass(slots=True, eq=False)
class NetObj:
    def_: Any                 # pyvirt.xml NetworkDef
    name: str
    raw_uuid: bytes
    active: bool = False
    persistent: bool = True
    autostart: bool = False


@dataclass(slots=True, eq=False)
class VolObj:
    def_: Any                 # pyvirt.xml StorageVolDef
    name: str
    key: str
    path: str


@dataclass(slots=True, eq=False)
class PoolObj:
    def_: Any                 # pyvirt.xml StoragePoolDef
    name: str
    raw_uuid: bytes
    active: bool = False
    persistent: bool = True
    autostart: bool = False
    volumes: dict[str, VolObj] = field(default_factory=dict)


class TestNode:
    """All state of one test node. Every use holds `lock`."""

    def __init__(self, uri: str, info: NodeInfo, cells: list[Cell]) -> None:
        self.lock = threading.RLock()
        self.uri = uri
        self.info = info
        self.cells = cells
        self.domains = DomainObjList()
        self.networks: dict[str, NetObj] = {}
        self.pools: dict[str, PoolObj] = {}
        self.next_id = 1
        self.events = EventState()

    def new_id(self) -> int:
        i = self.next_id
        self.next_id += 1
        return i

    def add_domain(self, xml: str, state: DomainState = DomainState.RUNNING,
                   reason: int = DomainRunningReason.UNKNOWN, persistent: bool = True) -> DomainObj:
        d = load_domain(xml)
        assert d.uuid is not None
        obj = DomainObj(def_=d, name=d.name, raw_uuid=_uuid.UUID(d.uuid).bytes,
                        persistent=persistent)
        if state != DomainState.SHUTOFF:
            obj.id = self.new_id()
            if persistent:
                obj.new_def = copy.deepcopy(d)
        obj.set_state(state, reason)
        self.domains.add(obj)
        return obj

    def add_network(self, xml: str, active: bool = True) -> NetObj:
        n = load_network(xml)
        obj = NetObj(def_=n, name=n.name, raw_uuid=_uuid.UUID(n.uuid).bytes, active=active)
        self.networks[obj.name] = obj
        return obj

    def close(self) -> None:
        self.events.close()


# libvirt's test driver's initial objects (src/test/test_driver.c, testOpenDefault),
# as `virsh -c test:///default dumpxml --inactive` shows them.
_DEFAULT_DOMAIN = """<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/>
      <target dev='vda' bus='virtio'/>
      <address type='pci' domain='0x0000' bus='0x01' slot='0x00' function='0x0'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/>
      <source network='default'/>
      <target dev='testnet0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x0'/>
    </interface>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </memballoon>
  </devices>
</domain>
"""

_DEFAULT_NETWORK = """<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>
"""

_DEFAULT_POOL = """<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <capacity unit='bytes'>107374182400</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>107374182400</available>
  <source>
  </source>
  <target>
    <path>/default-pool</path>
  </target>
</pool>
"""

# The default node: 16 CPUs in 2 cells of 8, 3 GiB; cell memory as libvirt reports it.
_DEFAULT_INFO = NodeInfo(model="i686", memory=3145728, cpus=16, mhz=1400, nodes=2, sockets=2,
                         cores=2, threads=2)


def default_node() -> TestNode:
    node = TestNode("test:///default", _DEFAULT_INFO,
                    [Cell(2097152, list(range(0, 8))), Cell(4194304, list(range(8, 16)))])
    node.add_domain(_DEFAULT_DOMAIN)
    node.add_network(_DEFAULT_NETWORK)
    from .storage import add_pool  # storage objects come with their own module
    add_pool(node, _DEFAULT_POOL)
    return node


def now_ns() -> int:
    """libvirt's test driver reports CPU time from the wall clock, in µs steps."""
    return time.time_ns() // 1000 * 1000
