"""Emit pyvirt/constants.py (+ its .pyi): libvirt's enums and flat VIR_* names.

The flat names are plain ints, as in libvirt-python. The IntEnum/IntFlag classes are
built on first use (PEP 562 module __getattr__): there are 171 of them and creating
them all costs more than the rest of `import pyvirt`. constants.pyi declares them for
type checkers.
"""
from __future__ import annotations

from .common import HEADER, constants


def _members(enum: dict[str, object]) -> list[tuple[str, str, int]]:
    return [(c, p, v) for c, p, v in enum["members"]]  # type: ignore[attr-defined]


def render() -> str:
    data = constants()
    enums = sorted(data["enum"].items(), key=lambda kv: kv[1]["py"])
    out = [HEADER, '"""libvirt\'s enumerations and constants, with libvirt\'s names and numbers.',
           "", "Flat VIR_* names are plain ints (as in libvirt-python); the enum classes",
           '(DomainState, ...) are created on first access."""',
           "from __future__ import annotations", "",
           "from enum import IntEnum, IntFlag", "from typing import Any", "",
           "# class name -> (C type, is a flag set, ((member, value), ...))",
           "_SPECS: dict[str, tuple[str, bool, tuple[tuple[str, int], ...]]] = {"]
    for c_type, e in enums:
        members = ", ".join(f"({p!r}, {v})" for _, p, v in _members(e))
        out.append(f"    {e['py']!r}: ({c_type!r}, {e['kind'] == 'flags'}, ({members},)),")
    out += ["}", "", "ENUM_NAMES = tuple(_SPECS)", "",
            "",
            "def __getattr__(name: str) -> Any:",
            "    spec = _SPECS.get(name)",
            "    if spec is None:",
            "        raise AttributeError(f\"module {__name__!r} has no attribute {name!r}\")",
            "    c_type, is_flags, members = spec",
            "    cls = (IntFlag if is_flags else IntEnum)(name, members, module=__name__)",
            "    cls.__doc__ = c_type",
            "    globals()[name] = cls",
            "    return cls",
            "", "",
            "# libvirt's flat names, plain ints as in libvirt-python",
            ]
    flat = []
    for c_type, e in sorted(data["enum"].items()):
        for c, _, v in _members(e):
            out.append(f"{c} = {v}")
            flat.append(c)
    out += ["", "# named constants that are not enum members (typed-parameter fields, sizes)"]
    for name, value in sorted(data["macros"].items()):
        out.append(f"{name} = {value!r}")
        flat.append(name)
    out += ["", "# `from pyvirt.constants import *` gives the flat names, as libvirt-python has them",
            "__all__ = ["]
    out += [f"    {n!r}," for n in sorted(flat)]
    out += ["]", "", "VIR_NAMES = frozenset(__all__)", ""]
    return "\n".join(out)


def render_stub() -> str:
    data = constants()
    out = [HEADER, "from enum import IntEnum, IntFlag", "",
           "ENUM_NAMES: tuple[str, ...]", "VIR_NAMES: frozenset[str]", "__all__: list[str]", ""]
    for c_type, e in sorted(data["enum"].items(), key=lambda kv: kv[1]["py"]):
        base = "IntFlag" if e["kind"] == "flags" else "IntEnum"
        out.append(f"class {e['py']}({base}):")
        for _, p, v in _members(e):
            out.append(f"    {p} = {v}")
        out.append("")
    for c_type, e in sorted(data["enum"].items()):
        for c, _, v in _members(e):
            out.append(f"{c}: int")
    for name, value in sorted(data["macros"].items()):
        out.append(f"{name}: {type(value).__name__}")
    out.append("")
    return "\n".join(out)
