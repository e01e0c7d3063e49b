"""Identifiers in config XML: UUIDs and MAC addresses, parsed and generated as libvirt does.

- UUIDs follow virUUIDParse (src/util/viruuid.c): surrounding whitespace, and '-' or
  ' ' anywhere between hex digit pairs, as long as there are exactly 32 hex digits;
  printed lowercase in the 8-4-4-4-12 form. New ones are random version-4 UUIDs.
- MACs follow virMacAddrParse (src/util/virmacaddr.c): six ':'-separated groups of one
  or two hex digits, printed as lowercase two-digit groups. Generated MACs use the
  52:54:00 prefix (libvirt's VIR_MAC_PREFIX_DEFAULT) and three random bytes.
"""
from __future__ import annotations

import os
import re
from collections.abc import Callable

__all__ = [
    "RandomBytes",
    "format_uuid",
    "is_multicast",
    "new_mac",
    "new_uuid",
    "parse_mac",
    "parse_uuid",
]

# A source of random bytes: os.urandom by default; tests pass a seeded one.
RandomBytes = Callable[[int], bytes]

_HEX = frozenset("0123456789abcdefABCDEF")
_SPACE = " \t\n\v\f\r"


_UUID36 = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}\Z")
_MAC17 = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}\Z")


def parse_uuid(s: str) -> str | None:
    """Canonical lowercase dashed form of a UUID string, or None when it is malformed."""
    if _UUID36.match(s):  # the canonical spelling, fast
        return s.lower()
    t = s.strip(_SPACE)
    digits: list[str] = []
    i, n = 0, len(t)
    while len(digits) < 16:
        if i >= n:
            return None
        c = t[i]
        if c in "- ":
            i += 1
            continue
        if c not in _HEX or i + 1 >= n or t[i + 1] not in _HEX:
            return None
        digits.append(t[i:i + 2])
        i += 2
    if i != n:
        return None
    return _dashed("".join(digits).lower())


def _dashed(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def format_uuid(raw16: bytes) -> str:
    return _dashed(raw16.hex())


def new_uuid(rand: RandomBytes = os.urandom) -> str:
    """A random (version 4) UUID, as virUUIDGenerate makes them."""
    b = bytearray(rand(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    return format_uuid(bytes(b))


def parse_mac(s: str) -> str | None:
    """Canonical form of a MAC address string, or None when virMacAddrParse would fail."""
    if _MAC17.match(s):  # the canonical spelling, fast
        return s.lower()
    parts: list[str] = []
    i, n = 0, len(s)
    for k in range(6):
        j = i
        while j < n and j - i < 3 and s[j] in _HEX:
            j += 1
        if not 1 <= j - i <= 2:
            return None
        parts.append(s[i:j].lower().rjust(2, "0"))
        if k == 5:
            # virMacAddrParse accepts anything at or below ' ' after the last group
            if j < n and s[j] > " ":
                return None
            return ":".join(parts)
        if j >= n or s[j] != ":":
            return None
        i = j + 1
    return None  # pragma: no cover


def is_multicast(mac: str) -> bool:
    return bool(int(mac[:2], 16) & 1)


def new_mac(rand: RandomBytes = os.urandom, prefix: bytes = b"\x52\x54\x00") -> str:
    """A MAC with libvirt's default 52:54:00 prefix and three random bytes."""
    return ":".join(f"{b:02x}" for b in prefix + rand(3))
