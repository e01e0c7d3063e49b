"""Virtual network config XML (<network>): model, parsing, normalisation and formatting.

Follows libvirt 9.0's network_conf.c as seen through the test driver
(networkDefineXML + XMLDesc on test:///default):
- <forward/> means mode='nat'; <forward dev=X> gains <interface dev=X/>;
- bridged modes (none, nat, route, open) write <bridge ... stp='on|off' delay='N'/> even
  when no <bridge> was given; stp is on unless 'off';
- every <ip> is written with an opening and a closing tag, addresses in canonical form
  (inet_aton rules for IPv4, so 010.0.0.1 is 8.0.0.1), DHCP ranges must lie inside the
  network and not be reversed;
- a UUID is generated when none is given; elements libvirt knows but pyvirt does not
  model (dns, domain, route, portgroup, vlan, bandwidth, ...) are kept verbatim at
  libvirt's position, elements libvirt does not know are dropped as libvirt drops them.
"""
from __future__ import annotations

import copy
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from typing import Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error
from .common import attrs_of, fail, format_attrs
from .ids import RandomBytes, is_multicast, new_uuid, parse_mac, parse_uuid
from .order import NETWORK_RANK, UNKNOWN_TOP, by_rank
from .props import uint_attr, xml_error
from .safe import NETWORK, parse_document
from .text import RawElement, content, escape, raw
from .units import parse_ull

__all__ = [
    "DHCPHost",
    "DHCPRange",
    "NetworkDef",
    "NetworkForward",
    "NetworkIP",
    "format_network",
    "load_network",
    "network_from_element",
    "normalize_network",
    "parse_network",
]

N = ErrorDomain.NETWORK
FORWARD_MODES = frozenset(("none", "nat", "route", "open", "bridge", "private", "vepa",
                           "passthrough", "hostdev"))
_BRIDGED = frozenset(("none", "nat", "route", "open"))
_MODELED = frozenset(("name", "uuid", "forward", "bridge", "mtu", "mac", "ip"))


@dataclass(slots=True)
class DHCPRange:
    start: str
    end: str
    extra: list[RawElement] = field(default_factory=list)   # <lease>


@dataclass(slots=True)
class DHCPHost:
    mac: str | None = None
    id: str | None = None
    name: str | None = None
    ip: str | None = None
    extra: list[RawElement] = field(default_factory=list)   # <lease>


@dataclass(slots=True)
class NetworkIP:
    address: str | None = None
    family: str | None = None           # ipv4 / ipv6, as written
    netmask: str | None = None
    prefix: int | None = None
    local_ptr: str | None = None
    tftp_root: str | None = None
    ranges: list[DHCPRange] = field(default_factory=list)
    hosts: list[DHCPHost] = field(default_factory=list)
    bootp: RawElement | None = None


@dataclass(slots=True)
class NetworkForward:
    mode: str = "nat"
    interfaces: list[str] = field(default_factory=list)    # <interface dev=...>
    attrs: tuple[tuple[str, str], ...] = ()                # managed
    extra: list[RawElement] = field(default_factory=list)  # <nat>, <pf>, <driver>, ...


@dataclass(slots=True)
class NetworkDef:
    name: str
    uuid: str | None = None
    forward: NetworkForward | None = None
    bridge: str | None = None
    stp: bool = True
    delay: int = 0
    bridge_attrs: tuple[tuple[str, str], ...] = ()         # zone, macTableManager
    mtu: int | None = None
    mac: str | None = None
    ips: list[NetworkIP] = field(default_factory=list)
    attrs: tuple[tuple[str, str], ...] = ()                # ipv6, trustGuestRxFilters
    extra: list[RawElement] = field(default_factory=list)


def parse_network(xml: str | bytes) -> NetworkDef:
    """Parse network XML text (pure: no UUID is made up; see normalize_network)."""
    return network_from_element(parse_document(xml, NETWORK))


def load_network(xml: str | bytes, rand: RandomBytes = os.urandom) -> NetworkDef:
    """Parse and normalise network XML as networkDefineXML does."""
    n = parse_network(xml)
    if n.uuid is None:
        n.uuid = new_uuid(rand)
    return n


