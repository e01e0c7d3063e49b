"""pyvirt.xml against the real libvirt on this machine (libvirt-python, test:///default).

Skipped when libvirt-python is not installed. The recorded answers the other tests use
must still be what libvirt says; and Hypothesis-built domains, defined on libvirt's test
driver, must come back exactly as pyvirt writes them (or fail the same way).
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from record_xml_expected import mask, record, record_node
from test_xml_roundtrip import domains
from xml_harness import DATA, expected

from pyvirt.errors import libvirtError
from pyvirt.xml import DomainDef, format_domain, load_domain, normalize_domain

libvirt = pytest.importorskip("libvirt")
pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def conn() -> Any:
    libvirt.registerErrorHandler(lambda *a: None, None)
    c = libvirt.open("test:///default")
    yield c
    c.close()


def test_recorded_answers_are_current() -> None:
    for kind, live in record().items():
        assert live == expected(kind), kind


def test_recorded_node_is_current() -> None:
    assert record_node(DATA / "node" / "node.xml") == \
        json.loads((DATA / "node_expected.json").read_text())


def test_golden_files_are_current(conn: Any) -> None:
    assert conn.lookupByName("test").XMLDesc(0) == (DATA / "test_domain.xml").read_text()
    assert conn.lookupByName("test").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == \
        (DATA / "test_domain_inactive.xml").read_text()
    assert conn.networkLookupByName("default").XMLDesc(0) == \
        (DATA / "default_network.xml").read_text()
    assert conn.storagePoolLookupByName("default-pool").XMLDesc(0) == \
        (DATA / "default_pool.xml").read_text()


def _differential(conn: Any, xml: str) -> None:
    try:
        dom = conn.defineXML(xml)
    except libvirt.libvirtError as e:
        with pytest.raises(libvirtError) as ours:
            load_domain(xml)
        assert ours.value.get_error_message() == e.get_error_message()
        return
    try:
        theirs = mask(xml, dom.XMLDesc(0))
    finally:
        dom.undefine()
    assert mask(xml, format_domain(load_domain(xml))) == theirs


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(domains())
def test_differential_normalised(conn: Any, d: DomainDef) -> None:
    assume(d.name != "test")
    try:
        d = normalize_domain(d)
    except libvirtError:
        assume(False)
    _differential(conn, format_domain(d))


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(domains())
def test_differential_sparse(conn: Any, d: DomainDef) -> None:
    assume(d.name != "test")
    _differential(conn, format_domain(d))
