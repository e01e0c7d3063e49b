"""pyvirt.xml against libvirt 9.0's recorded answers for every corpus case.

Each case was defined on test:///default by real libvirt (record_xml_expected.py);
pyvirt must give back the same XML byte for byte (bar the UUIDs and MACs libvirt made
up at random, masked on both sides), or fail with the same error, field for field (code, origin, message, str1-3, ...).
"""
from __future__ import annotations

import pytest
from xml_corpus import CASES, NETWORK_CASES, POOL_CASES, VOLUME_CASES
from xml_harness import expected, outcome

ALL = {"domain": CASES, "network": NETWORK_CASES, "pool": POOL_CASES, "volume": VOLUME_CASES}
PARAMS = [pytest.param(kind, name, id=f"{kind}:{name}")
          for kind, cases in ALL.items() for name in cases]
EXPECTED = {kind: expected(kind) for kind in ALL}


@pytest.mark.parametrize("kind,name", PARAMS)
def test_matches_libvirt(kind: str, name: str) -> None:
    assert outcome(kind, ALL[kind][name]) == EXPECTED[kind][name]


def test_every_case_was_recorded() -> None:
    for kind, cases in ALL.items():
        assert set(cases) == set(EXPECTED[kind]), kind
