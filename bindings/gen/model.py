"""The API description loaded into typed records, validated once for every generator."""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from .common import API_DIR, constants

CLASSES = ("Connection", "Domain", "Network", "StoragePool", "StorageVol", "Stream")
HANDLE_CLASSES = ("Domain", "Network", "StoragePool", "StorageVol")
TABLE_OF_CLASS = {"Domain": "hypervisor", "Network": "network", "StoragePool": "storage",
                  "StorageVol": "storage", "Connection": "hypervisor", "Stream": "hypervisor"}
# libvirt-python's class for each Pythonic class
LV_CLASS = {"Connection": "virConnect", "Domain": "virDomain", "Network": "virNetwork",
            "StoragePool": "virStoragePool", "StorageVol": "virStorageVol",
            "Stream": "virStream"}
SCALARS = {"int", "uint", "long", "ulong", "bool", "str", "bytes", "uuid", "uuidstr",
           "void", "callable", "any"}


@dataclass(frozen=True)
class Type:
    """A type in the description's notation."""
    kind: str            # scalar name, "flags", "enum", "list", "object", "struct"
    name: str = ""       # enum C type, object/struct name
    item: "Type | None" = None
    optional: bool = False

    @property
    def is_object(self) -> bool:
        return self.kind == "object"


@dataclass(frozen=True)
class Arg:
    name: str
    type: Type
    default: str | None  # Python source text of the default, or None when required


@dataclass(frozen=True)
class CName:
    name: str            # libvirt's C name
    lv: str              # libvirt-python method (or module function) name
    proc: str            # wire procedure name ("" when the call never reaches a driver)
    bind: dict[str, str]  # arguments fixed by this C/lv call: name -> Python source
    lv_handwritten: bool
    since: str


@dataclass(frozen=True)
class Method:
    cls: str             # "module" or one of CLASSES
    py: str
    args: tuple[Arg, ...]
    ret: Type
    slot: str | None
    table: str
    write: bool
    doc: str
    c: tuple[CName, ...]
    handwritten: bool
    module: str = ""     # for cls == "module": the Python module of the Pythonic function
    # argument -> (Python test that is true when the value is refused, libvirt's rule text)
    arg_rules: dict[str, tuple[str, str]] = field(default_factory=dict)
    # (flag bits, what) refused on read-only connections, e.g. (1, "secure flag")
    ro_flags: tuple[int, str] | None = None
    # the C name errors cite when no `c` entry maps onto the method (its C and
    # libvirt-python forms have another shape, e.g. virDomainOpenConsole takes a stream)
    cname: str = ""
    # the arguments the driver slot receives, when not all of them (a Stream argument is
    # the public call's business: the slot returns the channel the stream is tied to)
    slot_args: tuple[str, ...] | None = None

    @property
    def primary_c(self) -> str:
        return self.c[0].name if self.c else self.cname

    def free_args(self, c: CName) -> tuple[Arg, ...]:
        """The arguments the C/lv call still takes once its bound ones are fixed."""
        return tuple(a for a in self.args if a.name not in c.bind)

    def slot_params(self) -> tuple[Arg, ...]:
        """The arguments the driver slot receives."""
        if self.slot_args is None:
            return self.args
        return tuple(a for a in self.args if a.name in self.slot_args)


@dataclass(frozen=True)
class Struct:
    name: str
    doc: str
    fields: tuple[tuple[str, Type], ...]


@dataclass
class API:
    methods: list[Method] = field(default_factory=list)
    structs: dict[str, Struct] = field(default_factory=dict)

    def of(self, cls: str) -> list[Method]:
        return [m for m in self.methods if m.cls == cls]

    def slots(self) -> dict[str, list[Method]]:
        out: dict[str, list[Method]] = {}
        for m in self.methods:
            if m.slot:
                out.setdefault(m.slot, []).append(m)
        return out


_TYPE_RE = re.compile(r"^(\w+)(?:\((.+)\))?(\?)?$")


