"""Emit pyvirt/capi.py: libvirt's C names as functions over pyvirt's object API.

C conventions: failures return -1 (or None for pointers and strings) and leave the error
for virGetLastError(); this layer alone keeps a "last error".
"""
from __future__ import annotations

from .common import HEADER
from .hints import api_hint
from .model import CLASSES, CName, Method, load

FIRST_ARG = {"Connection": "conn", "Domain": "domain", "Network": "network",
             "StoragePool": "pool", "StorageVol": "vol"}
_FAIL_IS_NONE = {"str", "bytes", "object", "list", "struct"}


def _capi_fn(m: Method, c: CName) -> list[str]:
    free = m.free_args(c)
    first = FIRST_ARG[m.cls]
    params = [f"{first}: {m.cls}"] + [
        f"{a.name}: {api_hint(a.type)}" + (f" = {a.default}" if a.default else "") for a in free]
    ret = m.ret
    fail_none = ret.kind in _FAIL_IS_NONE
    hint = "int" if ret.kind in ("void", "bool") else api_hint(ret)
    if fail_none:
        hint += " | None"
    call_args = [c.bind[a.name] if a.name in c.bind else a.name for a in m.args]
    call = f"{first}.{m.py}({', '.join(call_args)})"
    out = [f"def {c.name}({', '.join(params)}) -> {hint}:", f'    """{m.doc}"""', "    try:"]
    if ret.kind == "void":
        out += [f"        {call}", "    except libvirtError as e:", "        return _fail(e, -1)",
                "    return 0"]
    elif ret.kind == "bool":
        out += [f"        return 1 if {call} else 0", "    except libvirtError as e:",
                "        return _fail(e, -1)"]
    else:
        out += [f"        return {call}", "    except libvirtError as e:",
                f"        return _fail(e, {'None' if fail_none else '-1'})"]
    out.append("")
    return out


def render() -> str:
    api = load()
    names = []
    out = [HEADER, '"""libvirt\'s C names: virConnectOpen, virDomainLookupByName, virDomainSuspend, ...',
           "", "Generated from bindings/api; calls on the handle classes themselves (open, names,",
           'UUIDs) and the last-error shim are in pyvirt/_capi_bases.py."""',
           "from __future__ import annotations", "", "from typing import Any, Callable", "",
           "from . import types as T",
           "from ._api import " + ", ".join(CLASSES),
           "from ._capi_bases import *  # noqa: F401,F403",
           "from ._capi_bases import _fail",
           "from .errors import libvirtError", ""]
    for m in api.methods:
        if m.handwritten or m.cls == "module":
            continue
        for c in m.c:
            out += ["", *_capi_fn(m, c)]
            names.append(c.name)
    return "\n".join(out) + "\n"
