"""Emit pyvirt/constants.py: IntEnum/IntFlag classes plus libvirt's flat VIR_* names."""
from __future__ import annotations

from .common import HEADER, constants


def render() -> str:
    data = constants()
    out = [HEADER, '"""libvirt\'s enumerations and constants, with libvirt\'s names and numbers."""\n',
           "from enum import IntEnum, IntFlag\n", "\n"]
    flat: list[tuple[str, str, str]] = []
    for c_type in sorted(data["enum"]):
        enum = data["enum"][c_type]
        base = "IntFlag" if enum["kind"] == "flags" else "IntEnum"
        out.append(f"\nclass {enum['py']}({base}):\n")
        out.append(f'    """{c_type}"""\n\n')
        for c_name, py_name, value in enum["members"]:
            out.append(f"    {py_name} = {value}\n")
        for c_name, py_name, value in enum["members"]:
            flat.append((c_name, enum["py"], py_name))
    out.append("\n\n# libvirt's flat names, plain ints as in libvirt-python (the enums above carry\n")
    out.append("# the same numbers for the Pythonic API).\n")
    values = {c: v for e in data["enum"].values() for c, _, v in e["members"]}
    for c_name, cls, py_name in flat:
        out.append(f"{c_name} = {values[c_name]}\n")
    out.append("\n# libvirt's named constants that are not enum members (typed-parameter\n")
    out.append("# field names, buffer sizes).\n")
    for name, value in sorted(data["macros"].items()):
        out.append(f"{name} = {value!r}\n")
    names = sorted({c for c, _, _ in flat} | set(data["macros"]))
    enums = sorted(e["py"] for e in data["enum"].values())
    out.append("\nENUMS = (\n" + "".join(f"    {e},\n" for e in enums) + ")\n")
    out.append("\nVIR_NAMES = frozenset((\n" + "".join(f"    {n!r},\n" for n in names) + "))\n")
    return "".join(out)
