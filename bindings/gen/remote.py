"""Emit the two ends of the remote protocol from the API and wire descriptions.

pyvirt/daemon/_dispatch_gen.py: for every described call with a wire procedure, a server
handler that takes the decoded *_args, calls the Pythonic API on the client's connection
(objects are rebuilt from the wire refs and found by UUID by the driver, as libvirtd
does) and returns the *_ret; plus the encoders of event MESSAGE bodies.

pyvirt/drivers/remote/_slots_gen.py: for every driver slot some described call maps to a
procedure, a remote-driver method that encodes the slot's arguments, calls, and turns
the *_ret back into what the slot returns; plus the decoders of event MESSAGE bodies.

The two descriptions are joined by position: the wire args are the handle (dom, net,
pool, vol) then the call's arguments in order, minus the control fields listed in
CONTROL; the wire ret is one field per scalar, the ref of an object, or one field per
record field. What cannot be joined that way is hand-written, and must be named in
HANDWRITTEN_SERVER / HANDWRITTEN_CLIENT with the reason, or generation fails.
"""
from __future__ import annotations

from dataclasses import dataclass

from .common import HEADER, constants
from .hints import slot_hint
from .model import HANDLE_CLASSES, CName, Method, Type, load
from .wire import Field, Proc, Struct, camel, constant
from .wire import load as load_wire

# Wire fields that carry no argument of the call: how the client fills them (an
# expression) and what the server does with them (see _server_ret).
CONTROL = {"need_results": "1", "maxids": None, "maxnames": None}

# Procedures whose server side is written by hand in pyvirt/daemon/procs.py, and why.
HANDWRITTEN_SERVER = {
    "CONNECT_GET_URI": "answers the URI the client opened, not the daemon's internal one",
    "DOMAIN_GET_VCPUS": "maxinfo/maplen sizing and the packed affinity bitmaps",
    "NODE_GET_CPU_MAP": "need_map/need_online and the packed online bitmap",
    "CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY": "events: relays to the client's socket",
    "CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY": "events",
    "DOMAIN_OPEN_CONSOLE": "opens a stream: STREAM packets follow the reply (daemon/streams.py)",
    "STORAGE_VOL_UPLOAD": "opens a stream (daemon/streams.py)",
    "STORAGE_VOL_DOWNLOAD": "opens a stream (daemon/streams.py)",
}
# Slots whose remote-driver method is written by hand in pyvirt/drivers/remote/driver.py.
HANDWRITTEN_CLIENT = {
    "connect_get_uri": "the client knows the URI it opened (libvirt's client makes no call)",
    "connect_is_encrypted": "CONNECT_IS_SECURE combined with whether the transport encrypts",
    "connect_is_secure": "CONNECT_IS_SECURE combined with whether the transport is safe",
    "domain_get_vcpus": "sizes the call from DOMAIN_GET_INFO and NODE_GET_CPU_MAP first",
    "node_get_cpu_map": "need_map/need_online and the packed online bitmap",
    "connect_domain_event_register_any": "events: one server callback per registration",
    "connect_domain_event_deregister_any": "events",
    "domain_destroy": "the handle's ID becomes -1, which no reply says (remoteDomainDestroy)",
    "domain_open_console": "returns a channel fed by the call's STREAM packets (streams.py)",
    "storage_vol_upload": "returns a stream channel (streams.py)",
    "storage_vol_download": "returns a stream channel (streams.py)",
}

REF = {"Domain": "dom", "Network": "net", "StoragePool": "pool", "StorageVol": "vol"}
HANDLE_CODEC = {"Domain": "REMOTE_NONNULL_DOMAIN", "Network": "REMOTE_NONNULL_NETWORK",
                "StoragePool": "REMOTE_NONNULL_STORAGE_POOL",
                "StorageVol": "REMOTE_NONNULL_STORAGE_VOL"}
SLOT_PARAM = {"Domain": "dom", "Network": "net", "StoragePool": "pool", "StorageVol": "vol"}
# server: an API object -> its wire ref; client: a slot handle -> its wire ref
SERVER_REF = {"Domain": "_dref", "Network": "_nref", "StoragePool": "_pref",
              "StorageVol": "_vref"}
CLIENT_REF = {"Domain": "({h}.name, {h}.raw_uuid, {h}.id)", "Network": "({h}.name, {h}.raw_uuid)",
              "StoragePool": "({h}.name, {h}.raw_uuid)",
              "StorageVol": "({h}.pool_name, {h}.name, {h}.key)"}
