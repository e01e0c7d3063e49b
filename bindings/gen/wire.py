"""Emit pyvirt/rpc/procedures.py: wire programs, procedures and codecs from wire.toml.

bindings/api/wire.toml describes each payload in a field notation (explained at the top
of that file). This module parses and checks it, then writes a NamedTuple per struct and
a table per program whose procedures carry codecs built with pyvirt.rpc.xdr; the codecs
are compiled once when the generated module is imported.
"""
from __future__ import annotations

import keyword
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from typing import Any

from .common import API_DIR, HEADER

# notation name -> (xdr module codec, Python type hint)
SCALARS = {
    "i32": ("xdr.I32", "int"), "u32": ("xdr.U32", "int"), "i64": ("xdr.I64", "int"),
    "u64": ("xdr.U64", "int"), "bool": ("xdr.BOOL", "bool"), "f64": ("xdr.F64", "float"),
    "char": ("xdr.CHAR", "int"), "uchar": ("xdr.UCHAR", "int"),
    "short": ("xdr.SHORT", "int"), "ushort": ("xdr.USHORT", "int"),
}
CHAR_SIGNED = {"char": True, "uchar": False}
FIELD_RE = re.compile(r"^([A-Za-z_]\w*)(\?)?(?:\s+([A-Za-z_]\w*))?\s*(?:\[\s*(\w*)\s*\]|<\s*(\w*)\s*>)?$")
# NamedTuple cannot take these as field names (tuple methods, private names)
RESERVED = {"count", "index"}


class WireError(ValueError):
    """The wire description is malformed."""


@dataclass(frozen=True)
class Field:
    name: str   # the .x field name
    py: str     # the NamedTuple field name (a keyword gets a trailing underscore)
    codec: str  # Python expression for its codec, in the generated module
    hint: str   # Python type hint


@dataclass(frozen=True)
class Struct:
    xdr: str    # the .x name
    cls: str    # the NamedTuple class
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Union:
    xdr: str
    cls: str
    disc: Field
    arms: tuple[tuple[int, Field], ...]


@dataclass(frozen=True)
class Proc:
    program: str
    number: int
    name: str
    args: Struct | None
    ret: Struct | None
    msg: Struct | str | None  # a struct, the codec constant of a shared type, or None
    stream: str
    fds: str


@dataclass(frozen=True)
class Program:
    name: str
    number: int
    version: int
    prefix: str
    procs: tuple[Proc, ...]


@dataclass(frozen=True)
class Wire:
    limits: dict[str, int]
    types: dict[str, Struct | Union]  # by notation key
    programs: tuple[Program, ...]


def camel(xdr_name: str) -> str:
    """remote_nonnull_domain -> RemoteNonnullDomain; virNetStreamHole -> VirNetStreamHole."""
    return "".join(part[:1].upper() + part[1:] for part in xdr_name.split("_"))


def constant(xdr_name: str) -> str:
    """remote_nonnull_domain -> REMOTE_NONNULL_DOMAIN; virNetStreamHole -> VIR_NET_STREAM_HOLE."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", xdr_name).upper()


class _Parser:
    """Parses field lists against the limits and the types declared so far."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.types: dict[str, Struct | Union] = {}

    def bound(self, text: str, where: str) -> str:
        if not text:
            raise WireError(f"{where}: every array needs a declared bound")
        if text.isdigit():
            return text
        if text not in self.limits:
            raise WireError(f"{where}: unknown limit {text!r}")
        return text

    def field(self, spec: str, where: str) -> Field:
        m = FIELD_RE.match(spec.strip())
        if m is None:
            raise WireError(f"{where}: cannot parse field {spec!r}")
        typ, opt, name, fixed, var = m.groups()
        dim = "fixed" if fixed is not None else "var" if var is not None else ""
        size = self.bound(fixed if dim == "fixed" else var or "", where) if dim else ""
        if name is None:
            if typ not in self.types:
                raise WireError(f"{where}: field {spec!r} needs a name")
            name = typ
        if typ in CHAR_SIGNED and dim and not opt:
            signed = CHAR_SIGNED[typ]
            func = "char_array_fixed" if dim == "fixed" else "char_array"
            return self._made(name, f"xdr.{func}({size}, {signed})", "bytes", where)
        if typ == "opaque":
            if not dim or opt:
                raise WireError(f"{where}: opaque needs [N] or <N> and cannot be optional")
            func = "opaque_fixed" if dim == "fixed" else "opaque"
            return self._made(name, f"xdr.{func}({size})", "bytes", where)
        if typ in SCALARS:
            codec, hint = SCALARS[typ]
        elif typ == "str":
            codec, hint = "_STR", "str"
        elif typ == "uuid":
            codec, hint = "_UUID", "bytes"
        elif typ in self.types:
            t = self.types[typ]
            codec, hint = constant(t.xdr), t.cls
        else:
            raise WireError(f"{where}: unknown type {typ!r}")
        if opt:
            codec = "_OSTR" if codec == "_STR" else f"xdr.optional({codec})"
            hint = f"{hint} | None"
        if dim:
            func = "array_fixed" if dim == "fixed" else "array"
            codec, hint = f"xdr.{func}({codec}, {size})", f"list[{hint}]"
        return self._made(name, codec, hint, where)

    @staticmethod
    def _made(name: str, codec: str, hint: str, where: str) -> Field:
        if name in RESERVED or name.startswith("_"):
            raise WireError(f"{where}: {name!r} cannot be a NamedTuple field")
        py = name + "_" if keyword.iskeyword(name) else name
        return Field(name, py, codec, hint)

    def struct(self, xdr_name: str, spec: str, where: str) -> Struct:
        parts = [p for p in spec.split(",") if p.strip()]
        if not parts:
            raise WireError(f"{where}: a struct needs fields")
        fields = tuple(self.field(p, where) for p in parts)
        seen = [f.py for f in fields]
        if len(set(seen)) != len(seen):
            raise WireError(f"{where}: duplicate field names {seen}")
        return Struct(xdr_name, camel(xdr_name), fields)

    def union(self, xdr_name: str, switch: str, arms: dict[str, str], where: str) -> Union:
        disc = self.field(switch, where)
        if disc.codec not in ("xdr.I32", "xdr.U32"):
            raise WireError(f"{where}: a union switches on i32 or u32")
        parsed = tuple(sorted((int(k), self.field(v, where)) for k, v in arms.items()))
        return Union(xdr_name, camel(xdr_name), disc, parsed)


