"""The remote driver against pyvirtd: every call gives what the local driver gives.

Differential by construction: each scenario runs once on a local test:///default
connection and once through test+unix:// (and +tcp://) to a private pyvirtd serving
the same driver, and the results (values, or the error's code, domain and message)
must be equal. Wall-clock fields (CPU times) are masked.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import pytest

import pyvirt
from pyvirt import Connection
from pyvirt.constants import DomainEventID, ErrorNumber
from tests.interop.peers import PyvirtdProcess

DOMAIN_XML = """<domain type='test'>
  <name>remote-{n}</name>
  <uuid>8f0e1c2a-0000-4000-8000-00000000000{n}</uuid>
  <memory unit='KiB'>65536</memory>
  <vcpu>1</vcpu>
  <os><type arch='i686'>hvm</type></os>
</domain>"""
NET_XML = """<network><name>rnet</name><uuid>8f0e1c2a-0000-4000-8000-0000000000aa</uuid><bridge name='rbr0'/>
  <ip address='192.168.150.1' netmask='255.255.255.0'/></network>"""
VOL_XML = """<volume><name>v1.img</name><capacity unit='M'>1</capacity></volume>"""


def _plain(v: Any) -> Any:
    """Comparable form: handles by identity, records as tuples, CPU times masked."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        d = dataclasses.asdict(v)
        for k in ("cpu_time",):
            if k in d:
                d[k] = "*"
        return d
    if isinstance(v, pyvirt.Domain):
        return ("dom", v.name, v.uuid_string, v.id)
    if isinstance(v, (pyvirt.Network, pyvirt.StoragePool)):
        return (type(v).__name__, v.name, v.uuid_string)
    if isinstance(v, pyvirt.StorageVol):
        return ("vol", v.pool_name, v.name, v.key)
    return v


def run(conn: Connection, steps: list[Callable[[Connection], Any]]) -> list[Any]:
    out = []
    for step in steps:
        try:
            out.append(_plain(step(conn)))
        except pyvirt.libvirtError as exc:
            out.append(("error", int(exc.code), int(exc.domain), exc.message))
    return out


def dom(c: Connection, name: str = "test") -> pyvirt.Domain:
    return c.lookup_domain_by_name(name)


