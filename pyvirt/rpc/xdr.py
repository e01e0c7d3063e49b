"""XDR (RFC 4506) codecs as libvirt's remote protocol uses them, compiled once per type.

The rules are those of shared/rpc-protocol.md §2.1: every item takes a multiple of 4
bytes, big-endian; `char`/`short` (signed or not) are widened to 4-byte words, as
rpcgen does; a fixed or variable char array takes one word per character; a bool or
an optional pointer's presence flag is true when non-zero (glibc's decoder, which lets
go-libvirt's 0x01000000 flag through, §7); every declared bound is enforced.

A `Codec` is built once per type from constructors (`struct`, `array`, `optional`,
`string`, ...). A struct's encoder and decoder are generated as straight-line Python
source and compiled once, with runs of fixed-size fields packed through one
`struct.Struct` and strings inlined, so no type tree is interpreted per value.

Decoding is bounded: every length is checked against its bound and against the bytes
that remain *before* anything is allocated or looped over, so a 40-byte packet that
claims 2**31 elements fails at once. Malformed or truncated input, and values that
cannot be encoded, raise `XDRError` and nothing else (callers map it to VIR_ERR_RPC).
"""
from __future__ import annotations

import functools
import struct as _struct
import threading
from collections.abc import Callable, Mapping, Sequence
from types import CodeType
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "BOOL", "CHAR", "F64", "I32", "I64", "SHORT", "U32", "U64", "UCHAR", "USHORT", "VOID",
    "BytesLike", "Codec", "RunInfo", "XDRError", "array", "array_fixed", "char_array",
    "char_array_fixed", "cstring", "opaque", "opaque_fixed", "optional", "string", "struct",
    "union",
]

T = TypeVar("T")
BytesLike = bytes | bytearray | memoryview
EncodeFn = Callable[[Any, bytearray], None]
DecodeFn = Callable[[Any, int], tuple[Any, int]]
ManyDecodeFn = Callable[[Any, int, int], tuple[list[Any], int]]

_U32 = _struct.Struct(">I")
_unpack_u32 = _U32.unpack_from
_pack_u32 = _U32.pack
_unpack = _struct.unpack_from
_pack = _struct.pack
# Zero padding after n bytes of opaque/string data, indexed by n & 3 (RFC 4506 §4.10).
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")
_FALSE = b"\0\0\0\0"
_TRUE = b"\0\0\0\1"
# What a malformed buffer or a badly typed value can raise inside compiled code; the
# public entry points turn these into XDRError (XDRError itself is a ValueError).
_LOW_LEVEL = (_struct.error, ValueError, TypeError, AttributeError, IndexError,
              OverflowError, KeyError, RecursionError)


class XDRError(ValueError):
    """Truncated, malformed or out-of-bounds XDR data, or a value that cannot be encoded."""


@functools.cache
def _code(source: str) -> CodeType:
    """Compiled codec source. A pure memo: structs of the same shape (the many procedure
    payloads that are just `dom`, or `dom, u32 flags`) share one compile; names and
    messages differ only in the namespace each is executed in."""
    return compile(source, "<xdr codec>", "exec")


def _namespace(**extra: Any) -> dict[str, Any]:
    """Globals for compiled codec source."""
    return {"_new": tuple.__new__, "_u32": _unpack_u32, "_p32": _pack_u32, "_X": XDRError,
            "_PAD": _PAD, "_len": len, "_F": _FALSE, "_T": _TRUE, **extra}


class RunInfo(NamedTuple):
    """How a fixed-size scalar packs inside a `struct.Struct` run.

    The expressions are Python source over `{v}`, inlined by the struct compiler.
    """
    fmt: str           # struct format, without byte order
    size: int
    dec_expr: str = ""  # the decoded value from the unpacked word, e.g. "({v} != 0)"
    enc_expr: str = ""  # the word to pack from the value, e.g. "(1 if {v} else 0)"
    check: str = ""     # must hold before packing, e.g. "0 <= {v} <= 255"
    what: str = ""      # what the check enforces, for the error message