def parse_type(text: str, structs: set[str]) -> Type:
    m = _TYPE_RE.match(text.strip())
    if not m:
        raise ValueError(f"bad type {text!r}")
    head, inner, opt = m.group(1), m.group(2), bool(m.group(3))
    enums = constants()["enum"]
    if head in ("flags", "enum"):
        if inner not in enums:
            raise ValueError(f"unknown enum {inner!r} in {text!r}")
        return Type(head, inner, optional=opt)
    if head == "list":
        return Type("list", item=parse_type(inner or "", structs), optional=opt)
    if head in CLASSES:
        return Type("object", head, optional=opt)
    if head in structs:
        return Type("struct", head, optional=opt)
    if head in SCALARS and inner is None:
        return Type(head, optional=opt)
    raise ValueError(f"unknown type {text!r}")


_ARG_RE = re.compile(r"^(\w+)\s*:\s*([^=]+?)\s*(?:=\s*(.+))?$")


def parse_arg(text: str, structs: set[str]) -> Arg:
    m = _ARG_RE.match(text)
    if not m:
        raise ValueError(f"bad argument {text!r}")
    return Arg(m.group(1), parse_type(m.group(2), structs), m.group(3))


@cache
def load() -> API:
    with open(API_DIR / "structs.toml", "rb") as f:
        raw_structs: dict[str, Any] = tomllib.load(f)
    with open(API_DIR / "functions.toml", "rb") as f:
        raw: dict[str, Any] = tomllib.load(f)
    api = API()
    names = set(raw_structs)
    for sname, s in raw_structs.items():
        flds = []
        for ftext in s["fields"]:
            a = parse_arg(ftext, names)
            flds.append((a.name, a.type))
        api.structs[sname] = Struct(sname, s["doc"], tuple(flds))
    for cls, methods in raw.items():
        if cls != "module" and cls not in CLASSES:
            raise ValueError(f"unknown class {cls!r}")
        for py, m in methods.items():
            unknown = set(m) - {"args", "ret", "slot", "table", "write", "doc", "c", "handwritten",
                                  "module", "rules", "ro_flags", "cname",
                                  "slot_args"}
            if unknown:
                raise ValueError(f"{cls}.{py}: unknown keys {sorted(unknown)}")
            args = tuple(parse_arg(a, names) for a in m["args"])
            cnames = tuple(
                CName(c["name"], c["lv"], c.get("proc", ""),
                      {k: str(v) for k, v in c.get("bind", {}).items()},
                      bool(c.get("lv_handwritten", False)), c.get("since", ""))
                for c in m["c"])
            for c in cnames:
                for b in c.bind:
                    if b not in {a.name for a in args}:
                        raise ValueError(f"{c.name}: binds unknown argument {b!r}")
            method = Method(
                cls=cls, py=py, args=args, ret=parse_type(m["ret"], names),
                slot=m.get("slot"), table=m.get("table", TABLE_OF_CLASS.get(cls, "")),
                write=bool(m.get("write", False)), doc=m["doc"], c=cnames,
                handwritten=bool(m.get("handwritten", False)), module=m.get("module", ""),
                arg_rules={k: (v[0], v[1]) for k, v in m.get("rules", {}).items()},
                ro_flags=tuple(m["ro_flags"]) if "ro_flags" in m else None,  # type: ignore[arg-type]
                cname=m.get("cname", ""),
                slot_args=tuple(m["slot_args"]) if "slot_args" in m else None)
            if not method.c and not method.handwritten and not method.cname:
                raise ValueError(f"{cls}.{py}: no `c` entry: give `cname` for its errors")
            if not method.handwritten and not method.slot:
                raise ValueError(f"{cls}.{py}: needs a slot or handwritten = true")
            api.methods.append(method)
    _check_slots(api)
    return api


def _check_slots(api: API) -> None:
    """Methods sharing a slot must agree on what the slot receives and returns."""
    for slot, ms in api.slots().items():
        kinds = {tuple("uuid" if a.type.kind == "uuidstr" else a.type.kind for a in m.args)
                 for m in ms}
        if len(kinds) > 1 or len({m.table for m in ms}) > 1 or len({m.cls for m in ms}) > 1:
            raise ValueError(f"slot {slot}: methods disagree: {[m.py for m in ms]}")