def parse(data: dict[str, Any]) -> Wire:
    """Check the description and resolve its notation."""
    limits = {k: int(v) for k, v in data["limits"].items()}
    p = _Parser(limits)
    for key, t in data["types"].items():
        where = f"types.{key}"
        if key in SCALARS or key in ("str", "uuid", "opaque"):
            raise WireError(f"{where}: shadows a built-in type")
        p.types[key] = (p.union(t["xdr"], t["switch"], t["arms"], where) if "switch" in t
                        else p.struct(t["xdr"], t["fields"], where))
    programs = []
    for pname, pinfo in data["programs"].items():
        procs = []
        for name, d in sorted(data.get(pname, {}).items(), key=lambda kv: kv[1]["n"]):
            where = f"{pname}.{name}"
            base = f"{pinfo['prefix']}_{name.lower()}"
            unknown = set(d) - {"n", "args", "ret", "msg", "msg_type", "stream", "fds"}
            if unknown:
                raise WireError(f"{where}: unknown keys {sorted(unknown)}")
            msg: Struct | str | None = None
            if "msg_type" in d:
                t = p.types.get(d["msg_type"])
                if not isinstance(t, Struct):
                    raise WireError(f"{where}: msg_type must name a struct in [types]")
                msg = constant(t.xdr)
            elif "msg" in d:
                msg = p.struct(base + "_msg", d["msg"], where) if d["msg"].strip() else "xdr.VOID"
            if msg is not None and ("args" in d or "ret" in d):
                raise WireError(f"{where}: a MESSAGE procedure has no args or ret")
            if d.get("stream", "") not in ("", "read", "write", "both"):
                raise WireError(f"{where}: stream must be read, write or both")
            if d.get("fds", "") not in ("", "in", "out", "both"):
                raise WireError(f"{where}: fds must be in, out or both")
            procs.append(Proc(
                pname, int(d["n"]), name,
                p.struct(base + "_args", d["args"], where) if "args" in d else None,
                p.struct(base + "_ret", d["ret"], where) if "ret" in d else None,
                msg, d.get("stream", ""), d.get("fds", "")))
        numbers = [pr.number for pr in procs]
        if len(set(numbers)) != len(numbers):
            raise WireError(f"{pname}: duplicate procedure numbers")
        programs.append(Program(pname, int(pinfo["number"]), int(pinfo["version"]),
                                pinfo["prefix"], tuple(procs)))
    extra = set(data) - {"limits", "programs", "types"} - {pr.name for pr in programs}
    if extra:
        raise WireError(f"tables for undeclared programs: {sorted(extra)}")
    return Wire(limits, p.types, tuple(programs))


@cache
def load() -> Wire:
    with open(API_DIR / "wire.toml", "rb") as f:
        return parse(tomllib.load(f))


# ---------------------------------------------------------------------------------------
# Rendering

def _class(s: Struct) -> list[str]:
    return ["", "", f"class {s.cls}(NamedTuple):", f'    """{s.xdr}"""', "",
            *[f"    {f.py}: {f.hint}" for f in s.fields]]


def _struct_codec(s: Struct) -> str:
    return f"xdr.struct({s.cls}, ({', '.join(f.codec for f in s.fields)},), {s.xdr!r})"