class Codec(Generic[T]):
    """Encoder and decoder of one XDR type.

    `shape` describes the type for introspection (tests build values from it):
    ("scalar", name) | ("string", max) | ("opaque", max) | ("opaque_fixed", n) |
    ("chars", max, signed) | ("chars_fixed", n, signed) | ("array", elem, max) |
    ("array_fixed", elem, n) | ("optional", inner) | ("struct", cls, fields) |
    ("union", cls, arms) | ("void",).
    """

    __slots__ = ("dec", "enc", "many", "min_size", "name", "run", "shape")

    def __init__(self, name: str, enc: EncodeFn, dec: DecodeFn, min_size: int,
                 shape: tuple[Any, ...], run: RunInfo | None = None,
                 many: tuple[ManyDecodeFn, EncodeFn] | None = None) -> None:
        self.name = name
        self.enc = enc            # enc(value, out: bytearray): append the encoding
        self.dec = dec            # dec(buf, offset) -> (value, next offset); may raise low-level
        self.min_size = min_size  # fewest bytes any value of this type encodes to
        self.shape = shape
        self.run = run            # set for fixed-size scalars that pack in a Struct run
        self.many = many          # structs: (decode n in a loop, encode a sequence), for arrays

    def encode(self, value: T) -> bytes:
        """The XDR encoding of `value`."""
        out = bytearray()
        self.encode_into(value, out)
        return bytes(out)

    def encode_into(self, value: T, out: bytearray) -> None:
        """Append the XDR encoding of `value` to `out`."""
        try:
            self.enc(value, out)
        except XDRError:
            raise
        except _LOW_LEVEL as exc:
            raise XDRError(f"{self.name}: cannot encode {_short_repr(value)}: {exc}") from None

    def decode(self, buf: BytesLike, offset: int = 0) -> T:
        """Decode one value that must fill `buf` from `offset` to its end exactly."""
        if type(buf) is memoryview:
            buf = bytes(buf)  # compiled decoders slice and .decode() bytes
        if offset < 0:
            raise XDRError(f"{self.name}: negative offset {offset}")
        try:
            value, end = self.dec(buf, offset)
        except XDRError:
            raise
        except _LOW_LEVEL as exc:
            raise XDRError(f"{self.name}: malformed or truncated data: {exc}") from None
        if end != len(buf):
            raise XDRError(f"{self.name}: {len(buf) - end} trailing bytes")
        return value  # type: ignore[no-any-return]

    def decode_from(self, buf: BytesLike, offset: int = 0) -> tuple[T, int]:
        """Decode one value at `offset`; return it and the offset just past it."""
        if type(buf) is memoryview:
            buf = bytes(buf)
        if offset < 0:
            raise XDRError(f"{self.name}: negative offset {offset}")
        try:
            return self.dec(buf, offset)
        except XDRError:
            raise
        except _LOW_LEVEL as exc:
            raise XDRError(f"{self.name}: malformed or truncated data: {exc}") from None

    def __repr__(self) -> str:
        return f"<Codec {self.name}>"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def cstring(chars: bytes) -> str:
    """A C char array's text: the bytes up to the first NUL, decoded as UTF-8."""
    return chars.split(b"\0", 1)[0].decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------
# Scalars (§2.1). char/short are widened to a word as rpcgen does; decoding truncates
# to the C type as glibc's xdr_char/xdr_short do, encoding refuses out-of-range values.

def _scalar(name: str, fmt: str, dec_expr: str = "", enc_expr: str = "", check: str = "",
            what: str = "") -> Codec[Any]:
    run = RunInfo(fmt, _struct.calcsize(">" + fmt), dec_expr, enc_expr, check, what)
    lines = ["def dec(buf, off):", "    v, = _su(buf, off)"]
    if dec_expr:
        lines.append("    v = " + dec_expr.format(v="v"))
    lines += [f"    return v, off + {run.size}", "def enc(v, out):"]
    if check:
        lines += ["    if not (" + check.format(v="v") + "):", "        raise _X(_w % (v,))"]
    lines.append("    out += _sp(" + (enc_expr.format(v="v") if enc_expr else "v") + ")")
    packer = _struct.Struct(">" + fmt)
    ns = _namespace(_su=packer.unpack_from, _sp=packer.pack, _w=f"{name}: {what}: %r")
    exec(_code("\n".join(lines) + "\n"), ns)  # noqa: S102
    return Codec(name, ns["enc"], ns["dec"], run.size, ("scalar", name), run)


