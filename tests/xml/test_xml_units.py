"""Numbers, units, UUIDs, MACs and bitmaps, read the way libvirt reads them."""
from __future__ import annotations

import pytest

from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import libvirtError
from pyvirt.xml.ids import is_multicast, new_mac, new_uuid, parse_mac, parse_uuid
from pyvirt.xml.units import (
    LLONG_MAX,
    UNIT_SCALE,
    format_bitmap,
    memory_to_kib,
    parse_bitmap,
    parse_int,
    parse_uint,
    parse_ull,
    scale_integer,
)

# Every unit libvirt documents, and what 1000 of it is in KiB as <memory> (checked
# against libvirt 9.0's test driver: define, then XMLDesc).
MEMORY_1000 = {
    "b": 1, "bytes": 1, "k": 1000, "KiB": 1000, "KB": 977, "M": 1024000, "MiB": 1024000,
    "MB": 976563, "G": 1048576000, "GiB": 1048576000, "GB": 976562500, "T": 1073741824000,
    "TiB": 1073741824000, "TB": 976562500000, "P": 1099511627776000,
    "PiB": 1099511627776000, "PB": 976562500000000,
}


@pytest.mark.parametrize("unit,kib", sorted(MEMORY_1000.items()))
def test_memory_units(unit: str, kib: int) -> None:
    assert memory_to_kib(1000, unit) == kib
    assert memory_to_kib(1000, unit.lower()) == kib   # suffixes are case-insensitive


@pytest.mark.parametrize("unit", ["E", "EiB", "EB"])
def test_memory_exa_overflows(unit: str) -> None:
    with pytest.raises(libvirtError) as exc:
        memory_to_kib(1000, unit)
    assert exc.value.err[:3] == (ErrorNumber.OVERFLOW, ErrorDomain.NONE,
                                 f"numerical overflow: value too large: 1000{unit}")


def test_memory_rounding_and_limits() -> None:
    assert memory_to_kib(1, "b") == 1
    assert memory_to_kib(1023, "b") == 1
    assert memory_to_kib(1025, "b") == 2
    assert memory_to_kib(1024, None) == 1024
    assert memory_to_kib((1 << 53) - 1, None) == (1 << 53) - 1
    with pytest.raises(libvirtError) as exc:
        memory_to_kib(1 << 53, None)
    assert exc.value.get_error_message() == "numerical overflow: value too large: 9007199254740992"
    with pytest.raises(libvirtError) as exc:
        memory_to_kib(LLONG_MAX, "b")
    assert exc.value.err[:3] == (82, ErrorDomain.DOMAIN, "numerical overflow: size value too large")


def test_unknown_suffix() -> None:
    with pytest.raises(libvirtError) as exc:
        scale_integer(1, "X", 1, LLONG_MAX)
    assert exc.value.err[:3] == (8, 0, "invalid argument: unknown suffix 'X'")
    for bad in ("KiBB", "Ki", "kbb", "Q"):
        with pytest.raises(libvirtError):
            scale_integer(1, bad, 1, LLONG_MAX)


def test_unit_table() -> None:
    assert UNIT_SCALE["KiB"] == 1024 and UNIT_SCALE["KB"] == 1000
    assert UNIT_SCALE["EiB"] == 1024 ** 6 and UNIT_SCALE["bytes"] == 1


@pytest.mark.parametrize("text,value", [
    ("0", 0), ("12", 12), (" 12", 12), ("+5", 5), ("18446744073709551615", (1 << 64) - 1),
    ("12 ", None), ("-1", None), ("1.5", None), ("0x10", None), ("", None), ("abc", None),
    ("18446744073709551616", None), ("\u0661", None),
])
def test_parse_ull(text: str, value: int | None) -> None:
    assert parse_ull(text) == value


def test_parse_bases() -> None:
    assert parse_uint("0x1f", 0) == 31
    assert parse_uint("010", 0) == 8
    assert parse_uint("0", 0) == 0
    assert parse_uint("4294967296") is None
    assert parse_int("-5") == -5
    assert parse_int("0755", 8) == 0o755


@pytest.mark.parametrize("text,canon", [
    ("6695eb01-f6a4-8304-79aa-97f2502e193f", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
    ("6695EB01F6A4830479AA97F2502E193F", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
    (" 6695eb01 f6a4-8304-79aa 97f2502e193f ", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
    ("66-95-eb-01-f6a4830479aa97f2502e193f", "6695eb01-f6a4-8304-79aa-97f2502e193f"),
    ("xyz", None), ("6695eb01-f6a4-8304-79aa-97f2502e193", None),
    ("6695eb01-f6a4-8304-79aa-97f2502e193f0", None), ("6695eb01-f6a4-8304-79aa-97f2502e193--d", None),
    ("6-695eb01f6a4830479aa97f2502e193f", None),
])
def test_parse_uuid(text: str, canon: str | None) -> None:
    assert parse_uuid(text) == canon


def test_new_uuid_is_version_4() -> None:
    u = new_uuid(lambda n: b"\xff" * n)
    assert u == "ffffffff-ffff-4fff-bfff-ffffffffffff"
    assert parse_uuid(new_uuid()) is not None


@pytest.mark.parametrize("text,canon", [
    ("52:54:00:AB:cd:EF", "52:54:00:ab:cd:ef"), ("52:54:0:1:2:3", "52:54:00:01:02:03"),
    ("52:54:00:01:02:03 ", "52:54:00:01:02:03"),
    ("52-54-00-01-02-03", None), ("52:54:00:01:02", None), ("52:54:00:01:02:03:04", None),
    ("052:54:00:01:02:03", None), ("zz", None), ("", None), ("+2:54:00:01:02:03", None),
])
def test_parse_mac(text: str, canon: str | None) -> None:
    assert parse_mac(text) == canon


def test_new_mac() -> None:
    assert new_mac(lambda n: b"\x01\x02\x03") == "52:54:00:01:02:03"
    mac = new_mac()
    assert mac.startswith("52:54:00:") and not is_multicast(mac)


@pytest.mark.parametrize("text,bits,canon", [
    ("0-2,4,^1,8-9", {0, 2, 4, 8, 9}, "0,2,4,8-9"),   # libvirt prints 0,2,4,8-9
    ("1-3,^2,5,6,7", {1, 3, 5, 6, 7}, "1,3,5-7"),
    ("3", {3}, "3"),
])
def test_bitmap(text: str, bits: set[int], canon: str) -> None:
    assert parse_bitmap(text) == bits
    assert format_bitmap(bits) == canon


@pytest.mark.parametrize("text", ["x", "", "1-", "3-1", "^1-2", "99999"])
def test_bitmap_bad(text: str) -> None:
    assert parse_bitmap(text) is None
