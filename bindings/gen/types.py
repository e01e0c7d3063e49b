"""Emit pyvirt/types.py: the API's result records as dataclasses."""
from __future__ import annotations

from .common import HEADER, constants
from .hints import api_hint
from .model import load


def render() -> str:
    api = load()
    enums = constants()["enum"]
    used = sorted({t.name for s in api.structs.values() for _, t in s.fields if t.kind == "enum"})
    out = [HEADER, '"""Result records of the API (info, state, ...) as dataclasses.', "",
           "Each iterates over its fields in libvirt's order, so `list(dom.info())` gives what",
           'libvirt-python\'s info() returns and tuple unpacking works."""',
           "from __future__ import annotations", "",
           "from collections.abc import Iterator",
           "from dataclasses import dataclass", "from typing import Any", "",
           "from .constants import " + ", ".join(enums[e]["py"] for e in used), "",
           "__all__ = " + repr(sorted(api.structs)), ""]
    for name, s in api.structs.items():
        out += ["", "@dataclass(slots=True)", f"class {name}:", f'    """{s.doc}"""', ""]
        for fname, t in s.fields:
            hint = enums[t.name]["py"] if t.kind == "enum" else api_hint(t, "")
            out.append(f"    {fname}: {hint}")
        fields = ", ".join(f"self.{f}" for f, _ in s.fields)
        out += ["", "    def __iter__(self) -> Iterator[Any]:",
                f"        return iter(({fields},))", ""]
    return "\n".join(out)
