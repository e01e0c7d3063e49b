"""The Pythonic API on the test driver: snake_case, enums, dataclasses, context managers,
sharing of test:///default, errors as libvirtError subclasses."""
from __future__ import annotations

import dataclasses
import uuid

import pytest

import pyvirt
from pyvirt import errors
from pyvirt.constants import (ConnectListAllDomainsFlags, DomainPausedReason, DomainState,
                              ErrorDomain, ErrorNumber)
from pyvirt.types import DomainInfo, DomainStateReason, NodeInfo

TEST_UUID = uuid.UUID("6695eb01-f6a4-8304-79aa-97f2502e193f")


@pytest.fixture
def conn() -> pyvirt.Connection:
    with pyvirt.connect("test:///default") as c:
        yield c


def test_handles_and_records(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert (dom.name, dom.id, dom.uuid, dom.uuid_string) == ("test", 1, TEST_UUID, str(TEST_UUID))
    assert dom == conn.lookup_domain_by_uuid(TEST_UUID.bytes) == conn.lookup_domain_by_id(1)
    assert hash(dom) == hash(conn.lookup_domain_by_uuid_string(str(TEST_UUID)))
    info = dom.info()
    assert isinstance(info, DomainInfo) and dataclasses.is_dataclass(info)
    assert info.state is DomainState.RUNNING and info.max_mem == 8388608
    state, max_mem, memory, vcpus, _ = info        # records unpack in libvirt's order
    assert (state, memory, vcpus) == (DomainState.RUNNING, 2097152, 2)
    node = conn.get_node_info()
    assert isinstance(node, NodeInfo) and node.memory == 3145728 and node.cpus == 16


def test_lifecycle_with_enums(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    dom.suspend()
    assert dom.state() == DomainStateReason(DomainState.PAUSED, DomainPausedReason.USER)
    dom.resume()
    dom.destroy()
    assert dom.id == -1 and not dom.is_active()
    dom.create()
    assert dom.id == 2
    running = conn.list_all_domains(ConnectListAllDomainsFlags.ACTIVE)
    assert [d.name for d in running] == ["test"]


def test_errors_are_typed(conn: pyvirt.Connection) -> None:
    with pytest.raises(errors.NoDomainError) as e:
        conn.lookup_domain_by_name("nope")
    assert isinstance(e.value, pyvirt.libvirtError)
    assert e.value.code is ErrorNumber.NO_DOMAIN and e.value.domain is ErrorDomain.TEST
    assert errors.lookup(ErrorNumber.NO_DOMAIN) is errors.NoDomainError
    with pytest.raises(errors.InvalidArgError):
        conn.lookup_domain_by_name(42)  # type: ignore[arg-type]


def test_read_only(conn: pyvirt.Connection) -> None:
    with pyvirt.connect("test:///default", readonly=True) as ro:
        assert ro.read_only
        dom = ro.lookup_domain_by_name("test")
        with pytest.raises(errors.OperationDeniedError) as e:
            dom.suspend()
        assert str(e.value) == "operation forbidden: read only access prevents virDomainSuspend"
        assert dom.state().state is DomainState.RUNNING


def test_default_is_shared_while_open_then_fresh() -> None:
    a = pyvirt.connect("test:///default")
    b = pyvirt.connect("test:///default")
    a.lookup_domain_by_name("test").suspend()
    assert b.lookup_domain_by_name("test").state().state is DomainState.PAUSED
    a.close()
    assert b.lookup_domain_by_name("test").state().state is DomainState.PAUSED
    b.close()
    with pyvirt.connect("test:///default") as c:
        assert c.lookup_domain_by_name("test").state().state is DomainState.RUNNING


def test_closed_connection(conn: pyvirt.Connection) -> None:
    dom = conn.lookup_domain_by_name("test")
    assert conn.close() == 0 and conn.close() == 0 and conn.closed
    with pytest.raises(pyvirt.libvirtError) as e:
        dom.info()
    assert e.value.code is ErrorNumber.INVALID_CONN
    assert "virDomainGetInfo" in str(e.value)


def test_failed_define_changes_nothing(conn: pyvirt.Connection) -> None:
    before = conn.list_defined_domains(), conn.num_of_domains()
    for bad in ["<domain", "<domain type='test'><name>x</name></domain>",
                "<!DOCTYPE d [<!ENTITY e 'x'>]><domain type='test'><name>&e;</name>"
                "<memory>1</memory><os><type>hvm</type></os></domain>"]:
        with pytest.raises(pyvirt.libvirtError):
            conn.define_domain(bad)
    assert (conn.list_defined_domains(), conn.num_of_domains()) == before


def test_node_file(tmp_path: pytest.TempPathFactory) -> None:
    node = tmp_path / "node.xml"  # type: ignore[operator]
    node.write_text(
        "<node><domain type='test'><name>fv0</name><memory>524288</memory>"
        "<os><type>hvm</type></os></domain>"
        "<cpu><mhz>6000</mhz><model>i986</model><active>50</active><nodes>4</nodes>"
        "<sockets>4</sockets><cores>4</cores><threads>2</threads></cpu>"
        "<memory>8192000</memory></node>")
    with pyvirt.connect(f"test://{node}") as c:
        assert c.get_node_info() == NodeInfo("i986", 8192000, 50, 6000, 4, 4, 4, 2)
        assert [d.name for d in c.list_all_domains()] == ["fv0"]
        assert c.lookup_domain_by_name("fv0").state().state is DomainState.RUNNING
    with pytest.raises(pyvirt.libvirtError) as e:
        pyvirt.connect(f"test://{tmp_path}/missing.xml")
    assert e.value.code is ErrorNumber.XML_ERROR
