"""XML fast-parse against real libvirt 9.0: a known-answer file recorded from libvirt's
test driver by record_fastxml_libvirt.py (data/fastxml_libvirt.json).

Where libvirt accepted a document and the fast parser answers, every field must be
libvirt's.  Where libvirt refused because of a hot field, the fast parser must refuse
too.  The fast parser may be stricter than libvirt (a refusal only means "use lxml"),
but only in the listed cases.
"""
from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from pyvirt._core import FastParseError, Impl

DATA = json.loads((pathlib.Path(__file__).parent / "data" / "fastxml_libvirt.json").read_text())
CASES: dict[str, dict[str, Any]] = DATA["cases"]

# libvirt accepts these, the fast parser refuses: signs in numbers (strtoul takes "+").
STRICTER = {"value-plus", "vcpu-plus"}
# libvirt refuses these while validating values the fast parser only reads.
VALIDATION_ONLY = {"os-type-spaces", "name-decoys"}


def _uuid(u: str) -> str:
    h = "".join(c for c in u.lower() if c in "0123456789abcdef")
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@pytest.mark.parametrize("key", sorted(CASES))
def test_matches_libvirt(impl: Impl, key: str) -> None:
    case = CASES[key]
    try:
        got = impl.fastxml.parse_domain_summary(case["input"])
    except FastParseError as e:
        if "error" not in case:
            assert key in STRICTER, f"refused what libvirt accepts: {e}"
        return
    if "error" in case:
        assert key in VALIDATION_ONLY, f"answered what libvirt refuses: {case['error']}"
        return
    assert key not in STRICTER
    cur = got.current_memory_kib    # libvirt replaces 0, or more than memory, by memory
    cur = got.memory_kib if not cur or cur > got.memory_kib else cur
    assert (got.name, got.type, got.memory_kib, cur, got.vcpu, got.os_type) == \
        (case["name"], case["type"], case["memory_kib"], case["current_memory_kib"],
         case["vcpu"], case["os_type"])
    if got.uuid is not None:
        assert _uuid(got.uuid) == case["uuid"]


def test_the_file_covers_both_outcomes() -> None:
    assert DATA["libvirt_version"] >= 9000000
    accepted = sum("error" not in c for c in CASES.values())
    assert accepted >= 40 and len(CASES) - accepted >= 20