INTS = {"int", "uint", "long", "ulong", "flags", "enum"}
WIRE_INTS = {"xdr.I32", "xdr.U32", "xdr.I64", "xdr.U64", "xdr.CHAR", "xdr.UCHAR", "xdr.SHORT",
             "xdr.USHORT", "xdr.BOOL"}


class RemoteGenError(ValueError):
    """The API and wire descriptions cannot be joined for some procedure."""


@dataclass(frozen=True)
class Join:
    """One described call joined to its wire procedure."""
    method: Method
    cname: CName
    proc: Proc
    handle: str            # "" or the wire field carrying the object (dom, net, ...)
    pairs: tuple[tuple[str, Field], ...]   # (API argument, wire field), in call order
    control: tuple[Field, ...]             # wire args carrying no API argument


def _compatible(t: Type, f: Field) -> bool:
    if t.kind == "object":
        return f.codec == HANDLE_CODEC[t.name]
    if t.kind == "str":
        return f.codec in ("_STR", "_OSTR")
    if t.kind in ("uuid", "uuidstr"):
        return f.codec == "_UUID"
    if t.kind in INTS or t.kind == "bool":
        return f.codec in WIRE_INTS
    return False


def join(m: Method, c: CName, proc: Proc) -> Join:
    """Pair the call's (free) arguments with the procedure's args fields, or fail."""
    fields = list(proc.args.fields if proc.args else ())
    handle = ""
    if m.cls in HANDLE_CLASSES:
        if not fields or fields[0].codec != HANDLE_CODEC[m.cls]:
            raise RemoteGenError(f"{proc.name}: first argument is not the {m.cls}")
        handle = fields.pop(0).py
    control = tuple(f for f in fields if f.name in CONTROL)
    rest = [f for f in fields if f.name not in CONTROL]
    free = m.free_args(c)
    if len(rest) != len(free):
        raise RemoteGenError(f"{proc.name}: {len(rest)} wire arguments, {m.cls}.{m.py} "
                             f"takes {len(free)}")
    for a, f in zip(free, rest):
        if not _compatible(a.type, f):
            raise RemoteGenError(f"{proc.name}: {a.name} ({a.type.kind}) vs {f.name} ({f.codec})")
    return Join(m, c, proc, handle, tuple((a.name, f) for a, f in zip(free, rest)), control)


def _procs() -> dict[str, Proc]:
    return {pr.name: pr for p in load_wire().programs if p.name == "REMOTE" for pr in p.procs}


def _joins() -> list[Join]:
    """Every (call, procedure) pair of the description, in description order."""
    procs = _procs()
    out = []
    for m in load().methods:
        if m.handwritten or not m.slot:
            continue
        for c in m.c:
            if not c.proc:
                continue
            if c.proc not in procs:
                raise RemoteGenError(f"{c.name}: procedure {c.proc} is not in wire.toml")
            out.append((m, c, procs[c.proc]))
    joins = []
    for m, c, proc in out:
        if proc.name in HANDWRITTEN_SERVER and m.slot in HANDWRITTEN_CLIENT:
            continue
        joins.append(join(m, c, proc))
    return joins


def _ret_fields(proc: Proc) -> list[Field]:
    return list(proc.ret.fields) if proc.ret else []


def _enum_py(t: Type) -> str:
    return str(constants()["enum"][t.name]["py"])


# ---------------------------------------------------------------------------------------
# Server side

def _server_call(j: Join) -> tuple[list[str], str]:
    """Statements before the call, and the call expression."""
    m = j.method
    pre: list[str] = []
    args = dict(j.pairs)
    bound = j.cname.bind
    parts = []
    for a in m.args:
        if a.name in bound:
            parts.append(bound[a.name])
        elif a.type.kind == "object":
            parts.append(f"{a.type.name}(c, *a.{args[a.name].py})")
        elif a.type.kind == "bool":
            parts.append(f"a.{args[a.name].py} != 0")
        elif args[a.name].codec == "_OSTR" and not a.type.optional:
            # the entry point itself refuses None ("... must not be NULL")
            parts.append(f"cast(str, a.{args[a.name].py})")
        else:
            parts.append(f"a.{args[a.name].py}")
    if m.cls == "Connection":
        target = "c"
    else:
        pre.append(f"h = {m.cls}(c, *a.{j.handle})")
        target = "h"
    return pre, f"{target}.{m.py}({', '.join(parts)})"


