"""Emit pyvirt/libvirt.py: libvirt-python's names over pyvirt's object API.

`import pyvirt as libvirt` (or `import pyvirt.libvirt as libvirt`) gives libvirt-python's
classes and methods with its return conventions: 0 for success, ints for booleans, lists
for info records, virDomain/virNetwork/... wrappers for objects.
"""
from __future__ import annotations

from .common import HEADER
from .model import API, CLASSES, LV_CLASS, CName, Method, Type, load


def _hint(t: Type) -> str:
    if t.kind == "object":
        h = LV_CLASS[t.name]
    elif t.kind == "list" and t.item is not None:
        h = f"list[{_hint(t.item)}]"
    elif t.kind == "struct":
        h = "list[Any]"
    else:
        h = {"void": "int", "bool": "int", "str": "str", "bytes": "bytes", "uuid": "bytes",
             "uuidstr": "str", "callable": "Callable[..., Any]", "any": "Any"}.get(t.kind, "int")
    return f"{h} | None" if t.optional else h


def _lv_method(api: API, m: Method, c: CName) -> list[str]:
    free = m.free_args(c)
    params = ["self"] + [f"{a.name}: {_hint(a.type)}" + (f" = {a.default}" if a.default else "")
                         for a in free]
    ret = m.ret
    out = [f"    def {c.lv}({', '.join(params)}) -> {_hint(ret)}:",
           f'        """{m.doc} ({c.name})"""']
    call_args = []
    for a in m.args:
        if a.name in c.bind:
            call_args.append(c.bind[a.name])
        elif a.type.kind == "bool":
            call_args.append(f"bool({a.name})")
        elif a.type.kind == "object":
            call_args.append(f"{a.name}._o" if not a.type.optional
                             else f"None if {a.name} is None else {a.name}._o")
        else:
            call_args.append(a.name)
    call = f"self._o.{m.py}({', '.join(call_args)})"
    conn = "self" if m.cls == "Connection" else "self._conn"
    if ret.kind == "void":
        out += [f"        {call}", "        return 0"]
    elif ret.kind == "bool":
        out.append(f"        return 1 if {call} else 0")
    elif ret.kind == "struct":
        # plain ints in libvirt-python's lists, whatever IntEnum the record carries
        fields = api.structs[ret.name].fields
        items = ", ".join(f"int(r.{f})" if t.kind in ("enum", "int", "uint") else f"r.{f}"
                          for f, t in fields)
        out += [f"        r = {call}", f"        return [{items}]"]
    elif ret.kind == "object":
        out.append(f"        return {LV_CLASS[ret.name]}({conn}, {call})")
    elif ret.kind == "list" and ret.item is not None and ret.item.kind == "object":
        out.append(f"        return [{LV_CLASS[ret.item.name]}({conn}, x) for x in {call}]")
    else:
        out.append(f"        return {call}")
    out.append("")
    return out


def render() -> str:
    api = load()
    out = [HEADER, '"""libvirt-python\'s names: `import pyvirt as libvirt` runs libvirt-python scripts.',
           "", "Generated from bindings/api; the hand-written methods are in pyvirt/_lv_bases.py.",
           '"""', "from __future__ import annotations", "",
           "from typing import Any, Callable", "",
           "from .constants import *  # noqa: F401,F403  (libvirt's VIR_* names)",
           "from .errors import libvirtError  # noqa: F401",
           "from ._lv_bases import *  # noqa: F401,F403",
           "from ._lv_bases import (virConnectBase, virDomainBase, virNetworkBase,",
           "                        virStoragePoolBase, virStorageVolBase, virStreamBase,",
           "                        _bind_lv)", ""]
    for cls in CLASSES:
        lv = LV_CLASS[cls]
        out += ["", f"class {lv}({lv}Base):", "    __slots__ = ()", ""]
        for m in api.of(cls):
            if m.handwritten:
                continue
            for c in m.c:
                if not c.lv_handwritten:
                    out += _lv_method(api, m, c)
    out += ["", "_bind_lv(virConnect, virDomain, virNetwork, virStoragePool, virStorageVol, virStream)", ""]
    return "\n".join(out)
