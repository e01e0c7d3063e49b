"""Type hints and argument checks rendered from description types."""
from __future__ import annotations

from .model import Arg, Type

_SCALAR_HINT = {"int": "int", "uint": "int", "long": "int", "ulong": "int", "bool": "bool",
                "str": "str", "bytes": "bytes", "uuid": "bytes", "uuidstr": "str",
                "void": "None", "callable": "Callable[..., Any]", "any": "Any",
                "flags": "int", "enum": "int"}
REF_OF = {"Domain": "DomainRef", "Network": "NetworkRef", "StoragePool": "StoragePoolRef",
          "StorageVol": "StorageVolRef"}
HANDLE_OF = {"Domain": "DomainHandle", "Network": "NetworkHandle",
             "StoragePool": "StoragePoolHandle", "StorageVol": "StorageVolHandle"}
LIMITS = {"uint": 0xFFFFFFFF, "flags": 0xFFFFFFFF, "ulong": 0xFFFFFFFFFFFFFFFF}
INT_RANGE = {"int": (-0x80000000, 0x7FFFFFFF), "long": (-(1 << 63), (1 << 63) - 1)}


def _opt(hint: str, t: Type) -> str:
    return f"{hint} | None" if t.optional else hint


def api_hint(t: Type, struct_prefix: str = "T.") -> str:
    """The hint a Pythonic-layer signature uses."""
    if t.kind == "list":
        assert t.item is not None
        return _opt(f"list[{api_hint(t.item, struct_prefix)}]", t)
    if t.kind == "object":
        return _opt(t.name, t)
    if t.kind == "struct":
        return _opt(struct_prefix + t.name, t)
    return _opt(_SCALAR_HINT[t.kind], t)


def slot_hint(t: Type, is_return: bool) -> str:
    """The hint a driver slot uses: handles in, plain refs (tuples) out."""
    if t.kind == "list":
        assert t.item is not None
        return _opt(f"list[{slot_hint(t.item, is_return)}]", t)
    if t.kind == "object":
        return _opt((REF_OF if is_return else HANDLE_OF)[t.name], t)
    if t.kind == "uuidstr":
        return _opt("bytes", t)
    return api_hint(t)


def check_lines(a: Arg, cname: str, indent: str, origin: str) -> list[str]:
    """Statements that refuse a bad argument with VIR_ERR_INVALID_ARG, libvirt-style."""
    t, n = a.type, a.name
    if t.kind == "str":
        cond, want = f"not isinstance({n}, str)", "a string"
    elif t.kind in ("uint", "ulong", "flags"):
        cond = f"not isinstance({n}, int) or not 0 <= {n} <= {LIMITS[t.kind]}"
        want = "an unsigned integer" if t.kind != "ulong" else "an unsigned 64-bit integer"
    elif t.kind in ("int", "long", "enum"):
        lo, hi = INT_RANGE.get(t.kind, INT_RANGE["int"])
        cond, want = f"not isinstance({n}, int) or not {lo} <= {n} <= {hi}", "an integer"
    elif t.kind == "uuid":
        cond = f"not isinstance({n}, (bytes, bytearray)) or len({n}) != 16"
        want = "16 raw bytes"
    elif t.kind == "object":
        cond, want = f"not isinstance({n}, {t.name})", f"a {t.name}"
    elif t.kind == "callable":
        cond, want = f"not callable({n})", "callable"
    elif t.kind == "uuidstr":
        return [f"{indent}{n}_raw = _uuid_bytes({n}, {cname!r}, {origin})"]
    else:
        return []
    test = f"{n} is not None and ({cond})" if t.optional else cond
    return [f"{indent}if {test}:",
            f"{indent}    raise _arg_error({n!r}, {cname!r}, {want!r}, {n}, {origin})"]