I32: Codec[int] = _scalar("i32", "i")
U32: Codec[int] = _scalar("u32", "I")
I64: Codec[int] = _scalar("i64", "q")
U64: Codec[int] = _scalar("u64", "Q")
F64: Codec[float] = _scalar("f64", "d")
# Any non-zero word is true (glibc xdr_bool); true always encodes as 1.
BOOL: Codec[bool] = _scalar("bool", "I", "({v} != 0)", "(1 if {v} else 0)")
CHAR: Codec[int] = _scalar("char", "i", "((({v} & 0xFF) ^ 0x80) - 0x80)", "",
                           "-0x80 <= {v} <= 0x7F", "out of range")
UCHAR: Codec[int] = _scalar("uchar", "I", "({v} & 0xFF)", "", "0 <= {v} <= 0xFF", "out of range")
SHORT: Codec[int] = _scalar("short", "i", "((({v} & 0xFFFF) ^ 0x8000) - 0x8000)", "",
                            "-0x8000 <= {v} <= 0x7FFF", "out of range")
USHORT: Codec[int] = _scalar("ushort", "I", "({v} & 0xFFFF)", "", "0 <= {v} <= 0xFFFF",
                             "out of range")


def _void_dec(buf: Any, off: int) -> tuple[None, int]:
    return None, off


def _void_enc(v: Any, out: bytearray) -> None:
    if v is not None and v != ():
        raise XDRError(f"void: expected None, got {_short_repr(v)}")


# An empty struct: the payload of a call or reply that carries nothing ("—" in §4).
VOID: Codec[None] = Codec("void", _void_enc, _void_dec, 0, ("void",))


# ---------------------------------------------------------------------------------------
# Strings and opaque data

def string(max_len: int, name: str = "string") -> Codec[str]:
    """`str` (remote_nonnull_string): u32 byte length, UTF-8 bytes, zero padding.

    Bytes that are not UTF-8 survive a round trip as surrogate escapes (C strings may
    hold any byte).
    """
    def dec(buf: Any, off: int) -> tuple[str, int]:
        n = _unpack_u32(buf, off)[0]
        if n > max_len:
            raise XDRError(f"{name}: length {n} exceeds bound {max_len}")
        start = off + 4
        end = start + n + (-n & 3)
        if end > len(buf):
            raise XDRError(f"{name}: truncated ({n} bytes declared)")
        return buf[start:start + n].decode("utf-8", "surrogateescape"), end

    def enc(v: str, out: bytearray) -> None:
        b = v.encode("utf-8", "surrogateescape")
        n = len(b)
        if n > max_len:
            raise XDRError(f"{name}: length {n} exceeds bound {max_len}")
        out += _pack_u32(n)
        out += b
        out += _PAD[n & 3]
    return Codec(name, enc, dec, 4, ("string", max_len))


def opaque(max_len: int, name: str = "opaque") -> Codec[bytes]:
    """`opaque x<N>`: u32 length, the bytes, zero padding."""
    def dec(buf: Any, off: int) -> tuple[bytes, int]:
        n = _unpack_u32(buf, off)[0]
        if n > max_len:
            raise XDRError(f"{name}: length {n} exceeds bound {max_len}")
        start = off + 4
        end = start + n + (-n & 3)
        if end > len(buf):
            raise XDRError(f"{name}: truncated ({n} bytes declared)")
        return bytes(buf[start:start + n]), end

    def enc(v: bytes, out: bytearray) -> None:
        n = len(v)
        if n > max_len:
            raise XDRError(f"{name}: length {n} exceeds bound {max_len}")
        out += _pack_u32(n)
        out += v
        out += _PAD[n & 3]
    return Codec(name, enc, dec, 4, ("opaque", max_len))