def _field_to_wire(t: Type, f: Field, expr: str) -> str:
    if f.codec.startswith("xdr.char_array_fixed("):
        size = f.codec.split("(", 1)[1].split(",", 1)[0]
        return f"{expr}.encode()[:{size}]"
    if f.codec.startswith("xdr.char_array("):
        return f"{expr}.encode() + b'\\0'"
    if t.kind == "bool":
        return f"int({expr})"
    return expr


def _server_ret(j: Join) -> list[str]:
    """Statements that call and return the *_ret value (or None)."""
    m, proc = j.method, j.proc
    pre, call = _server_call(j)
    rets = _ret_fields(proc)
    cls = f"P.{proc.ret.cls}" if proc.ret else ""
    t = m.ret
    out = list(pre)
    ctrl = {f.name for f in j.control}
    if t.kind == "void":
        out.append(call)
        if not rets:
            pass
        elif len(rets) == 1 and rets[0].codec == HANDLE_CODEC.get(m.cls):
            out.append(f"return {cls}({SERVER_REF[m.cls]}(h))")   # the updated ref
        elif [f.name for f in rets] == ["retcode"]:
            out.append(f"return {cls}(0)")
        else:
            raise RemoteGenError(f"{proc.name}: void call with a ret")
        return out
    out.append(f"r = {call}")
    if t.kind == "object":
        if len(rets) != 1 or rets[0].codec != HANDLE_CODEC[t.name]:
            raise RemoteGenError(f"{proc.name}: ret is not one {t.name}")
        out.append(f"return {cls}({SERVER_REF[t.name]}(r))")
    elif t.kind == "list" and t.item is not None and t.item.kind == "object":
        if "need_results" not in ctrl or len(rets) != 2:
            raise RemoteGenError(f"{proc.name}: a list of objects needs need_results")
        ref = SERVER_REF[t.item.name]
        out.append(f"return {cls}([{ref}(x) for x in r] if a.need_results else [], len(r))")
    elif t.kind == "list":
        if len(rets) != 1:
            raise RemoteGenError(f"{proc.name}: a list is one ret field")
        limit = [f for f in j.control if f.name in ("maxids", "maxnames")]
        if limit:
            f = limit[0]
            bound = rets[0].codec.rsplit(", ", 1)[1].rstrip(")")
            # libvirtd refuses a maximum above the wire bound, then returns at most it
            out[-1:] = [f"if a.{f.py} > P.{bound}:",
                        f"    raise _too_many({f.name!r}, {bound!r})", out[-1],
                        f"return {cls}(r[:max(a.{f.py}, 0)])"]
        else:
            out.append(f"return {cls}(r)")
    elif t.kind == "struct":
        s = load().structs[t.name]
        if len(s.fields) != len(rets):
            raise RemoteGenError(f"{proc.name}: {t.name} has {len(s.fields)} fields, "
                                 f"ret has {len(rets)}")
        vals = [_field_to_wire(ft, f, f"r.{fn}") for (fn, ft), f in zip(s.fields, rets)]
        out.append(f"return {cls}({', '.join(vals)})")
    else:
        if len(rets) != 1:
            raise RemoteGenError(f"{proc.name}: a {t.kind} is one ret field")
        out.append(f"return {cls}({'int(r)' if t.kind == 'bool' else 'r'})")
    return out


def _server_joins() -> list[Join]:
    """The call serving each generated procedure, by procedure number."""
    seen: dict[str, Join] = {}
    for j in _joins():
        if j.proc.name in HANDWRITTEN_SERVER:
            continue
        prev = seen.get(j.proc.name)
        # Several calls may share a procedure (by UUID / by UUID string, isSecure /
        # isEncrypted): the first described one whose arguments are raw serves it.
        if prev is None or (any(a.type.kind == "uuidstr" for a in prev.method.args)
                            and not any(a.type.kind == "uuidstr" for a in j.method.args)):
            seen[j.proc.name] = j
    return sorted(seen.values(), key=lambda j: j.proc.number)


# ---------------------------------------------------------------------------------------
# Events: MESSAGE bodies <-> (callback ID, object ref, event fields)

@dataclass(frozen=True)
class EventShape:
    event_id: int
    name: str
    proc: Proc
    # the msg fields after callbackID: (field, inner struct or None)
    parts: tuple[tuple[Field, Struct | None], ...]


