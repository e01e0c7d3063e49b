"""Output formatting: virsh's tables, key/value lines, sizes and scaled numbers.

Everything here is pure (text in, text out) so it can be unit-tested against captured
virsh output without a connection.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = [
    "ScaleError",
    "Table",
    "bitmap_format",
    "c_double",
    "format_capacity",
    "kv",
    "pretty_capacity",
    "scale_integer",
]


def _safe_encode(cell: str) -> tuple[str, int]:
    """Escape control characters as \\xNN and measure the display width, as
    vshTableSafeEncode does (so tabs or escapes cannot break the alignment)."""
    out: list[str] = []
    width = 0
    i = 0
    while i < len(cell):
        ch = cell[i]
        if (ch == "\\" and cell[i + 1:i + 2] == "x") or (ord(ch) < 0x20 or ord(ch) == 0x7F):
            out.append(f"\\x{ord(ch):02x}")
            width += 4
        elif not ch.isprintable():
            for b in ch.encode("utf-8"):
                out.append(f"\\x{b:02x}")
                width += 4
        else:
            out.append(ch)
            # wide East Asian characters take two columns, combining marks none (wcwidth)
            if unicodedata.combining(ch):
                pass
            elif unicodedata.east_asian_width(ch) in ("W", "F"):
                width += 2
            else:
                width += 1
        i += 1
    return "".join(out), width


class Table:
    """A vshTable: a header row and data rows, printed with columns as wide as their
    widest cell, a dashed rule, and no padding after the last column.

    With ``header=False`` (virsh's --quiet) neither header nor rule is printed and the
    header does not count towards the widths, as in vshTablePrint.
    """

    def __init__(self, *header: str) -> None:
        if not header:
            raise ValueError("Table row cannot be empty")
        self.rows: list[list[str]] = [list(header)]

    def add(self, *cells: str) -> None:
        if len(cells) != len(self.rows[0]):
            raise ValueError("Incorrect number of cells in a table row")
        self.rows.append([str(c) for c in cells])

    def render(self, header: bool = True) -> str:
        encoded = [[_safe_encode(c) for c in row] for row in self.rows]
        ncols = len(self.rows[0])
        widths = [0] * ncols
        for r, row in enumerate(encoded):
            if r == 0 and not header:
                continue
            for j, (_, w) in enumerate(row):
                widths[j] = max(widths[j], w)
        lines: list[str] = []

        def line(row: list[tuple[str, int]]) -> str:
            parts = []
            for j, (text, w) in enumerate(row):
                parts.append(" " + text)
                if j < ncols - 1:
                    parts.append(" " * (widths[j] - w + 2))
            return "".join(parts) + "\n"

        if header:
            lines.append(line(encoded[0]))
            lines.append("-" * sum(w + 3 for w in widths) + "\n")
        for row in encoded[1:]:
            lines.append(line(row))
        return "".join(lines)


def kv(label: str, value: object) -> str:
    """One 'Label:         value' line, label padded to 15 as virsh's "%-15s %s\\n"."""
    return f"{label:<15} {value}\n"


_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def pretty_capacity(value: int) -> tuple[float, str]:
    """A byte count as (number, unit) in the largest binary unit below it (vshPrettyCapacity)."""
    limit = 1024
    if value < limit:
        return float(value), "B"
    for unit in _UNITS[1:-1]:
        if value < limit * 1024:
            return value / limit, unit
        limit *= 1024
    return value / limit, _UNITS[-1]


def c_double(value: float, decimals: int) -> str:
    """printf("%.Nlf") of a double; Python's rounding of floats matches C's."""
    return f"{value:.{decimals}f}"


def format_capacity(value: int, decimals: int = 2) -> str:
    """'100.00 GiB', '0.00 B': a size as virsh prints pools and volumes ("%.2lf %s")."""
    num, unit = pretty_capacity(value)
    return f"{c_double(num, decimals)} {unit}"


class ScaleError(ValueError):
    """A scaled integer that is malformed, has an unknown suffix, or exceeds its limit.

    `detail` is the library error virScaleInteger would report (None when the number
    itself is malformed, which virsh reports without one)."""

    def __init__(self, text: str, detail: str | None = None, overflow: bool = False) -> None:
        super().__init__(text)
        self.detail = detail
        self.overflow = overflow


_POWERS = {"b": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def scale_integer(text: str, default_scale: int, limit: int) -> int:
    """Parse '1024', '1G', '512MiB', '1KB' as virsh does (virStrToLong_ullp then
    virScaleInteger): a non-negative integer, then an optional suffix b, k/KiB (1024),
    KB (1000), m, g, t, p, e; no suffix multiplies by `default_scale`."""
    stripped = text.lstrip(" \t\n\v\f\r")
    sign = stripped[:1] in "+-" and stripped[:1] != ""
    digits_at = 1 if sign else 0
    digits = len(stripped[digits_at:]) - len(stripped[digits_at:].lstrip("0123456789"))
    if digits == 0 or stripped.startswith("-"):
        raise ScaleError(text)
    number = int(stripped[digits_at:digits_at + digits])
    if number > 2**64 - 1:
        raise ScaleError(text)
    suffix = stripped[digits_at + digits:]
    if not suffix:
        scale = default_scale
    else:
        first, rest = suffix[0].lower(), suffix[1:]
        if rest in ("", "iB"):
            base = 1024
        elif rest == "B":
            base = 1000
        else:
            raise ScaleError(text, f"unknown suffix '{suffix}'")
        if first not in _POWERS or (first == "b" and rest):
            raise ScaleError(text, f"unknown suffix '{suffix}'")
        scale = base ** _POWERS[first]
    if number > limit // scale:
        raise ScaleError(text, f"value too large: {number}{suffix}", overflow=True)
    return number * scale


def bitmap_format(bits: Sequence[bool]) -> str:
    """'0-7', '0,2-3': set bits as ranges (virBitmapFormat)."""
    parts: list[str] = []
    i = 0
    n = len(bits)
    while i < n:
        if not bits[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and bits[j + 1]:
            j += 1
        parts.append(str(i) if i == j else f"{i}-{j}")
        i = j + 1
    return ",".join(parts)