def opaque_fixed(size: int, name: str = "opaque") -> Codec[bytes]:
    """`opaque x[N]` (a uuid is opaque[16]): exactly N bytes plus padding, no length."""
    fmt = f"{size}s" + "x" * (-size & 3)
    run = RunInfo(fmt, _struct.calcsize(">" + fmt), "", "", f"_len({{v}}) == {size}",
                  f"needs exactly {size} bytes")
    packer = _struct.Struct(">" + fmt)
    unpack, pack, total = packer.unpack_from, packer.pack, packer.size

    def dec(buf: Any, off: int) -> tuple[bytes, int]:
        return unpack(buf, off)[0], off + total

    def enc(v: bytes, out: bytearray) -> None:
        # struct's "Ns" would silently pad or cut a wrong-sized value
        if len(v) != size:
            raise XDRError(f"{name}: expected {size} bytes, got {len(v)}")
        out += pack(v)
    return Codec(name, enc, dec, total, ("opaque_fixed", size), run)


def _chars_to_words(v: bytes, signed: bool) -> list[int]:
    if not isinstance(v, (bytes, bytearray)):
        raise XDRError(f"char array: expected bytes, got {_short_repr(v)}")
    # A C `char` is signed on the platforms libvirt runs on, so rpcgen sign-extends it.
    return [b - 256 if b > 127 else b for b in v] if signed else list(v)


def char_array_fixed(size: int, signed: bool = True, name: str = "char[]") -> Codec[bytes]:
    """`char x[N]`: N words, one per character (NODE_GET_INFO.model[32] is 128 bytes).

    The value is the N raw chars as bytes; a shorter value is NUL-padded on encoding
    (as strncpy into a zeroed buffer), `cstring()` gives the text.
    """
    s = _struct.Struct(f">{size}{'i' if signed else 'I'}")
    unpack, pack, total = s.unpack_from, s.pack, s.size

    def dec(buf: Any, off: int) -> tuple[bytes, int]:
        return bytes([w & 0xFF for w in unpack(buf, off)]), off + total

    def enc(v: bytes, out: bytearray) -> None:
        if len(v) > size:
            raise XDRError(f"{name}: {len(v)} chars exceed {size}")
        words = _chars_to_words(v, signed)
        out += pack(*words, *([0] * (size - len(words))))
    return Codec(name, enc, dec, total, ("chars_fixed", size, signed))


def char_array(max_len: int, signed: bool = True, name: str = "char<>") -> Codec[bytes]:
    """`char x<N>`: u32 count, then count words. libvirtd counts the trailing NUL
    (security model "none" is 5 chars, §2.1), so the value keeps it: b"none\\0"."""
    fmt = "i" if signed else "I"

    def dec(buf: Any, off: int) -> tuple[bytes, int]:
        n = _unpack_u32(buf, off)[0]
        if n > max_len:
            raise XDRError(f"{name}: count {n} exceeds bound {max_len}")
        if 4 * n > len(buf) - off - 4:
            raise XDRError(f"{name}: truncated ({n} chars declared)")
        return bytes([w & 0xFF for w in _unpack(f">{n}{fmt}", buf, off + 4)]), off + 4 + 4 * n

    def enc(v: bytes, out: bytearray) -> None:
        n = len(v)
        if n > max_len:
            raise XDRError(f"{name}: count {n} exceeds bound {max_len}")
        out += _pack_u32(n)
        out += _pack(f">{n}{fmt}", *_chars_to_words(v, signed))
    return Codec(name, enc, dec, 4, ("chars", max_len, signed))


# ---------------------------------------------------------------------------------------
# Composites

def optional(inner: Codec[T], name: str | None = None) -> Codec[T | None]:
    """`T *x` (`str?`, `dom?`): a bool presence flag, then T when it is non-zero."""
    idec, ienc = inner.dec, inner.enc

    def dec(buf: Any, off: int) -> tuple[T | None, int]:
        if _unpack_u32(buf, off)[0]:
            return idec(buf, off + 4)
        return None, off + 4

    def enc(v: T | None, out: bytearray) -> None:
        if v is None:
            out += _FALSE
        else:
            out += _TRUE
            ienc(v, out)
    return Codec(name or inner.name + "?", enc, dec, 4, ("optional", inner))