def event_shapes() -> tuple[list[EventShape], dict[str, str]]:
    """The domain events the wire describes, and the ones skipped (with why)."""
    procs = _procs()
    types = {constant(t.xdr): t for t in load_wire().types.values() if isinstance(t, Struct)}
    ids = {m[1]: m[2] for m in constants()["enum"]["virDomainEventID"]["members"]}
    shapes, skipped = [], {}
    for name, eid in ids.items():
        proc = procs.get(f"DOMAIN_EVENT_CALLBACK_{name}")
        if proc is None or not isinstance(proc.msg, Struct):
            if name != "LAST":
                skipped[name] = "no callback MESSAGE procedure in wire.toml"
            continue
        fields = list(proc.msg.fields)
        if fields[0].name != "callbackID":
            raise RemoteGenError(f"{proc.name}: first field is not callbackID")
        parts = tuple((f, None if f.codec == "REMOTE_NONNULL_DOMAIN" else types.get(f.codec))
                      for f in fields[1:])
        flat = [g for f, s in parts for g in (s.fields if s else (f,))]
        if sum(g.codec == "REMOTE_NONNULL_DOMAIN" for g in flat) != 1:
            raise RemoteGenError(f"{proc.name}: needs exactly one dom")
        if any("REMOTE_TYPED_PARAM" in g.codec for g in flat):
            skipped[name] = "typed parameters (no pyvirt event carries them yet)"
            continue
        shapes.append(EventShape(eid, name, proc, parts))
    return shapes, skipped


def _server_event(e: EventShape) -> list[str]:
    k = 0
    vals = []
    for f, s in e.parts:
        if s is None:
            vals.append("ref" if f.codec == "REMOTE_NONNULL_DOMAIN" else f"f[{k}]")
            k += f.codec != "REMOTE_NONNULL_DOMAIN"
            continue
        inner = []
        for g in s.fields:
            inner.append("ref" if g.codec == "REMOTE_NONNULL_DOMAIN" else f"f[{k}]")
            k += g.codec != "REMOTE_NONNULL_DOMAIN"
        vals.append(f"({', '.join(inner)},)")
    return [f"def _ev_{e.name.lower()}(cid: int, ref: Any, f: Sequence[Any]) -> Any:",
            f"    return (cid, {', '.join(vals)})", ""]