def normalize_network(n: NetworkDef, rand: RandomBytes = os.urandom) -> NetworkDef:
    """A copy of `n` with libvirt's define-time defaults (a random UUID when absent)."""
    n = copy.deepcopy(n)
    if n.uuid is None:
        n.uuid = new_uuid(rand)
    return n


def network_from_element(root: Any) -> NetworkDef:
    first: dict[str, Any] = {}
    ips: list[Any] = []
    extra: list[RawElement] = []
    for c in root:
        t = c.tag
        if t == "ip":
            ips.append(c)
        elif t in _MODELED:
            first.setdefault(t, c)
        elif t in NETWORK_RANK or (isinstance(t, str) and t[0] == "{"):
            extra.append(raw(c))
    el = first.get("name")
    name = content(el) if el is not None else ""
    if not name:
        raise fail(ErrorNumber.NO_NAME, N, "missing name information")
    if "/" in name:
        raise error(ErrorNumber.XML_DETAIL, ErrorDomain.XML, "invalid char in name: /")
    n = NetworkDef(name, attrs=tuple((k, v) for k, v in root.attrib.items()
                                     if k in ("ipv6", "trustGuestRxFilters")),
                   extra=by_rank(extra, NETWORK_RANK, UNKNOWN_TOP))
    el = first.get("uuid")
    if el is not None and content(el):
        n.uuid = parse_uuid(content(el))
        if n.uuid is None:
            raise error(ErrorNumber.INTERNAL_ERROR, N, "malformed uuid element")
    el = first.get("bridge")
    if el is not None:
        n.bridge = el.get("name")
        n.stp = el.get("stp") != "off"
        delay = el.get("delay")
        if delay is not None:
            d = parse_ull(delay)
            if d is None or d > (1 << 63) - 1:
                raise xml_error(N, f"Invalid delay value in network '{name}'")
            n.delay = d
        n.bridge_attrs = attrs_of(el, frozenset(("name", "stp", "delay")))
    el = first.get("mtu")
    if el is not None:
        n.mtu = uint_attr(el, "size")
    el = first.get("mac")
    if el is not None:
        addr = el.get("address", "")
        mac = parse_mac(addr)
        if mac is None:
            raise xml_error(N, f"Invalid bridge mac address '{addr}' in network '{name}'")
        if is_multicast(mac):
            raise xml_error(N, f"Invalid multicast bridge mac address '{addr}' in network "
                               f"'{name}'")
        n.mac = mac
    n.ips = [_ip(x, name) for x in ips]
    el = first.get("forward")
    if el is not None:
        n.forward = _forward(el, name)
        if n.forward.mode in ("nat", "route") and not any(
                (ip.family or _family(ip.address)) == "ipv4" for ip in n.ips):
            raise xml_error(N, f"{n.forward.mode} forwarding requested, but no IP address "
                               f"provided for network '{name}'")
    return n


def _forward(el: Any, name: str) -> NetworkForward:
    mode = el.get("mode", "nat")
    if mode not in FORWARD_MODES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, N, f"unknown forwarding type '{mode}'")
    fw = NetworkForward(mode, attrs=attrs_of(el, frozenset(("mode", "dev"))))
    for c in el:
        if c.tag == "interface":
            dev = c.get("dev")
            if dev:
                fw.interfaces.append(dev)
        elif isinstance(c.tag, str):
            fw.extra.append(raw(c))
    dev = el.get("dev")
    if dev:
        if fw.interfaces and fw.interfaces[0] != dev:
            raise xml_error(N, f"<forward dev='{dev}'> must match first <interface "
                               f"dev='{fw.interfaces[0]}'/> in network {name}")
        if not fw.interfaces:
            fw.interfaces.append(dev)
    return fw


def _canonical_ip(text: str) -> str | None:
    """virSocketAddrParse + virSocketAddrFormat: inet_aton rules for IPv4, RFC 5952 for IPv6."""
    if ":" in text:
        try:
            return socket.inet_ntop(socket.AF_INET6, socket.inet_pton(socket.AF_INET6, text))
        except OSError:
            return None
    if not text or text.strip() != text:
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(text))
    except OSError:
        return None