def _enum(name: str, doc: str, members: list[tuple[str, int]]) -> list[str]:
    return ["", "", f"class {name}(IntEnum):", f'    """{doc}"""', "",
            *[f"    {m} = {v:#x}" if v > 0xFFFF else f"    {m} = {v}" for m, v in members]]


def render() -> str:
    w = load()
    out = [HEADER + '"""libvirt\'s wire programs and procedures: numbers, names, payloads, XDR codecs.',
           "",
           "Generated from bindings/api/wire.toml (shapes of remote_protocol.x, qemu_protocol.x,",
           "lxc_protocol.x, virkeepaliveprotocol.x; shared/rpc-protocol.md §1, §2, §4). Each payload",
           "struct is a NamedTuple; each procedure carries the codecs of its args, ret or msg.",
           '"""',
           "# No `from __future__ import annotations`: NamedTuple would compile every string",
           "# annotation at import; the classes are ordered so real annotations resolve.", "",
           "from collections.abc import Mapping",
           "from enum import IntEnum",
           "from types import MappingProxyType",
           "from typing import NamedTuple", "",
           "from . import xdr",
           "from .program import Procedure, Program", ""]
    out.append("# Limits of the protocol (.x constants); every bound below is one of these.")
    out += [f"{k} = {v}" for k, v in w.limits.items()]
    out += _enum("ProgramNumber", "Program numbers (the header's prog field).",
                 [(p.name, p.number) for p in w.programs])
    for p in w.programs:
        if p.procs:
            out += _enum(f"{camel(p.prefix)}Procedure", f"{p.name} procedure numbers.",
                         [(pr.name, pr.number) for pr in p.procs])
    out += ["", "", "# Shared types (object handles, errors, typed parameters, event bodies)"]
    for t in w.types.values():
        if isinstance(t, Struct):
            out += _class(t)
        else:
            hints = " | ".join(dict.fromkeys(f.hint for _, f in t.arms))
            out += ["", "", f"class {t.cls}(NamedTuple):",
                    f'    """{t.xdr}: the discriminant and the value of the arm it selects"""',
                    "", f"    {t.disc.py}: {t.disc.hint}", f"    value: {hints}"]
    out += ["", "", "# Procedure payloads"]
    for p in w.programs:
        for pr in p.procs:
            for s in (pr.args, pr.ret, pr.msg):
                if isinstance(s, Struct):
                    out += _class(s)
    out += ["", "", "# Codecs, compiled once at import",
            "_STR = xdr.string(REMOTE_STRING_MAX, 'remote_nonnull_string')",
            "_OSTR = xdr.optional(_STR, 'remote_string')",
            "_UUID = xdr.opaque_fixed(VIR_UUID_BUFLEN, 'remote_uuid')"]
    for t in w.types.values():
        if isinstance(t, Struct):
            out.append(f"{constant(t.xdr)}: xdr.Codec[{t.cls}] = {_struct_codec(t)}")
        else:
            arms = ", ".join(f"{k}: {f.codec}" for k, f in t.arms)
            out.append(f"{constant(t.xdr)}: xdr.Codec[{t.cls}] = xdr.union("
                       f"{t.cls}, {t.disc.codec}, {{{arms}}}, {t.xdr!r})")
    names = []
    for p in w.programs:
        if not p.procs:
            continue  # described only by number (ADMIN): not served on these sockets
        names.append(p.name)
        out += ["", f"{p.name} = Program.build({p.name!r}, {p.number:#x}, {p.version}, ("]
        for pr in p.procs:
            parts = [f"ProgramNumber.{p.name}", str(pr.number), repr(pr.name)]
            if pr.args:
                parts.append(f"args={_struct_codec(pr.args)}")
            if pr.ret:
                parts.append(f"ret={_struct_codec(pr.ret)}")
            if isinstance(pr.msg, Struct):
                parts.append(f"msg={_struct_codec(pr.msg)}")
            elif pr.msg is not None:
                parts.append(f"msg={pr.msg}")
            if pr.stream:
                parts.append(f"stream={pr.stream!r}")
            if pr.fds:
                parts.append(f"fds={pr.fds!r}")
            out += [f"    Procedure({', '.join(parts[:3])},", *[f"              {x}," for x in parts[3:]],
                    "              ),"]
        out.append("))")
    out += ["", "# The programs served on the main sockets, by number.",
            "PROGRAMS: Mapping[int, Program] = MappingProxyType({",
            *[f"    {n}.number: {n}," for n in names], "})", "", "",
            "def lookup(program: int, procedure: int) -> Procedure | None:",
            '    """The described procedure (program, procedure), or None."""',
            "    prog = PROGRAMS.get(program)",
            "    return None if prog is None else prog.get(procedure)", ""]
    return "\n".join(out)