def _array_parts(elem: Codec[Any], name: str) -> tuple[ManyDecodeFn, EncodeFn]:
    """Element loops shared by variable and fixed arrays: decode n items, encode all."""
    run = elem.run
    if run is not None and not (run.dec_expr or run.enc_expr or run.check) and len(run.fmt) == 1:
        return _number_loops(run.fmt, run.size)
    if elem.min_size <= 0:
        raise ValueError(f"{name}: array elements must take at least one byte")
    if elem.many is not None:
        return elem.many  # a struct: its compiled loops, with the element inlined
    edec, eenc = elem.dec, elem.enc

    def dec_items(buf: Any, off: int, n: int) -> tuple[list[Any], int]:
        items: list[Any] = []
        append = items.append
        for _ in range(n):
            item, off = edec(buf, off)
            append(item)
        return items, off

    def enc_items(v: Any, out: bytearray) -> None:
        for item in v:
            eenc(item, out)
    return dec_items, enc_items


def _number_loops(fmt: str, size: int) -> tuple[ManyDecodeFn, EncodeFn]:
    """Plain numbers: one struct call for the whole array."""
    def dec_items(buf: Any, off: int, n: int) -> tuple[list[Any], int]:
        return list(_unpack(f">{n}{fmt}", buf, off)), off + n * size

    def enc_items(v: Any, out: bytearray) -> None:
        out += _pack(f">{len(v)}{fmt}", *v)
    return dec_items, enc_items


def array(elem: Codec[T], max_count: int, name: str | None = None) -> Codec[list[T]]:
    """`T x<N>`: u32 count (at most N), then the elements."""
    label = name or f"{elem.name}<{max_count}>"
    dec_items, enc_items = _array_parts(elem, label)
    min_size = elem.min_size

    def dec(buf: Any, off: int) -> tuple[list[T], int]:
        n = _unpack_u32(buf, off)[0]
        if n > max_count:
            raise XDRError(f"{label}: count {n} exceeds bound {max_count}")
        off += 4
        # Checked before the loop: n elements need at least n * min_size bytes.
        if n * min_size > len(buf) - off:
            raise XDRError(f"{label}: truncated ({n} elements declared)")
        return dec_items(buf, off, n)

    def enc(v: Sequence[T], out: bytearray) -> None:
        n = len(v)
        if n > max_count:
            raise XDRError(f"{label}: count {n} exceeds bound {max_count}")
        out += _pack_u32(n)
        enc_items(v, out)
    return Codec(label, enc, dec, 4, ("array", elem, max_count))


def array_fixed(elem: Codec[T], count: int, name: str | None = None) -> Codec[list[T]]:
    """`T x[N]`: exactly N elements, no count word."""
    label = name or f"{elem.name}[{count}]"
    dec_items, enc_items = _array_parts(elem, label)

    def dec(buf: Any, off: int) -> tuple[list[T], int]:
        if count * elem.min_size > len(buf) - off:
            raise XDRError(f"{label}: truncated")
        return dec_items(buf, off, count)

    def enc(v: Sequence[T], out: bytearray) -> None:
        if len(v) != count:
            raise XDRError(f"{label}: expected {count} elements, got {len(v)}")
        enc_items(v, out)
    return Codec(label, enc, dec, count * elem.min_size, ("array_fixed", elem, count))


def union(cls: type[T], disc: Codec[int], arms: Mapping[int, Codec[Any]],
          name: str | None = None) -> Codec[T]:
    """A discriminated union; its value is `cls(discriminant, arm value)`.

    An unknown discriminant is a decode error (the unions here have no default arm).
    """
    label = name or cls.__name__
    ddec, denc = disc.dec, disc.enc
    table = dict(arms)
    new = tuple.__new__

    def dec(buf: Any, off: int) -> tuple[T, int]:
        d, off = ddec(buf, off)
        arm = table.get(d)
        if arm is None:
            raise XDRError(f"{label}: unknown discriminant {d}")
        v, off = arm.dec(buf, off)
        return new(cls, (d, v)), off  # type: ignore[type-var]

    def enc(v: Any, out: bytearray) -> None:
        d, value = v
        arm = table.get(d)
        if arm is None:
            raise XDRError(f"{label}: unknown discriminant {d!r}")
        denc(d, out)
        arm.enc(value, out)
    min_size = disc.min_size + min((a.min_size for a in table.values()), default=0)
    return Codec(label, enc, dec, min_size, ("union", cls, table))


