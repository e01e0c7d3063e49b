"""Seed bindings/api/constants.toml from libvirt's published API XML.

Run once (or when moving to a newer libvirt) on a machine with libvirt-dev:

    python bindings/tools/import_constants.py /usr/share/libvirt/api > bindings/api/constants.toml

Names and numbers are facts of libvirt's ABI; this tool records them as data, together
with the Pythonic names pyvirt uses for them, so nothing later derives names by slicing
strings. After seeding, constants.toml is ordinary hand-maintained data.
"""
from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

FLAG_SUFFIXES = ("Flags", "FlagValues", "FlagsValues", "Flag")


def py_class_name(c_type: str) -> str:
    return c_type[3:] if c_type.startswith("vir") else c_type


def member_names(names: list[str], values: list[int]) -> dict[str, str]:
    """Shortest member names that stay valid identifiers and unique inside one enum.

    The common prefix is taken over the real members; *_LAST sentinels (whose spelling
    sometimes strays from the enum's prefix, e.g. VIR_ERR_DOMAIN_LAST) are named LAST.
    """
    if all(n.startswith(("VIR_ERR_", "VIR_WAR_")) for n in names) and len(names) > 3:
        return {n: n[len("VIR_ERR_"):] if n.startswith("VIR_ERR_") else n[4:] for n in names}
    top = max(values)
    real = [n for n, v in zip(names, values) if not (n.endswith("_LAST") and v == top)] or names
    out = {n: "LAST" for n in names if n not in real}
    if len(real) == 1:
        parts = real[0].split("_")
        short = parts[-1]
        out[real[0]] = short if short[:1].isalpha() else "_".join(parts[-2:])
        return out
    split = [n.split("_") for n in real]
    common = 0
    while all(len(p) > common + 1 for p in split) and len({p[common] for p in split}) == 1:
        common += 1
    for n, p in zip(real, split):
        k = common
        while k > 0 and not p[k][:1].isalpha():
            k -= 1
        out[n] = "_".join(p[k:])
    return out


def toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(api_dir: str) -> None:
    enums: dict[str, list[tuple[str, int]]] = defaultdict(list)
    macros: dict[str, str | int] = {}
    pending: list[tuple[str, str, str]] = []
    for fname in ("libvirt-api.xml", "libvirt-qemu-api.xml", "libvirt-lxc-api.xml"):
        path = Path(api_dir) / fname
        if not path.exists():
            continue
        root = ET.parse(path).getroot()
        for e in root.iter("enum"):
            pending.append((e.get("type", ""), e.get("name", ""), e.get("value", "0")))
        for m in root.iter("macro"):
            name = m.get("name", "")
            if not name.startswith("VIR_") or m.get("params"):
                continue
            if m.get("string") is not None:
                macros[name] = m.get("string", "")
            elif re.fullmatch(r"-?\d+", m.get("raw", "") or ""):
                macros[name] = int(m.get("raw", "0"))
    known = {name: int(v) for _, name, v in pending if re.fullmatch(r"-?\d+", v)}
    for c_type, name, v in pending:
        # a few members are defined as another member's name (aliases), even across files
        enums[c_type].append((name, known[v] if v in known else int(v)))
    print("# The API's enumerations and named constants: libvirt's C names and numbers, the")
    print("# Pythonic enum each belongs to and its member name there. Seeded by")
    print("# bindings/tools/import_constants.py from libvirt 9.0.0's API XML; hand-maintained since.")
    print("# kind: enum -> IntEnum, flags -> IntFlag.")
    for c_type in sorted(enums):
        members = sorted(enums[c_type], key=lambda m: (m[1], m[0]))
        values = [v for _, v in members]
        kind = "flags" if c_type.endswith(FLAG_SUFFIXES) and min(values) >= 0 else "enum"
        short = member_names([n for n, _ in members], [v for _, v in members])
        print()
        print(f"[enum.{c_type}]")
        print(f"py = {toml_str(py_class_name(c_type))}")
        print(f"kind = {toml_str(kind)}")
        print("members = [")
        for n, v in members:
            print(f"  [{toml_str(n)}, {toml_str(short[n])}, {v}],")
        print("]")
    print()
    print("[macros]")
    for name in sorted(macros):
        v = macros[name]
        print(f"{name} = {toml_str(v) if isinstance(v, str) else v}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/usr/share/libvirt/api")