def render_server() -> str:
    joins = _server_joins()
    handlers = [(j.proc, _server_ret(j)) for j in joins]
    shapes, skipped = event_shapes()
    out = [HEADER + '"""Server dispatch of the described procedures: wire args -> API -> wire ret.',
           "",
           "Generated by bindings/gen/remote.py from bindings/api/functions.toml and wire.toml.",
           "Each handler gets the client's Connection and the decoded *_args, rebuilds the",
           "objects from their wire refs (the driver finds them by UUID, as libvirtd does),",
           "calls the Pythonic entry point (which refuses writes on read-only connections",
           "and checks arguments as libvirt's public API does) and returns the *_ret.",
           "Hand-written procedures are in pyvirt/daemon/procs.py.", '"""',
           "from __future__ import annotations", "",
           "from collections.abc import Callable, Mapping, Sequence",
           "from types import MappingProxyType",
           "from typing import Any, cast", "",
           "from .._api import Connection, Domain, Network, StoragePool, StorageVol",
           "from ..constants import ErrorDomain, ErrorNumber",
           "from ..errors import error, libvirtError",
           "from ..rpc import procedures as P", "",
           "__all__ = ['EVENTS', 'HANDLERS', 'QUERIES', 'SKIPPED_EVENTS']", "",
           "Handler = Callable[[Connection, Any], Any]", "", "",
           "def _dref(d: Domain) -> P.RemoteNonnullDomain:",
           "    return P.RemoteNonnullDomain(d.name, d.raw_uuid, d.id)", "", "",
           "def _nref(o: Network) -> P.RemoteNonnullNetwork:",
           "    return P.RemoteNonnullNetwork(o.name, o.raw_uuid)", "", "",
           "def _pref(o: StoragePool) -> P.RemoteNonnullStoragePool:",
           "    return P.RemoteNonnullStoragePool(o.name, o.raw_uuid)", "", "",
           "def _vref(v: StorageVol) -> P.RemoteNonnullStorageVol:",
           "    return P.RemoteNonnullStorageVol(v.pool_name, v.name, v.key)", "", "",
           "def _too_many(field: str, limit: str) -> libvirtError:",
           "    return error(ErrorNumber.RPC, ErrorDomain.RPC, f'{field} > {limit}')", ""]
    for proc, body in handlers:
        args = f"P.{proc.args.cls}" if proc.args else "None"
        ret = f"P.{proc.ret.cls}" if proc.ret else "None"
        out += ["", f"def _{proc.name.lower()}(c: Connection, a: {args}) -> {ret}:",
                *[f"    {x}" for x in body], ""]
    queries = [j.proc for j in joins if not j.method.write]
    out += ["", "# Procedures that change nothing (the description's write = false)",
            "QUERIES: frozenset[int] = frozenset({",
            *[f"    {p.number},  # {p.name}" for p in queries], "})"]
    out += ["", "# REMOTE procedure number -> handler",
            "HANDLERS: Mapping[int, Handler] = MappingProxyType({",
            *[f"    {p.number}: _{p.name.lower()},  # {p.name}" for p, _ in handlers], "})",
            "", "", "# Event MESSAGE bodies: (callback ID, the domain's wire ref, event fields)", ""]
    for e in shapes:
        out += _server_event(e) + [""]
    out += ["# virDomainEventID -> (MESSAGE procedure, body encoder)",
            "EVENTS: Mapping[int, tuple[int, Callable[[int, Any, Sequence[Any]], Any]]] = "
            "MappingProxyType({",
            *[f"    {e.event_id}: ({e.proc.number}, _ev_{e.name.lower()}),  # {e.name}"
              for e in shapes], "})", "",
            "# Event IDs clients may register for but that have no message here, and why",
            "SKIPPED_EVENTS: Mapping[str, str] = MappingProxyType({",
            *[f"    {k!r}: {v!r}," for k, v in skipped.items()], "})", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Client side

def _client_join(slot: str, ms: list[Method]) -> Join | None:
    """The procedure the remote driver calls for a slot: the one carrying every argument
    (no bound ones), i.e. the newest of the family, as libvirt's own *Flags calls do."""
    procs = _procs()
    for m in ms:
        for c in m.c:
            if c.proc and not c.bind and c.proc in procs:
                return join(m, c, procs[c.proc])
    return None


def _client_params(m: Method) -> list[str]:
    params = ["self"]
    if m.cls in HANDLE_CLASSES:
        params.append(f"{SLOT_PARAM[m.cls]}: {slot_hint(Type('object', m.cls), False)}")
    params += [f"{a.name}: {slot_hint(a.type, False)}" for a in m.args]
    return params


def _client_value(t: Type, f: Field, expr: str) -> str:
    if f.codec.startswith("xdr.char_array"):
        return f"cstring({expr})"
    if t.kind == "enum":
        return f"_enum(C.{_enum_py(t)}, {expr})"
    if t.kind == "bool":
        return f"bool({expr})"
    return expr


def _client_body(j: Join, slot: str) -> list[str]:
    m, proc = j.method, j.proc
    vals = []
    pairs = dict(j.pairs)
    fields = list(proc.args.fields) if proc.args else []
    for f in fields:
        if j.handle and f.py == j.handle:
            vals.append(CLIENT_REF[m.cls].format(h=SLOT_PARAM[m.cls]))
        elif f.name in CONTROL:
            fill = CONTROL[f.name]
            if fill is None:   # a maximum count: the bound of the list it limits
                fill = "P." + _ret_fields(proc)[0].codec.rsplit(", ", 1)[1].rstrip(")")
            vals.append(fill)
        else:
            name = next(a for a, g in pairs.items() if g is f)
            arg = next(a for a in m.args if a.name == name)
            if arg.type.kind == "object":
                vals.append(CLIENT_REF[arg.type.name].format(h=name))
            elif arg.type.kind == "bool":
                vals.append(f"int({name})")
            else:
                vals.append(name)
    argv = f"({', '.join(vals)},)" if vals else "None"
    call = f"self._call(_{proc.name}, {argv})"
    rets = _ret_fields(proc)
    typed = f"r: P.{proc.ret.cls} = {call}" if proc.ret else call
    t = m.ret
    if t.kind == "void":
        if not rets:
            return [call]
        if rets[0].codec == HANDLE_CODEC.get(m.cls):
            # the call returns the object's new ref (its ID after a start): keep the
            # handle current, as libvirt's client does
            return [typed, f"dom.id = r.{rets[0].py}.id"]
        if [f.name for f in rets] == ["retcode"]:
            return [call, "dom.name = new_name"]
        raise RemoteGenError(f"{proc.name}: void call with a ret")
    if t.kind == "struct":
        s = load().structs[t.name]
        vals2 = [_client_value(ft, f, f"r.{f.py}") for (_, ft), f in zip(s.fields, rets)]
        return [typed, f"return T.{t.name}({', '.join(vals2)})"]
    if t.kind == "list" and t.item is not None and t.item.kind == "object":
        return [typed, f"return list(r.{rets[0].py})"]
    if t.kind == "list":
        return [typed, f"return list(r.{rets[0].py})"]
    if t.kind == "bool":
        return [typed, f"return bool(r.{rets[0].py})"]
    return [typed, f"return r.{rets[0].py}"]


def render_client() -> str:
    api = load()
    joins: list[tuple[str, Join]] = []
    for slot, ms in sorted(api.slots().items()):
        if slot in HANDWRITTEN_CLIENT:
            continue
        j = _client_join(slot, ms)
        if j is not None:
            joins.append((slot, j))
    shapes, _ = event_shapes()
    used = sorted({j.proc.name for _, j in joins})
    out = [HEADER + '"""The remote driver\'s generated slots: slot arguments -> wire args -> call -> slot result.',
           "",
           "Generated by bindings/gen/remote.py from bindings/api/functions.toml and wire.toml.",
           "Each slot calls the procedure of its family that carries every argument; the",
           "hand-written slots (events, vCPU maps, URI, security) are in driver.py.", '"""',
           "from __future__ import annotations", "",
           "from collections.abc import Callable, Mapping",
           "from types import MappingProxyType",
           "from typing import Any, TypeVar", "",
           "from ... import constants as C",
           "from ... import types as T",
           "from ...rpc import procedures as P",
           "from ...rpc.program import Procedure",
           "from ...rpc.xdr import cstring",
           "from ..handles import (", *[f"    {n}," for n in (
               "DomainHandle", "DomainRef", "NetworkHandle", "NetworkRef", "StoragePoolHandle",
               "StoragePoolRef", "StorageVolHandle", "StorageVolRef")], ")", "",
           "__all__ = ['EVENTS', 'GeneratedSlots']", "",
           "E = TypeVar('E')", "", "",
           "def _enum(cls: Callable[[int], E], value: int) -> E:",
           '    """The enum member for value; the bare int for a value this side does not know."""',
           "    try:", "        return cls(value)", "    except ValueError:",
           "        return value  # type: ignore[return-value]",
           "", ""]
    out += [f"_{n} = P.REMOTE.by_name[{n!r}]" for n in used]
    out += ["", "", "class GeneratedSlots:",
            '    """Slots filled by one procedure call each; `_call(proc, args)` returns the *_ret."""',
            "", "    def _call(self, proc: Procedure, args: Any) -> Any:",
            "        raise NotImplementedError", ""]
    for slot, j in joins:
        m = j.method
        ret = slot_hint(m.ret, True)
        out += [f"    def {slot}({', '.join(_client_params(m))}) -> {ret}:",
                *[f"        {x}" for x in _client_body(j, slot)], ""]
    out += ["", "# Event MESSAGE decoders: msg -> (callback ID, the domain's ref, event fields)", ""]
    for e in shapes:
        ref, vals = "", []
        for f, s in e.parts:
            for g in (s.fields if s else (f,)):
                path = f"m.{f.py}.{g.py}" if s else f"m.{f.py}"
                if g.codec == "REMOTE_NONNULL_DOMAIN":
                    ref = path
                else:
                    vals.append(path)
        out += [f"def _ev_{e.name.lower()}(m: Any) -> tuple[int, Any, tuple[Any, ...]]:",
                f"    return m.callbackID, tuple({ref}), ({''.join(v + ', ' for v in vals)})", "", ""]
    out += ["# MESSAGE procedure -> (virDomainEventID, decoder)",
            "EVENTS: Mapping[int, tuple[int, Callable[[Any], tuple[int, Any, tuple[Any, ...]]]]] = "
            "MappingProxyType({",
            *[f"    {e.proc.number}: ({e.event_id}, _ev_{e.name.lower()}),  # {e.name}"
              for e in shapes], "})", ""]
    return "\n".join(out)


# Unused names kept importable for the tests that check the joins.
__all__ = ["CONTROL", "HANDWRITTEN_CLIENT", "HANDWRITTEN_SERVER", "Join", "RemoteGenError",
           "camel", "event_shapes", "join", "render_client", "render_server"]