def struct(cls: type[T], fields: Sequence[Codec[Any]], name: str | None = None) -> Codec[T]:
    """A struct whose value is `cls(*field values)` (cls is a NamedTuple class).

    Encoding takes any sequence of the right length in field order.
    """
    names = getattr(cls, "_fields", None)
    if names is None or len(names) != len(fields) or not fields:
        raise ValueError(f"{cls!r}: needs a NamedTuple with one field per codec")
    label = name or cls.__name__
    # Compiled on first use: a program describes ~300 structs and a process uses a
    # handful, and compiling them all up front costs ~10 MB of code objects. Until then
    # the codec holds trampolines; afterwards its attributes are the compiled functions
    # (a parent compiled earlier keeps calling through the trampoline, one call more).
    codec: Codec[T] = Codec(label, _unset_enc, _unset_dec, sum(f.min_size for f in fields),
                            ("struct", cls, tuple(zip(names, fields))))

    def compiled() -> Codec[T]:
        if codec.dec is dec:
            with _compile_lock:
                if codec.dec is dec:
                    ns = _compile_struct(label, cls, names, fields)
                    codec.enc, codec.many = ns["enc"], (ns["decn"], ns["encn"])
                    codec.dec = ns["dec"]     # last: it is what says "compiled"
        return codec

    def dec(buf: BytesLike, off: int) -> tuple[Any, int]:
        return compiled().dec(buf, off)

    def enc(value: Any, out: bytearray) -> None:
        compiled().enc(value, out)

    def decn(buf: BytesLike, off: int, count: int) -> tuple[list[Any], int]:
        return compiled().many[0](buf, off, count)  # type: ignore[index]

    def encn(seq: Any, out: bytearray) -> None:
        compiled().many[1](seq, out)  # type: ignore[index]

    codec.dec, codec.enc, codec.many = dec, enc, (decn, encn)
    return codec


_compile_lock = threading.Lock()


def _unset_enc(value: Any, out: bytearray) -> None:  # pragma: no cover - replaced at once
    raise AssertionError("codec not initialised")


def _unset_dec(buf: BytesLike, off: int) -> tuple[Any, int]:  # pragma: no cover
    raise AssertionError("codec not initialised")


# ---------------------------------------------------------------------------------------
# The struct compiler: emits an encoder and a decoder as Python source, compiled once,
# plus loop versions for arrays of the struct. Consecutive fixed-size scalars become one
# Struct call; str, str? and nested structs are inlined; other fields call their codec.

def _str_dec(v: str, bound: int, m: str, t: str) -> list[str]:
    return ["n = _u32(buf, off)[0]",
            f"if n > {bound}:",
            f"    raise _X({m} % n)",
            "s = off + 4",
            "off = s + n + (-n & 3)",
            "if off > _len(buf):",
            f"    raise _X({t})",
            f"{v} = buf[s:s + n].decode('utf-8', 'surrogateescape')"]


def _str_enc(v: str, bound: int, m: str) -> list[str]:
    return [f"b = {v}.encode('utf-8', 'surrogateescape')",
            "n = _len(b)",
            f"if n > {bound}:",
            f"    raise _X({m} % n)",
            "out += _p32(n)",
            "out += b",
            "out += _PAD[n & 3]"]


def _indent(lines: list[str], by: str) -> list[str]:
    return [by + line for line in lines]


