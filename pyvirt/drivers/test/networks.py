"""The test driver's virtual networks (in memory: nothing is created on the host)."""
from __future__ import annotations

import uuid as _uuid

from ...constants import ConnectListAllNetworksFlags as NF
from ...constants import ErrorDomain, ErrorNumber, NetworkXMLFlags
from ...errors import error, libvirtError
from ...xml.network import format_network, load_network
from ..handles import NetworkHandle, NetworkRef
from ..util import check_flags, invalid
from .node import NetObj, TestNode

T = ErrorDomain.TEST
N = ErrorDomain.NETWORK


def _no_network(detail: str) -> libvirtError:
    return error(ErrorNumber.NO_NETWORK, T, detail)


class NetworkSlots:
    """Network-table slots for TestDriver."""

    node: TestNode

    def _net(self, net: NetworkHandle) -> NetObj:
        for n in self.node.networks.values():
            if n.raw_uuid == net.raw_uuid:
                return n
        raise _no_network(f"no network with matching uuid "
                          f"'{_uuid.UUID(bytes=bytes(net.raw_uuid))}' ({net.name})")

    def _network_names(self, active: bool) -> list[str]:
        with self.node.lock:
            return sorted(n.name for n in self.node.networks.values() if n.active == active)

    def connect_list_networks(self) -> list[str]:
        return self._network_names(True)

    def connect_num_of_networks(self) -> int:
        return len(self._network_names(True))

    def connect_list_defined_networks(self) -> list[str]:
        return self._network_names(False)

    def connect_num_of_defined_networks(self) -> int:
        return len(self._network_names(False))

    def connect_list_all_networks(self, flags: int) -> list[NetworkRef]:
        check_flags(flags, 0x3F, "testConnectListAllNetworks", T)
        out = []
        with self.node.lock:
            for n in self.node.networks.values():
                if flags & (NF.ACTIVE | NF.INACTIVE) and not (
                        flags & NF.ACTIVE and n.active or flags & NF.INACTIVE and not n.active):
                    continue
                if flags & (NF.PERSISTENT | NF.TRANSIENT) and not (
                        flags & NF.PERSISTENT and n.persistent or
                        flags & NF.TRANSIENT and not n.persistent):
                    continue
                if flags & (NF.AUTOSTART | NF.NO_AUTOSTART) and not (
                        flags & NF.AUTOSTART and n.autostart or
                        flags & NF.NO_AUTOSTART and not n.autostart):
                    continue
                out.append((n.name, n.raw_uuid))
        return out

    def network_lookup_by_name(self, name: str) -> NetworkRef:
        with self.node.lock:
            n = self.node.networks.get(name)
            if n is None:
                raise _no_network(f"no network with matching name '{name}'")
            return (n.name, n.raw_uuid)

    def network_lookup_by_uuid(self, uuid: bytes) -> NetworkRef:
        with self.node.lock:
            for n in self.node.networks.values():
                if n.raw_uuid == bytes(uuid):
                    return (n.name, n.raw_uuid)
        raise _no_network(f"no network with matching uuid '{_uuid.UUID(bytes=bytes(uuid))}'")

    def _add_network(self, xml: str, *, active: bool, persistent: bool) -> NetObj:
        d = load_network(xml)
        raw = _uuid.UUID(d.uuid).bytes
        with self.node.lock:
            for o in self.node.networks.values():
                if o.raw_uuid == raw and o.name != d.name:
                    raise error(ErrorNumber.OPERATION_FAILED, N,
                                f"network '{o.name}' is already defined with uuid {d.uuid}")
            old = self.node.networks.get(d.name)
            if old is not None:
                if old.raw_uuid != raw:
                    raise error(ErrorNumber.OPERATION_FAILED, N,
                                f"network '{d.name}' already exists with uuid "
                                f"{_uuid.UUID(bytes=old.raw_uuid)}")
                if active and old.active:
                    raise invalid(N, f"network is already active as '{d.name}'")
                old.def_ = d
                old.persistent = old.persistent or persistent
                old.active = old.active or active
                return old
            obj = NetObj(def_=d, name=d.name, raw_uuid=raw, active=active, persistent=persistent)
            self.node.networks[obj.name] = obj
            return obj

    def network_define_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, 1, "testNetworkDefineXMLFlags", T)
        n = self._add_network(xml, active=False, persistent=True)
        return (n.name, n.raw_uuid)

    def network_create_xml(self, xml: str, flags: int) -> NetworkRef:
        check_flags(flags, 1, "testNetworkCreateXMLFlags", T)
        n = self._add_network(xml, active=True, persistent=False)
        return (n.name, n.raw_uuid)

    def network_create(self, net: NetworkHandle) -> None:
        with self.node.lock:
            n = self._net(net)
            if n.active:
                raise invalid(T, f"Network '{n.name}' is already running")
            n.active = True

    def network_destroy(self, net: NetworkHandle) -> None:
        # libvirt's test driver stops an inactive network without complaint
        with self.node.lock:
            n = self._net(net)
            n.active = False
            if not n.persistent:
                del self.node.networks[n.name]

    def network_undefine(self, net: NetworkHandle) -> None:
        with self.node.lock:
            n = self._net(net)
            if n.active:
                raise invalid(T, f"Network '{n.name}' is still running")
            del self.node.networks[n.name]

    def network_get_xml_desc(self, net: NetworkHandle, flags: int) -> str:
        check_flags(flags, NetworkXMLFlags.INACTIVE, "testNetworkGetXMLDesc", T)
        with self.node.lock:
            return format_network(self._net(net).def_,
                                  inactive=bool(flags & NetworkXMLFlags.INACTIVE))

    def network_get_bridge_name(self, net: NetworkHandle) -> str:
        with self.node.lock:
            n = self._net(net)
            if not n.def_.bridge:
                raise error(ErrorNumber.INTERNAL_ERROR, T,
                            f"network '{n.name}' does not have a bridge name.")
            return str(n.def_.bridge)

    def network_is_active(self, net: NetworkHandle) -> bool:
        with self.node.lock:
            return self._net(net).active

    def network_is_persistent(self, net: NetworkHandle) -> bool:
        with self.node.lock:
            return self._net(net).persistent

    def network_get_autostart(self, net: NetworkHandle) -> bool:
        with self.node.lock:
            return self._net(net).autostart

    def network_set_autostart(self, net: NetworkHandle, autostart: bool) -> None:
        with self.node.lock:
            # libvirt's test driver lets a transient network be marked autostart
            self._net(net).autostart = autostart
