"""Emit pyvirt/_api.py: the Pythonic classes' public entry points.

Every entry is the same template (STYLE.md, "one public-entry template"): the connection
is still open, a write is refused on a read-only connection, the arguments are checked,
then the driver slot is called. No driver logic lives here.
"""
from __future__ import annotations

from .common import HEADER
from .hints import api_hint, check_lines
from .model import CLASSES, LV_CLASS, Method, load

DRIVER_ATTR = {"hypervisor": "_hv", "network": "_net", "storage": "_stor"}
# libvirt reports a public entry's argument and permission errors from the object
# family's source file (libvirt-domain.c: VIR_FROM_DOMAIN, ...).
ORIGIN = {"hypervisor": "_FROM_DOMAIN", "network": "_FROM_NETWORK", "storage": "_FROM_STORAGE"}


def _wrap(m: Method, expr: str, conn: str) -> str:
    t = m.ret
    if t.kind == "object":
        return f"{t.name}({conn}, *{expr})"
    if t.kind == "list" and t.item is not None and t.item.kind == "object":
        return f"[{t.item.name}({conn}, *x) for x in {expr}]"
    return expr


def _signature(m: Method) -> str:
    parts = ["self"]
    for a in m.args:
        s = f"{a.name}: {api_hint(a.type)}"
        if a.default is not None:
            s += f" = {a.default}"
        parts.append(s)
    return ", ".join(parts)


def _docstring(m: Method, indent: str) -> list[str]:
    cnames = ", ".join(c.name for c in m.c)
    lv = ", ".join(f"{LV_CLASS.get(m.cls, 'libvirt')}.{c.lv}" for c in m.c)
    if not m.c:     # pyvirt's own shape of a libvirt call (see the description's `cname`)
        return [f'{indent}"""{m.doc}', "", f"{indent}Like C {m.cname}.", f'{indent}"""']
    return [f'{indent}"""{m.doc}', "", f"{indent}C: {cnames}. libvirt-python: {lv}.",
            f'{indent}"""']


def _entry(m: Method) -> list[str]:
    ind = "        "
    cname = m.primary_c
    out = [f"    def {m.py}({_signature(m)}) -> {api_hint(m.ret)}:"]
    out += _docstring(m, ind)
    if m.cls == "Connection":
        conn = "self"
    else:
        out.append(f"{ind}c = self._conn")
        conn = "c"
    attr = DRIVER_ATTR[m.table]
    out.append(f"{ind}drv = {conn}.{attr}")
    out.append(f"{ind}if drv is None:")
    out.append(f"{ind}    raise {conn}._invalid({cname!r})")
    origin = ORIGIN[m.table]
    if m.write:
        out.append(f"{ind}if {conn}._ro:")
        out.append(f"{ind}    raise _denied({cname!r}, {origin})")
    for a in m.args:
        out += check_lines(a, cname, ind, origin)
        rule = m.arg_rules.get(a.name)
        if rule:
            test, text = rule
            message = text.format(arg=a.name, func=cname)
            out.append(f"{ind}if {test}:")
            out.append(f"{ind}    raise _range_error({a.name!r}, {cname!r}, {message!r}, {origin})")
    if m.ro_flags:
        bits, what = m.ro_flags
        out.append(f"{ind}if {conn}._ro and flags & {bits}:")
        out.append(f"{ind}    raise _denied_flags({cname!r}, {what!r}, {origin})")
    call_args = ([] if m.cls == "Connection" else ["self"]) + [
        f"bool({a.name})" if a.type.kind == "bool" else
        f"{a.name}_raw" if a.type.kind == "uuidstr" else a.name for a in m.args]
    call = f"drv.{m.slot}({', '.join(call_args)})"
    if m.ret.kind == "void":
        out.append(f"{ind}{call}")
    elif _wrap(m, "r", conn) == "r":
        out.append(f"{ind}return {call}")
    else:
        out.append(f"{ind}r = {call}")
        out.append(f"{ind}return {_wrap(m, 'r', conn)}")
    return out


def render() -> str:
    api = load()
    out = [HEADER, '"""pyvirt\'s object API: Connection, Domain, Network, StoragePool, StorageVol, Stream.',
           "", "The entry points are generated from bindings/api/functions.toml; the",
           "hand-written parts (handles, events, context managers) live in the base",
           'classes each class extends."""', "from __future__ import annotations", "",
           "from typing import Any, Callable", "", "from . import types as T",
           "from ._entry import (FROM_DOMAIN as _FROM_DOMAIN, FROM_NETWORK as _FROM_NETWORK,",
           "                     FROM_STORAGE as _FROM_STORAGE, arg_error as _arg_error,",
           "                     denied as _denied, denied_flags as _denied_flags,",
           "                     range_error as _range_error, uuid_bytes as _uuid_bytes)",
           "from .connection import ConnectionBase",
           "from .domain import DomainBase",
           "from .network import NetworkBase",
           "from .storage import StoragePoolBase, StorageVolBase",
           "from .stream import StreamBase", "",
           "__all__ = " + repr(list(CLASSES)), ""]
    for cls in CLASSES:
        out += ["", f"class {cls}({cls}Base):"]
        out.append("    __slots__ = ()")
        for m in api.of(cls):
            if m.handwritten:
                continue
            out.append("")
            out += _entry(m)
        out.append("")
    out += ["", "ConnectionBase._bind(Connection, Domain, Network, StoragePool, StorageVol)", ""]
    return "\n".join(out)
