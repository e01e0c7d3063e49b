"""Numbers in config XML: libvirt's integer syntax, unit suffixes and scaling to KiB/bytes.

libvirt reads integers with strtoul/strtoull wrappers (src/util/virstring.c) and sizes
with virScaleInteger (src/util/virutil.c); pyvirt accepts and rejects exactly what they
do, and reports the same errors:

- virStrToLong_*p ("positive"): optional leading whitespace, optional '+', digits in
  the given base (base 0: 0x.. hex, 0.. octal), nothing after; any '-' is refused.
- unit suffixes are case-insensitive: b/byte/bytes = 1; k, KiB ... E, EiB powers of
  1024; KB ... EB powers of 1000; anything else is "unknown suffix" (VIR_ERR_INVALID_ARG
  from VIR_FROM_NONE), overflow past the limit is VIR_ERR_OVERFLOW "value too large".
- domain memory is converted to KiB rounding up, and refused at or beyond 2^63 bytes
  (virDomainParseMemory with virMemoryMaxValue on 64-bit hosts).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error

__all__ = [
    "INT_MAX",
    "LLONG_MAX",
    "MEMORY_MAX_BYTES",
    "UINT_MAX",
    "ULLONG_MAX",
    "UNIT_SCALE",
    "format_bitmap",
    "memory_to_kib",
    "parse_bitmap",
    "parse_int",
    "parse_llong",
    "parse_uint",
    "parse_ul_base",
    "parse_ull",
    "scale_integer",
]

LLONG_MAX = (1 << 63) - 1
ULLONG_MAX = (1 << 64) - 1
UINT_MAX = (1 << 32) - 1
INT_MAX = (1 << 31) - 1
MEMORY_MAX_BYTES = LLONG_MAX

_WS = " \t\n\v\f\r"
_DIGITS10 = frozenset("0123456789")


def _strtoull(s: str, base: int) -> tuple[int, int, bool] | None:
    """strtoull: (value, chars consumed, saw '-') or None when no digits were read."""
    i, n = 0, len(s)
    while i < n and s[i] in _WS:
        i += 1
    neg = False
    if i < n and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    if base == 0:
        if s.startswith(("0x", "0X"), i) and i + 2 < n and s[i + 2] in "0123456789abcdefABCDEF":
            base, i = 16, i + 2
        elif i < n and s[i] == "0":
            base = 8
        else:
            base = 10
    elif base == 16 and s.startswith(("0x", "0X"), i):
        i += 2
    start = i
    val = 0
    while i < n:
        c = s[i]
        if "0" <= c <= "9":
            d = ord(c) - 48
        elif "a" <= c <= "z":
            d = ord(c) - 87
        elif "A" <= c <= "Z":
            d = ord(c) - 55
        else:
            break
        if d >= base:
            break
        val = val * base + d
        i += 1
    if i == start:
        return None
    return val, i, neg


_DEC = re.compile(r"[0-9]+\Z")
_HEX0 = re.compile(r"0[xX][0-9a-fA-F]+\Z")


def parse_ul_base(s: str | None, base: int, limit: int) -> int | None:
    """virStrToLong_*p: the whole string must be a non-negative integer <= limit."""
    if s is None:
        return None
    # fast paths for the common spellings: decimal, and 0x.. hex in base 0
    if (base == 10 or (base == 0 and (s == "0" or s[:1] != "0"))) and _DEC.match(s):
        v = int(s)
        return v if v <= limit else None
    if base == 0 and _HEX0.match(s):
        v = int(s, 16)
        return v if v <= limit else None
    r = _strtoull(s, base)
    if r is None:
        return None
    val, end, neg = r
    if neg or end != len(s) or val > limit:
        return None
    return val


def parse_ull(s: str | None, base: int = 10) -> int | None:
    """virStrToLong_ullp: an unsigned long long, or None when `s` is not one."""
    return parse_ul_base(s, base, ULLONG_MAX)


def parse_uint(s: str | None, base: int = 10) -> int | None:
    """virStrToLong_uip: an unsigned int, or None when `s` is not one."""
    return parse_ul_base(s, base, UINT_MAX)


def parse_int(s: str | None, base: int = 10) -> int | None:
    """virStrToLong_i: a signed int (leading '-' allowed), or None."""
    if s is None:
        return None
    r = _strtoull(s, base)
    if r is None:
        return None
    val, end, neg = r
    if end != len(s):
        return None
    val = -val if neg else val
    if not -INT_MAX - 1 <= val <= INT_MAX:
        return None
    return val


def parse_llong(s: str | None, base: int = 10) -> int | None:
    """virStrToLong_ll: a signed 64-bit integer, or None."""
    if s is None:
        return None
    r = _strtoull(s, base)
    if r is None or r[1] != len(s):
        return None
    val = -r[0] if r[2] else r[0]
    return val if -LLONG_MAX - 1 <= val <= LLONG_MAX else None


def _suffix_scale(suffix: str) -> int | None:
    low = suffix.lower()
    if low in ("b", "byte", "bytes"):
        return 1
    if len(suffix) == 1 or low[1:] == "ib":
        base = 1024
    elif len(suffix) == 2 and low[1] == "b":
        base = 1000
    else:
        return None
    power = "kmgtpe".find(low[0])
    if power < 0:
        return None
    scale: int = base ** (power + 1)
    return scale


# Scale of each unit name libvirt documents, for callers that format or validate units.
UNIT_SCALE: Mapping[str, int] = MappingProxyType({
    u: s for u in ("b", "bytes", "k", "KiB", "KB", "M", "MiB", "MB", "G", "GiB", "GB",
                   "T", "TiB", "TB", "P", "PiB", "PB", "E", "EiB", "EB")
    if (s := _suffix_scale(u)) is not None
})


def scale_integer(value: int, suffix: str | None, scale: int, limit: int) -> int:
    """virScaleInteger: `value` times the unit's scale (`scale` when no unit), <= limit.

    Errors are libvirt's, from VIR_FROM_NONE: "invalid argument: unknown suffix 'X'"
    and "numerical overflow: value too large: 1000E".
    """
    if suffix:
        unit_scale = _suffix_scale(suffix)
        if unit_scale is None:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE, f"unknown suffix '{suffix}'")
    else:
        unit_scale = scale
        suffix = ""
    if value and value > limit // unit_scale:
        raise error(ErrorNumber.OVERFLOW, ErrorDomain.NONE, f"value too large: {value}{suffix}")
    return value * unit_scale


def memory_to_kib(value: int, unit: str | None) -> int:
    """virDomainParseMemory: a memory size in `unit` (default KiB) to KiB, rounding up."""
    if not unit and value < (1 << 53):  # fast path: plain KiB, known to be in range
        return value
    nbytes = scale_integer(value, unit, 1024, MEMORY_MAX_BYTES)
    kib = -(-nbytes // 1024)
    if kib >= -(-MEMORY_MAX_BYTES // 1024):
        raise error(ErrorNumber.OVERFLOW, ErrorDomain.DOMAIN, "size value too large")
    return kib


def parse_bitmap(s: str, limit: int = 8192) -> set[int] | None:
    """virBitmapParse: "0-3,^2,8" -> {0, 1, 3, 8}; None when malformed or out of range."""
    result: set[int] = set()
    for item in s.split(","):
        item = item.strip(_WS)
        neg = item.startswith("^")
        if neg:
            item = item[1:]
        lo_s, sep, hi_s = item.partition("-")
        if not lo_s.isdigit() or (sep and not hi_s.isdigit()) or not lo_s.isascii():
            return None
        lo = int(lo_s)
        hi = int(hi_s) if sep else lo
        if neg and sep or lo > hi or hi >= limit:
            return None
        if neg:
            result.discard(lo)
        else:
            result.update(range(lo, hi + 1))
    return result


def format_bitmap(bits: set[int]) -> str:
    """virBitmapFormat: sorted ranges, "0-3,5"."""
    out: list[str] = []
    start = prev = -2
    for b in sorted(bits):
        if b != prev + 1:
            if start >= 0:
                out.append(str(start) if start == prev else f"{start}-{prev}")
            start = b
        prev = b
    if start >= 0:
        out.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(out)
