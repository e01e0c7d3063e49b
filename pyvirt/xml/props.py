"""Reading attributes and element text with libvirt's checks and error messages.

These follow libvirt's virXMLProp* helpers (src/util/virxml.c, 9.0), whose errors
come from VIR_FROM_XML with VIR_ERR_XML_ERROR:
  "Missing required attribute 'model' in element 'memballoon'"
  "Invalid value for attribute 'placement' in element 'vcpu': 'bogus'."
  "Invalid value for attribute 'sockets' in element 'topology': 'x'. Expected non-negative integer value"
  "Invalid value for attribute 'sockets' in element 'topology': Zero is not permitted"
  "Invalid value for attribute 'index' in element 'controller': 'x'. Expected integer value"
  "Invalid value for attribute 'index' in element 'controller': '-1'. Expected non-negative value"
"""
from __future__ import annotations

from collections.abc import Container
from typing import Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from .units import UINT_MAX, parse_int, parse_ul_base

__all__ = [
    "ON_OFF",
    "YES_NO",
    "enum_attr",
    "int_attr",
    "missing_attr",
    "tristate_bool",
    "tristate_switch",
    "uint_attr",
    "ull_attr",
    "xml_error",
]

YES_NO = frozenset(("yes", "no"))
ON_OFF = frozenset(("on", "off"))


def xml_error(origin: int, detail: str) -> libvirtError:
    """VIR_ERR_XML_ERROR from `origin`: "XML error: <detail>"."""
    return error(ErrorNumber.XML_ERROR, origin, detail)


def missing_attr(el: Any, name: str) -> libvirtError:
    return xml_error(ErrorDomain.XML,
                     f"Missing required attribute '{name}' in element '{el.tag}'")


def enum_attr(el: Any, name: str, allowed: Container[str], required: bool = False) -> str | None:
    """virXMLPropEnum: the attribute, which must be one of `allowed`."""
    v: str | None = el.get(name)
    if v is None:
        if required:
            raise missing_attr(el, name)
        return None
    if v not in allowed:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute '{name}' in element '{el.tag}': '{v}'.")
    return v


def tristate_bool(el: Any, name: str, required: bool = False) -> str | None:
    """virXMLPropTristateBool: 'yes' or 'no'."""
    return enum_attr(el, name, YES_NO, required)


def tristate_switch(el: Any, name: str, required: bool = False) -> str | None:
    """virXMLPropTristateSwitch: 'on' or 'off'."""
    return enum_attr(el, name, ON_OFF, required)


def uint_attr(el: Any, name: str, *, required: bool = False, nonzero: bool = False,
              base: int = 10, limit: int = UINT_MAX) -> int | None:
    """virXMLPropUInt: a non-negative integer attribute."""
    v = el.get(name)
    if v is None:
        if required:
            raise missing_attr(el, name)
        return None
    n = parse_ul_base(v, base, limit)
    if n is None:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute '{name}' in element '{el.tag}': "
                        f"'{v}'. Expected non-negative integer value")
    if nonzero and n == 0:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute '{name}' in element '{el.tag}': "
                        "Zero is not permitted")
    return n


def ull_attr(el: Any, name: str, *, required: bool = False) -> int | None:
    """virXMLPropULongLong: a non-negative 64-bit attribute."""
    return uint_attr(el, name, required=required, limit=(1 << 64) - 1)


def int_attr(el: Any, name: str, *, required: bool = False, nonnegative: bool = False) -> int | None:
    """virXMLPropInt: a signed integer attribute."""
    v = el.get(name)
    if v is None:
        if required:
            raise missing_attr(el, name)
        return None
    n = parse_int(v)
    if n is None:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute '{name}' in element '{el.tag}': "
                        f"'{v}'. Expected integer value")
    if nonnegative and n < 0:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute '{name}' in element '{el.tag}': "
                        f"'{v}'. Expected non-negative value")
    return n