def _family(addr: str | None) -> str | None:
    if addr is None:
        return None
    return "ipv6" if ":" in addr else "ipv4"


def _ip(el: Any, name: str) -> NetworkIP:
    ip = NetworkIP(family=el.get("family"), local_ptr=el.get("localPtr"))
    addr = el.get("address")
    if addr is None:
        raise xml_error(N, f"Missing required address attribute in network '{name}'")
    ip.address = _canonical_ip(addr)
    if ip.address is None:
        raise xml_error(N, f"Invalid address '{addr}' in network '{name}'")
    mask = el.get("netmask")
    if mask is not None:
        ip.netmask = _canonical_ip(mask)
        if ip.netmask is None:
            raise xml_error(N, f"Invalid netmask '{mask}' in network '{name}'")
    ip.prefix = uint_attr(el, "prefix")
    fam = _family(ip.address)
    C = ErrorNumber.CONFIG_UNSUPPORTED
    if ip.family is not None and ip.family != fam:
        if ip.family in ("ipv4", "ipv6"):
            raise error(C, N, f"{ip.family} family specified for non-"
                              f"{'IPv4' if ip.family == 'ipv4' else 'IPv6'} address "
                              f"'{ip.address}' in network '{name}'")
        raise error(C, N, f"Unrecognized family '{ip.family}' in network '{name}'")
    if ip.netmask is not None and ip.prefix is not None:
        raise error(C, N, f"Network '{name}' IP address cannot have both a prefix and a "
                          "netmask")
    if fam == "ipv6" and ip.netmask is not None:
        raise error(C, N, f"netmask not allowed for IPv6 address '{ip.address}' in network "
                          f"'{name}'")
    if ip.prefix is not None and ip.prefix > (32 if fam == "ipv4" else 128):
        raise error(C, N, f"Invalid {'IPv4' if fam == 'ipv4' else 'IPv6'} prefix "
                          f"'{ip.prefix}' in network '{name}'")
    for c in el:
        if c.tag == "tftp" and ip.tftp_root is None:
            ip.tftp_root = c.get("root")
        elif c.tag == "dhcp":
            _dhcp(c, ip, name)
    return ip


def _network_of(ip: NetworkIP) -> Any:
    """The ip's network (virSocketAddrGetIPPrefix: prefix, netmask or the address class)."""
    assert ip.address is not None
    if ip.prefix is not None:
        plen = ip.prefix
    elif ip.netmask is not None:
        plen = int(ipaddress.ip_address(ip.netmask)).bit_count()
    elif ":" in ip.address:
        plen = 64
    else:
        first = int(ip.address.split(".")[0])
        plen = 8 if first < 128 else 16 if first < 192 else 24
    return ipaddress.ip_network(f"{ip.address}/{plen}", strict=False), plen


def _dhcp(el: Any, ip: NetworkIP, name: str) -> None:
    for c in el:
        t = c.tag
        if t == "range":
            start, end = c.get("start"), c.get("end")
            for what, v in (("start", start), ("end", end)):
                if v is None:
                    raise xml_error(N, f"Missing '{what}' attribute in dhcp range for "
                                       f"network '{name}'")
            assert start is not None and end is not None
            s, e = _canonical_ip(start), _canonical_ip(end)
            for orig, canon in ((start, s), (end, e)):
                if canon is None:
                    raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.NONE,
                                f"Cannot parse socket address '{orig}': Name or service "
                                "not known")
            assert s is not None and e is not None
            net, plen = _network_of(ip)
            sa, ea = ipaddress.ip_address(s), ipaddress.ip_address(e)
            if sa not in net or ea not in net:
                raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE,
                            f"range {s} - {e} is not entirely within network "
                            f"{ip.address}/{plen}")
            if int(sa) > int(ea):
                raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE,
                            f"range {s} - {e} is reversed ")
            ip.ranges.append(DHCPRange(s, e, [raw(x) for x in c]))
        elif t == "host":
            h = DHCPHost(c.get("mac"), c.get("id"), c.get("name"), c.get("ip"),
                         [raw(x) for x in c])
            if h.mac is not None and parse_mac(h.mac) is None:
                raise xml_error(N, f"Cannot parse MAC address '{h.mac}' in network '{name}'")
            if h.ip is not None:
                canon = _canonical_ip(h.ip)
                if canon is None:
                    raise xml_error(N, f"Invalid IP address in static host definition for "
                                       f"network '{name}'")
                h.ip = canon
            ip.hosts.append(h)
        elif t == "bootp" and ip.bootp is None:
            ip.bootp = raw(c)