SCENARIOS: dict[str, list[Callable[[Connection], Any]]] = {
    "host": [
        lambda c: c.get_type(), lambda c: c.get_version(), lambda c: c.get_lib_version(),
        lambda c: c.get_hostname(), lambda c: c.get_capabilities(),
        lambda c: c.get_node_info(), lambda c: c.get_max_vcpus(None),
        lambda c: c.get_free_memory(), lambda c: c.get_cells_free_memory(0, 2),
        lambda c: c.get_cells_free_memory(5, 2), lambda c: c.get_security_model(),
        lambda c: c.get_cpu_map(), lambda c: c.is_alive(),
    ],
    "domain queries": [
        lambda c: c.list_all_domains(), lambda c: c.list_all_domains(1),
        lambda c: c.list_domain_ids(), lambda c: c.num_of_domains(),
        lambda c: c.list_defined_domains(), lambda c: c.num_of_defined_domains(),
        lambda c: c.lookup_domain_by_id(1),
        lambda c: c.lookup_domain_by_uuid_string("6695eb01-f6a4-8304-79aa-97f2502e193f"),
        lambda c: c.lookup_domain_by_name("nope"), lambda c: c.lookup_domain_by_id(99),
        lambda c: dom(c).info(), lambda c: dom(c).state(), lambda c: dom(c).os_type(),
        lambda c: dom(c).xml_desc(), lambda c: dom(c).xml_desc(2),
        lambda c: dom(c).max_memory(), lambda c: dom(c).max_vcpus(), lambda c: dom(c).vcpus(),
        lambda c: dom(c).vcpus_flags(0), lambda c: dom(c).autostart(),
        lambda c: dom(c).is_active(), lambda c: dom(c).is_persistent(),
        lambda c: dom(c).is_updated(), lambda c: dom(c).has_managed_save_image(),
        lambda c: dom(c).security_label(), lambda c: dom(c).messages(),
        lambda c: dom(c).snapshot_num(), lambda c: dom(c).job_info(),
        lambda c: dom(c).memory_peek(0, 16, 2),
    ],
    "domain lifecycle": [
        lambda c: dom(c).suspend(), lambda c: dom(c).state(), lambda c: dom(c).suspend(),
        lambda c: dom(c).resume(), lambda c: dom(c).state(),
        lambda c: (lambda d: (d.destroy(), d.id))(dom(c)), lambda c: dom(c).state(),
        lambda c: (lambda d: (d.create(), d.id))(dom(c)), lambda c: dom(c).info(),
        lambda c: dom(c).shutdown(), lambda c: dom(c).state(),
        lambda c: dom(c).create(1), lambda c: dom(c).state(), lambda c: dom(c).destroy(),
        lambda c: c.define_domain(DOMAIN_XML.format(n=1)), lambda c: dom(c, "remote-1").id,
        lambda c: c.define_domain("<domain"), lambda c: c.define_domain(DOMAIN_XML.format(n=1)),
        lambda c: dom(c, "remote-1").set_autostart(True), lambda c: dom(c, "remote-1").autostart(),
        lambda c: dom(c, "remote-1").set_memory(32768, 2), lambda c: dom(c, "remote-1").xml_desc(),
        lambda c: dom(c, "remote-1").rename("remote-2"), lambda c: c.list_defined_domains(),
        lambda c: dom(c, "remote-2").undefine(), lambda c: c.list_defined_domains(),
        lambda c: c.create_domain(DOMAIN_XML.format(n=3)), lambda c: dom(c, "remote-3").id,
        lambda c: dom(c, "remote-3").is_persistent(), lambda c: dom(c, "remote-3").destroy(),
        lambda c: c.lookup_domain_by_name("remote-3"),
    ],
    "save restore": [
        lambda c: dom(c).save("/nonexistent/dir/x.save"),
        lambda c: dom(c).managed_save(), lambda c: dom(c).has_managed_save_image(),
        lambda c: dom(c).state(), lambda c: dom(c).create(), lambda c: dom(c).state(),
    ],
    "networks": [
        lambda c: c.list_all_networks(), lambda c: c.list_networks(),
        lambda c: c.num_of_networks(), lambda c: c.list_defined_networks(),
        lambda c: c.lookup_network_by_name("default").bridge_name(),
        lambda c: c.lookup_network_by_name("default").xml_desc(),
        lambda c: c.lookup_network_by_name("default").autostart(),
        lambda c: c.lookup_network_by_name("nope"),
        lambda c: c.define_network(NET_XML), lambda c: c.list_defined_networks(),
        lambda c: c.lookup_network_by_name("rnet").create(),
        lambda c: c.lookup_network_by_name("rnet").is_active(),
        lambda c: c.lookup_network_by_name("rnet").destroy(),
        lambda c: c.lookup_network_by_name("rnet").undefine(),
        lambda c: c.lookup_network_by_uuid_string("dd8fe884-6c02-601e-7551-cca97df1c5df"),
    ],
    "storage": [
        lambda c: c.list_all_storage_pools(), lambda c: c.list_storage_pools(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").info(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").xml_desc(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").list_all_volumes(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").create_volume(VOL_XML),
        lambda c: c.lookup_storage_pool_by_name("default-pool").list_volumes(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").num_of_volumes(),
        lambda c: c.lookup_storage_pool_by_name("default-pool")
        .lookup_volume_by_name("v1.img").info(),
        lambda c: c.lookup_storage_pool_by_name("default-pool")
        .lookup_volume_by_name("v1.img").path(),
        lambda c: c.lookup_storage_pool_by_name("default-pool")
        .lookup_volume_by_name("v1.img").pool(),
        lambda c: c.lookup_storage_vol_by_path("/default-pool/v1.img"),
        lambda c: c.lookup_storage_pool_by_name("default-pool")
        .lookup_volume_by_name("v1.img").delete(),
        lambda c: c.lookup_storage_pool_by_name("default-pool").list_volumes(),
        lambda c: c.lookup_storage_vol_by_key("nope"),
    ],
}


@pytest.mark.parametrize("transport", ["unix", "tcp"])
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_same_answers_as_the_local_driver(daemon: PyvirtdProcess, scenario: str,
                                          transport: str) -> None:
    with pyvirt.connect("test:///default") as local:
        want = run(local, SCENARIOS[scenario])
    with pyvirt.connect(daemon.uri("test", "/default", transport)) as remote:
        got = run(remote, SCENARIOS[scenario])
    assert got == want


def test_read_only_connection(daemon: PyvirtdProcess) -> None:
    with pyvirt.connect(daemon.uri("test", "/default", readonly=True), readonly=True) as c:
        d = c.lookup_domain_by_name("test")
        assert d.info().nr_virt_cpu == 2
        with pytest.raises(pyvirt.libvirtError) as exc:
            d.suspend()
        assert exc.value.code == ErrorNumber.OPERATION_DENIED
    # a read-only socket makes even a read-write open read-only, server side
    with pyvirt.connect(daemon.uri("test", "/default", readonly=True)) as c:
        with pytest.raises(pyvirt.libvirtError) as exc:
            c.lookup_domain_by_name("test").suspend()
        assert "read only access prevents virDomainSuspend" in exc.value.message


def test_uri_secure_and_alive(daemon: PyvirtdProcess) -> None:
    for transport, secure in (("unix", True), ("tcp", False)):
        uri = daemon.uri("test", "/default", transport)
        with pyvirt.connect(uri) as c:
            assert c.get_uri() == uri
            assert c.is_secure() is secure and c.is_encrypted() is False
            assert c.is_alive()
        assert c.closed


def test_server_gone_fails_calls_cleanly(tmp_path: Any) -> None:
    d = PyvirtdProcess(tmp_path).start()
    c = pyvirt.connect(d.uri())
    try:
        assert c.get_type() == "TEST"
        d.stop()
        with pytest.raises(pyvirt.libvirtError) as exc:
            c.get_type()
        assert exc.value.code in (ErrorNumber.RPC, ErrorNumber.SYSTEM_ERROR)
        assert not c.is_alive()
    finally:
        c.close()
        d.stop()


def test_concurrent_calls_share_one_connection(daemon: PyvirtdProcess) -> None:
    import threading
    errors: list[BaseException] = []
    with pyvirt.connect(daemon.uri()) as c:
        def worker() -> None:
            try:
                for _ in range(100):
                    assert c.lookup_domain_by_name("test").state().state == 1
                    assert c.get_node_info().cpus == 16
            except BaseException as exc:
                errors.append(exc)
        ts = [threading.Thread(target=worker) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    assert not errors


def test_lifecycle_events_over_the_wire(daemon: PyvirtdProcess, event_loop_thread: None) -> None:
    got: list[tuple[Any, ...]] = []
    with pyvirt.connect(daemon.uri()) as watcher, pyvirt.connect(daemon.uri("test", "/default",
                                                                           "tcp")) as actor:
        cid = watcher.domain_event_register_any(
            None, DomainEventID.LIFECYCLE,
            lambda conn, d, ev, detail, opaque: got.append((conn is watcher, d.name, d.id, ev,
                                                            detail, opaque)), "op")
        watcher.define_domain(DOMAIN_XML.format(n=7))
        only = watcher.domain_event_register_any(      # events of one other domain only
            watcher.lookup_domain_by_name("remote-7"), DomainEventID.LIFECYCLE,
            lambda conn, d, ev, detail, opaque: got.append(("only", d.name, ev)))
        d = actor.lookup_domain_by_name("test")       # someone else changes the guest
        d.suspend()
        d.resume()
        d.destroy()
        d.create()
        actor.lookup_domain_by_name("remote-7").create()
        deadline = time.monotonic() + 10
        while len(got) < 7 and time.monotonic() < deadline:
            time.sleep(0.02)
        watcher.domain_event_deregister_any(cid)
        watcher.domain_event_deregister_any(only)
        d.suspend()
        time.sleep(0.3)
    assert got == [(True, "remote-7", -1, 0, 0, "op"), (True, "test", 1, 3, 0, "op"), (True, "test", 1, 4, 0, "op"),
                   (True, "test", -1, 5, 1, "op"), (True, "test", 2, 2, 0, "op"),
                   (True, "remote-7", 3, 2, 0, "op"), ("only", "remote-7", 2)]


def test_events_need_an_event_loop_or_fail_cleanly(daemon: PyvirtdProcess,
                                                   event_loop_thread: None) -> None:
    with pyvirt.connect(daemon.uri()) as c, pytest.raises(pyvirt.libvirtError):
        c.domain_event_deregister_any(12345)
