"""Pieces shared by the domain parser and formatter: device addresses, aliases, orders.

Device addresses follow libvirt's virDomainDeviceAddressParseXML /
virDomainDeviceInfoFormat: PCI numbers are read with base 0 (0x.. hex, 0.. octal) and
written as domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'; drive
addresses are written controller/bus/target/unit in decimal; other address types are
kept as written.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError, lookup
from .domain_model import Address, Attrs
from .order import UNKNOWN_CHILD
from .props import enum_attr, uint_attr, xml_error
from .text import RawElement, escape, raw

__all__ = [
    "ADDRESS_TYPES",
    "attrs_of",
    "fail",
    "format_address",
    "format_attrs",
    "merge_ranked",
    "order_attrs",
    "parse_address",
]

# virDomainDeviceAddressType names (9.0), "none" excluded
ADDRESS_TYPES = frozenset((
    "pci", "drive", "virtio-serial", "ccid", "usb", "spapr-vio", "virtio-s390", "ccw",
    "virtio-mmio", "isa", "dimm", "unassigned",
))


_HEX = re.compile(r"0[xX][0-9a-fA-F]{1,8}\Z")
_PCI_LIMITS = (("domain", 0xFFFF), ("bus", 0xFF), ("slot", 0x1F), ("function", 7))


def fail(code: int, origin: int, message: str, str1: str | None = None,
         str2: str | None = None) -> libvirtError:
    """An error whose message libvirt builds without one of errors.py's templates
    (str1 is the template, str2 the detail, as virRaiseErrorFull stores them)."""
    return lookup(code)(message, code=code, domain=origin, str1=str1 or message, str2=str2)


def attrs_of(el: Any, skip: frozenset[str]) -> Attrs:
    """The element's attributes other than `skip`, as written."""
    return tuple((k, v) for k, v in el.attrib.items() if k not in skip)


def order_attrs(attrs: Attrs, order: Mapping[str, int]) -> Attrs:
    """Attributes in libvirt's order for the element; unknown ones after, as written."""
    if len(attrs) < 2:
        return attrs
    big = len(order)
    return tuple(sorted(attrs, key=lambda kv: order.get(kv[0], big)))


def format_attrs(attrs: Attrs) -> str:
    if not attrs:
        return ""
    return "".join(f" {k}='{escape(v)}'" for k, v in attrs)


def merge_ranked(parts: list[tuple[float, str]], extra: list[RawElement],
                 rank: Mapping[str, float], indent: str) -> str:
    """Interleave formatted children with verbatim ones at libvirt's position by name."""
    if extra:
        parts = parts + [(rank.get(r.tag, UNKNOWN_CHILD), r.format(indent)) for r in extra]
        parts.sort(key=lambda p: p[0])
    return "".join(p[1] for p in parts)


def parse_address(el: Any) -> Address:
    """An <address> element (virDomainDeviceAddressParseXML)."""
    atype = el.get("type")
    if atype is None:
        raise xml_error(ErrorDomain.DOMAIN, "No type specified for device address")
    if atype not in ADDRESS_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, ErrorDomain.DOMAIN,
                    f"unknown address type '{atype}'")
    if atype == "pci":
        vals = []
        attrib = el.attrib
        for name, limit in _PCI_LIMITS:
            text = attrib.get(name)
            if text is None:
                v = 0
            elif _HEX.match(text):  # the usual 0x.. spelling, fast
                v = int(text, 16)
            else:
                v = uint_attr(el, name, base=0) or 0
            if v > limit:
                # virPCIDeviceAddressIsValid's wording (VIR_FROM_NONE)
                raise xml_error(ErrorDomain.NONE, f"Invalid PCI address {name}='0x{v:x}', "
                                f"must be <= 0x{limit:X}")
            vals.append(v)
        mf = enum_attr(el, "multifunction", ("on", "off")) if "multifunction" in attrib else None
        return Address("pci", vals[0], vals[1], vals[2], vals[3], mf,
                       extra=[raw(c) for c in el if isinstance(c.tag, str)] if len(el) else [])
    if atype == "drive":
        c = uint_attr(el, "controller")
        b = uint_attr(el, "bus")
        t = uint_attr(el, "target")
        u = uint_attr(el, "unit")
        return Address("drive", bus=b or 0, controller=c or 0, target=t or 0, unit=u or 0)
    return Address(atype, attrs=tuple((k, v) for k, v in el.attrib.items() if k != "type"))


def format_address(a: Address, indent: str) -> str:
    if a.type == "pci":
        mf = f" multifunction='{a.multifunction}'" if a.multifunction else ""
        head = (f"{indent}<address type='pci' domain='0x{a.domain:04x}' bus='0x{a.bus:02x}' "
                f"slot='0x{a.slot:02x}' function='0x{a.function:x}'{mf}")
        if a.extra:
            inner = "".join(r.format(indent + "  ") for r in a.extra)
            return f"{head}>\n{inner}{indent}</address>\n"
        return head + "/>\n"
    if a.type == "drive":
        return (f"{indent}<address type='drive' controller='{a.controller}' bus='{a.bus}' "
                f"target='{a.target}' unit='{a.unit}'/>\n")
    return f"{indent}<address type='{a.type}'{format_attrs(a.attrs)}/>\n"