def format_network(n: NetworkDef, *, inactive: bool = False) -> str:
    """Network XML for `n` in libvirt's layout (virNetworkDefFormatBuf), ending in a newline."""
    parts: list[tuple[float, str]] = [(0, f"  <name>{escape(n.name)}</name>\n")]
    p = parts.append
    if n.uuid:
        p((1, f"  <uuid>{n.uuid}</uuid>\n"))
    fw = n.forward
    mode = fw.mode if fw is not None else "none"
    if fw is not None and mode != "none":
        dev = f" dev='{escape(fw.interfaces[0])}'" if fw.interfaces else ""
        head = f"  <forward{dev} mode='{mode}'{format_attrs(fw.attrs)}"
        inner = "".join(r.format("    ") for r in fw.extra)
        inner += "".join(f"    <interface dev='{escape(i)}'/>\n" for i in fw.interfaces)
        p((3, f"{head}>\n{inner}  </forward>\n" if inner else f"{head}/>\n"))
    if mode in _BRIDGED or n.bridge or n.bridge_attrs:
        b = "  <bridge"
        if n.bridge:
            b += f" name='{escape(n.bridge)}'"
        b += format_attrs(n.bridge_attrs)
        if mode in _BRIDGED:
            b += f" stp='{'on' if n.stp else 'off'}' delay='{n.delay}'"
        p((4, b + "/>\n"))
    if n.mtu:
        p((5, f"  <mtu size='{n.mtu}'/>\n"))
    if n.mac:
        p((6, f"  <mac address='{n.mac}'/>\n"))
    for ip in n.ips:
        p((12, _format_ip(ip)))
    for r in n.extra:
        text = r.format("  ")
        if r.tag == "portgroup" and text.endswith("/>\n") and "\n" not in r.xml:
            # virPortGroupDefFormat always opens and closes the element
            text = text[:-3] + ">\n  </portgroup>\n"
        p((NETWORK_RANK.get(r.tag, UNKNOWN_TOP), text))
    parts.sort(key=lambda t: t[0])
    return f"<network{format_attrs(n.attrs)}>\n" + "".join(t[1] for t in parts) + "</network>\n"


def _format_ip(ip: NetworkIP) -> str:
    s = "  <ip"
    if ip.family:
        s += f" family='{ip.family}'"
    if ip.address:
        s += f" address='{ip.address}'"
    if ip.netmask:
        s += f" netmask='{ip.netmask}'"
    if ip.prefix:
        s += f" prefix='{ip.prefix}'"
    if ip.local_ptr:
        s += f" localPtr='{ip.local_ptr}'"
    s += ">\n"
    if ip.tftp_root:
        s += f"    <tftp root='{escape(ip.tftp_root)}'/>\n"
    if ip.ranges or ip.hosts:
        s += "    <dhcp>\n"
        for r in ip.ranges:
            head = f"      <range start='{r.start}' end='{r.end}'"
            if r.extra:
                s += head + ">\n" + "".join(x.format("        ") for x in r.extra) \
                    + "      </range>\n"
            else:
                s += head + "/>\n"
        for h in ip.hosts:
            head = "      <host"
            for k, v in (("mac", h.mac), ("id", h.id), ("name", h.name), ("ip", h.ip)):
                if v is not None:
                    head += f" {k}='{escape(v)}'"
            if h.extra:
                s += head + ">\n" + "".join(x.format("        ") for x in h.extra) \
                    + "      </host>\n"
            else:
                s += head + "/>\n"
        if ip.bootp is not None:
            s += ip.bootp.format("      ")
        s += "    </dhcp>\n"
    return s + "  </ip>\n"
