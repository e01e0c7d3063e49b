"""The real libvirt-python against pyvirtd: the same answers as libvirt's own test driver.

Each scenario runs on libvirt.open("test:///default") (libvirt's in-process test driver)
and on libvirt.open() of pyvirtd's test driver over a unix socket and TCP; results, and
errors' code/domain/message, must be equal (CPU times masked). Lifecycle callbacks
registered with domainEventRegisterAny fire for changes made by another client.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .peers import PyvirtdProcess

XML = """<domain type='test'><name>lvpy</name>
<uuid>5f0e1c2a-2222-4000-8000-000000000002</uuid>
<memory unit='KiB'>65536</memory><vcpu>1</vcpu><os><type arch='i686'>hvm</type></os></domain>"""


def steps(lv: Any) -> dict[str, list[Callable[[Any], Any]]]:
    d = (lambda c: c.lookupByName("test"))
    return {
        "host": [lambda c: c.getType(), lambda c: c.getVersion(), lambda c: c.getLibVersion(),
                 lambda c: c.getHostname(), lambda c: c.getInfo(), lambda c: c.getMaxVcpus(None),
                 lambda c: c.getCapabilities(), lambda c: c.getSecurityModel(),
                 lambda c: c.getCPUMap(), lambda c: c.getFreeMemory(),
                 lambda c: c.getCellsFreeMemory(0, 2), lambda c: c.isSecure(),
                 lambda c: c.isEncrypted(), lambda c: c.isAlive()],
        "domains": [lambda c: [x.name() for x in c.listAllDomains()],
                    lambda c: c.listDomainsID(), lambda c: c.listDefinedDomains(),
                    lambda c: c.numOfDomains(), lambda c: c.lookupByID(1).name(),
                    lambda c: c.lookupByUUIDString("6695eb01-f6a4-8304-79aa-97f2502e193f").ID(),
                    lambda c: d(c).info()[:4], lambda c: d(c).state(), lambda c: d(c).XMLDesc(0),
                    lambda c: d(c).OSType(), lambda c: d(c).maxMemory(), lambda c: d(c).maxVcpus(),
                    lambda c: [v[:2] + v[3:] for v in d(c).vcpus()[0]], lambda c: d(c).vcpus()[1],
                    lambda c: d(c).securityLabel(), lambda c: d(c).isActive(),
                    lambda c: d(c).isPersistent(), lambda c: d(c).autostart(),
                    lambda c: d(c).hasManagedSaveImage(0), lambda c: d(c).memoryPeek(0, 16, 2),
                    lambda c: c.lookupByName("nope")],
        "lifecycle": [lambda c: d(c).suspend(), lambda c: d(c).state(),
                      lambda c: d(c).resume(), lambda c: d(c).state(),
                      lambda c: d(c).shutdownFlags(0), lambda c: d(c).state(),
                      lambda c: d(c).createWithFlags(1), lambda c: d(c).state(),
                      lambda c: d(c).destroyFlags(0), lambda c: d(c).ID(),
                      lambda c: c.defineXML(XML).name(),
                      lambda c: c.defineXMLFlags(XML, 0).UUIDString(),
                      lambda c: c.lookupByName("lvpy").create(),
                      lambda c: c.lookupByName("lvpy").ID(),
                      lambda c: c.lookupByName("lvpy").reset(0),
                      lambda c: c.lookupByName("lvpy").destroy(),
                      lambda c: c.lookupByName("lvpy").undefineFlags(0),
                      lambda c: c.listDefinedDomains(), lambda c: c.defineXML("<domain")],
        "save": [lambda c: d(c).saveFlags("/nonexistent/x", None, 0),
                 lambda c: c.restoreFlags("/nonexistent/x", None, 0),
                 lambda c: d(c).managedSave(0), lambda c: d(c).state(),
                 lambda c: d(c).create(), lambda c: d(c).state()],
        "networks and storage": [
            lambda c: [n.name() for n in c.listAllNetworks()],
            lambda c: c.networkLookupByName("default").bridgeName(),
            lambda c: c.networkLookupByName("default").XMLDesc(0),
            lambda c: [p.name() for p in c.listAllStoragePools()],
            lambda c: c.storagePoolLookupByName("default-pool").info(),
            lambda c: c.storagePoolLookupByName("default-pool").listVolumes(),
            lambda c: c.networkLookupByName("nope")],
    }


def run(lv: Any, conn: Any, seq: list[Callable[[Any], Any]]) -> list[Any]:
    out = []
    for step in seq:
        try:
            out.append(step(conn))
        except lv.libvirtError as exc:
            out.append(("error", exc.get_error_code(), exc.get_error_domain(),
                        exc.get_error_message()))
    return out


@pytest.mark.parametrize("transport", ["unix", "tcp"])
@pytest.mark.parametrize("scenario", ["host", "domains", "lifecycle", "save",
                                      "networks and storage"])
def test_libvirt_python_sees_what_libvirts_test_driver_shows(
        lv: Any, pyvirtd: PyvirtdProcess, scenario: str, transport: str) -> None:
    seq = steps(lv)[scenario]
    ref = lv.open("test:///default")
    try:
        want = run(lv, ref, seq)
    finally:
        ref.close()
    conn = lv.open(pyvirtd.uri("test", "/default", transport))
    try:
        got = run(lv, conn, seq)
    finally:
        conn.close()
    if scenario == "host":   # isSecure/isEncrypted depend on the transport
        want[-3:-1] = [1 if transport == "unix" else 0, 0]
    assert got == want


@pytest.fixture(scope="module")
def lv_loop(lv: Any) -> Iterator[None]:
    lv.virEventRegisterDefaultImpl()
    stop = threading.Event()

    def run_loop() -> None:
        while not stop.is_set():
            lv.virEventRunDefaultImpl()

    t = threading.Thread(target=run_loop, daemon=True)
    t.start()
    yield
    stop.set()   # the loop wakes at the next keepalive timer at the latest


def test_domain_event_register_any(lv: Any, pyvirtd: PyvirtdProcess, lv_loop: None) -> None:
    got: list[tuple[Any, ...]] = []
    watcher = lv.open(pyvirtd.uri("test", "/default", "unix"))
    actor = lv.open(pyvirtd.uri("test", "/default", "tcp"))
    try:
        cid = watcher.domainEventRegisterAny(
            None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda conn, dom, event, detail, opaque: got.append(
                (conn is watcher, dom.name(), dom.ID(), event, detail, opaque)), "opaque")
        d = actor.lookupByName("test")
        d.suspend()
        d.resume()
        d.destroy()
        d.create()
        deadline = time.monotonic() + 10
        while len(got) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        watcher.domainEventDeregisterAny(cid)
        d.suspend()
        time.sleep(0.3)
    finally:
        actor.close()
        watcher.close()
    S = lv
    assert got == [(True, "test", 1, S.VIR_DOMAIN_EVENT_SUSPENDED, 0, "opaque"),
                   (True, "test", 1, S.VIR_DOMAIN_EVENT_RESUMED, 0, "opaque"),
                   (True, "test", -1, S.VIR_DOMAIN_EVENT_STOPPED, 1, "opaque"),
                   (True, "test", 2, S.VIR_DOMAIN_EVENT_STARTED, 0, "opaque")]


def test_legacy_domain_event_register(lv: Any, pyvirtd: PyvirtdProcess, lv_loop: None) -> None:
    got: list[tuple[Any, ...]] = []
    conn = lv.open(pyvirtd.uri())
    try:
        cb = (lambda c, dom, event, detail, opaque: got.append((dom.name(), event, detail)))
        conn.domainEventRegister(cb, None)
        conn.lookupByName("test").suspend()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
        conn.domainEventDeregister(cb)
    finally:
        conn.close()
    assert got == [("test", lv.VIR_DOMAIN_EVENT_SUSPENDED, 0)]


def test_read_only_open(lv: Any, pyvirtd: PyvirtdProcess) -> None:
    conn = lv.openReadOnly(pyvirtd.uri("test", "/default", "tcp"))
    try:
        d = conn.lookupByName("test")
        assert d.info()[0] == 1
        with pytest.raises(lv.libvirtError) as exc:
            d.suspend()
        assert exc.value.get_error_code() == lv.VIR_ERR_OPERATION_DENIED
    finally:
        conn.close()