def _body(p: str, label: str, names: Sequence[str], fields: Sequence[Codec[Any]],
          ns: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Decoder and encoder lines for fields held in variables p0, p1, ...; a nested
    (non-optional) struct is inlined with variables p{i}_0, ..."""
    n = len(fields)
    vs = [f"{p}{i}" for i in range(n)]
    dec: list[str] = []
    enc: list[str] = []
    i = 0
    while i < n:
        f = fields[i]
        if f.run is not None:
            j = i
            while j < n and fields[j].run is not None:
                j += 1
            runs = [r for r in (fields[k].run for k in range(i, j)) if r is not None]
            packer = _struct.Struct(">" + "".join(r.fmt for r in runs))
            ns[f"_su{vs[i]}"], ns[f"_sp{vs[i]}"] = packer.unpack_from, packer.pack
            dec += [f"{', '.join(vs[i:j])}, = _su{vs[i]}(buf, off)", f"off += {packer.size}"]
            words = []
            for k, r in zip(range(i, j), runs):
                if r.dec_expr:
                    dec.append(f"{vs[k]} = " + r.dec_expr.format(v=vs[k]))
                if r.check:
                    ns[f"_w{vs[k]}"] = f"{label}.{names[k]}: {r.what}: %r"
                    enc += [f"if not ({r.check.format(v=vs[k])}):",
                            f"    raise _X(_w{vs[k]} % ({vs[k]},))"]
                words.append(r.enc_expr.format(v=vs[k]) if r.enc_expr else vs[k])
            enc.append(f"out += _sp{vs[i]}({', '.join(words)})")
            i = j
            continue
        shape, where, v = f.shape, f"{label}.{names[i]}", vs[i]
        inner: tuple[Any, ...] = shape[1].shape if shape[0] == "optional" else ()
        if shape[0] == "string" or inner[:1] == ("string",):
            bound = shape[1] if shape[0] == "string" else inner[1]
            ns[f"_m{v}"] = f"{where}: length %d exceeds bound {bound}"
            ns[f"_t{v}"] = f"{where}: truncated string"
            sdec = _str_dec(v, bound, f"_m{v}", f"_t{v}")
            senc = _str_enc(v, bound, f"_m{v}")
            if shape[0] == "string":
                dec += sdec
                enc += senc
            else:
                # Presence flag: any non-zero word is true (§2.1, go-libvirt's 0x01000000).
                dec += ["p = _u32(buf, off)[0]", "off += 4", "if p:", *_indent(sdec, "    "),
                        "else:", f"    {v} = None"]
                enc += [f"if {v} is None:", "    out += _F", "else:", "    out += _T",
                        *_indent(senc, "    ")]
        elif shape[0] == "struct":
            # Inlined: saves a call per nested struct (most payloads carry a `dom`).
            sub_names = [name for name, _ in shape[2]]
            sub_dec, sub_enc = _body(f"{v}_", where, sub_names, [c for _, c in shape[2]], ns)
            subvars = ", ".join(f"{v}_{k}" for k in range(len(sub_names)))
            ns[f"_c{v}"] = shape[1]
            dec += [*sub_dec, f"{v} = _new(_c{v}, ({subvars},))"]
            enc += [f"{subvars}, = {v}", *sub_enc]
        else:
            ns[f"_d{v}"], ns[f"_e{v}"] = f.dec, f.enc
            dec.append(f"{v}, off = _d{v}(buf, off)")
            enc.append(f"_e{v}({v}, out)")
        i += 1
    return dec, enc


def _compile_struct(label: str, cls: type[Any], names: Sequence[str],
                    fields: Sequence[Codec[Any]]) -> dict[str, Any]:
    ns = _namespace(_cls=cls)
    dec, enc = _body("v", label, names, fields, ns)
    vs = ", ".join(f"v{i}" for i in range(len(fields)))
    value = f"_new(_cls, ({vs},))"
    source = "\n".join([
        "def dec(buf, off):", *_indent(dec, "    "), f"    return {value}, off",
        "def decn(buf, off, count):", "    items = []", "    append = items.append",
        "    for _ in range(count):", *_indent(dec, "        "), f"        append({value})",
        "    return items, off",
        "def enc(v, out):", f"    {vs}, = v", *_indent(enc, "    "),
        "def encn(seq, out):", "    for v in seq:", f"        {vs}, = v", *_indent(enc, "        "),
    ]) + "\n"
    exec(_code(source), ns)  # noqa: S102 - source generated above from codecs, never from data
    return ns
