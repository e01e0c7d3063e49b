"""Scenarios on test:///default written against libvirt-python's names.

Each runs unchanged on the real libvirt-python and on `pyvirt` imported as libvirt.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any, Callable

from .harness import Recorder, cpu_time_masked, vcpus_masked

URI = "test:///default"
SCENARIOS: dict[str, Callable[[Any, Recorder], None]] = {}


def scenario(fn: Callable[[Any, Recorder], None]) -> Callable[[Any, Recorder], None]:
    SCENARIOS[fn.__name__] = fn
    return fn


def _renamed_xml(xml: str, name: str, uuid_head: str) -> str:
    return (xml.replace("<name>test</name>", f"<name>{name}</name>")
            .replace("6695eb01", uuid_head).replace(" id='1'", ""))


@scenario
def connection(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    rec("getType", c.getType)
    rec("getVersion", c.getVersion)
    rec("getLibVersion", c.getLibVersion)
    rec("getURI", c.getURI)
    rec("getInfo", c.getInfo)
    rec("getFreeMemory", c.getFreeMemory)
    rec("getCellsFreeMemory", lambda: c.getCellsFreeMemory(0, 2))
    rec("getCellsFreeMemory-range", lambda: c.getCellsFreeMemory(1, 5))
    rec("getMaxVcpus", lambda: c.getMaxVcpus(None))
    rec("getSecurityModel", c.getSecurityModel)
    rec("getCPUMap", c.getCPUMap)
    rec("getCapabilities", c.getCapabilities)
    rec("isAlive", c.isAlive)
    rec("isSecure", c.isSecure)
    rec("isEncrypted", c.isEncrypted)
    rec("getHostname", lambda: c.getHostname() == os.uname().nodename)
    rec("close", c.close)


@scenario
def domain_queries(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    rec("listDomainsID", c.listDomainsID)
    rec("numOfDomains", c.numOfDomains)
    rec("listDefinedDomains", c.listDefinedDomains)
    rec("numOfDefinedDomains", c.numOfDefinedDomains)
    d = rec("lookupByName", lambda: c.lookupByName("test"))
    rec("lookupByID", lambda: c.lookupByID(1))
    rec("lookupByUUIDString", lambda: c.lookupByUUIDString("6695eb01-f6a4-8304-79aa-97f2502e193f"))
    rec("lookupByUUID", lambda: c.lookupByUUID(d.UUID()))
    for label, f in [("name", d.name), ("ID", d.ID), ("UUIDString", d.UUIDString),
                     ("UUID", d.UUID), ("OSType", d.OSType), ("state", d.state),
                     ("maxMemory", d.maxMemory), ("maxVcpus", d.maxVcpus),
                     ("autostart", d.autostart), ("isActive", d.isActive),
                     ("isPersistent", d.isPersistent), ("isUpdated", d.isUpdated),
                     ("securityLabel", d.securityLabel), ("XMLDesc", lambda: d.XMLDesc(0)),
                     ("XMLDesc-inactive", lambda: d.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE)),
                     ("hasManagedSaveImage", lambda: d.hasManagedSaveImage(0)),
                     ("vcpusFlags", lambda: d.vcpusFlags(0)),
                     ("vcpusFlags-max", lambda: d.vcpusFlags(lv.VIR_DOMAIN_VCPU_MAXIMUM)),
                     ("snapshotNum", lambda: d.snapshotNum(0)),
                     ("messages", lambda: d.messages(0)),
                     ("memoryPeek", lambda: d.memoryPeek(100, 8, lv.VIR_MEMORY_PHYSICAL)),
                     ("connect", d.connect)]:
        rec(label, f)
    rec("info", d.info, cpu_time_masked)
    rec("vcpus", d.vcpus, vcpus_masked)
    rec("lookupByName-miss", lambda: c.lookupByName("nope"))
    rec("lookupByID-miss", lambda: c.lookupByID(99))
    rec("lookupByUUIDString-bad", lambda: c.lookupByUUIDString("zzz"))
    rec("lookupByUUIDString-miss",
        lambda: c.lookupByUUIDString("00000000-0000-0000-0000-000000000000"))
    rec("XMLDesc-badflags", lambda: d.XMLDesc(1 << 10))
    rec("state-badflags", lambda: d.state(1))
    rec("jobInfo", d.jobInfo)
    c.close()


@scenario
def list_all_domains(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    xml = d.XMLDesc(0)
    c.defineXML(_renamed_xml(xml, "def1", "1695eb01"))
    c.createXML(_renamed_xml(xml, "tr1", "2695eb01"), 0)
    c.lookupByName("def1").setAutostart(1)
    d.suspend()
    for flag in ["ACTIVE", "INACTIVE", "PERSISTENT", "TRANSIENT", "RUNNING", "PAUSED",
                 "SHUTOFF", "OTHER", "MANAGEDSAVE", "NO_MANAGEDSAVE", "AUTOSTART",
                 "NO_AUTOSTART", "HAS_SNAPSHOT", "NO_SNAPSHOT"]:
        value = getattr(lv, f"VIR_CONNECT_LIST_DOMAINS_{flag}")
        rec(f"listAll-{flag}", lambda: sorted(x.name() for x in c.listAllDomains(value)))
    rec("listAll-0", lambda: sorted(x.name() for x in c.listAllDomains(0)))
    rec("listAll-ACTIVE|PERSISTENT", lambda: sorted(
        x.name() for x in c.listAllDomains(lv.VIR_CONNECT_LIST_DOMAINS_ACTIVE |
                                           lv.VIR_CONNECT_LIST_DOMAINS_PERSISTENT)))
    rec("listAll-badflags", lambda: c.listAllDomains(1 << 20))
    rec("listDomainsID", lambda: sorted(c.listDomainsID()))
    rec("listDefinedDomains", c.listDefinedDomains)
    c.close()


@scenario
def lifecycle(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("suspend", d.suspend), ("suspend-again", d.suspend), ("resume", d.resume),
        ("resume-again", d.resume), ("reboot", lambda: d.reboot(0)),
        ("reset", lambda: d.reset(0)), ("shutdown", d.shutdown),
        ("shutdown-again", d.shutdown), ("destroy-inactive", d.destroy),
        ("suspend-inactive", d.suspend), ("resume-inactive", d.resume),
        ("reboot-inactive", lambda: d.reboot(0)), ("reset-inactive", lambda: d.reset(0)),
        ("vcpus-inactive", d.vcpus), ("memoryPeek-inactive", lambda: d.memoryPeek(0, 4, 2)),
        ("create", d.create), ("create-again", d.create),
        ("createWithFlags-paused", lambda: d.createWithFlags(lv.VIR_DOMAIN_START_PAUSED)),
        ("destroyFlags-bad", lambda: d.destroyFlags(8)),
        ("shutdownFlags-bad", lambda: d.shutdownFlags(1 << 5)),
        ("destroy", d.destroy), ("createWithFlags", lambda: d.createWithFlags(0)),
        ("destroyFlags-graceful", lambda: d.destroyFlags(lv.VIR_DOMAIN_DESTROY_GRACEFUL)),
    ]
    for label, f in steps:
        rec(label, f)
        rec(label + ":state", d.state)
        rec(label + ":ID", d.ID)
        rec(label + ":isActive", d.isActive)
    c.close()


@scenario
def define_undefine(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    xml = d.XMLDesc(0)
    rec("define-dup-name", lambda: c.defineXML(xml.replace("6695eb01", "7695eb01")))
    rec("define-dup-uuid", lambda: c.defineXML(xml.replace("<name>test</name>",
                                                            "<name>other</name>")))
    rec("createXML-dup", lambda: c.createXML(xml, 0))
    rec("createXML-paused", lambda: c.createXML(_renamed_xml(xml, "p1", "3695eb01"), 1))
    tr = rec("createXML", lambda: c.createXML(_renamed_xml(xml, "tr", "8695eb01"), 0))
    rec("tr-ID", tr.ID)
    rec("tr-isPersistent", tr.isPersistent)
    rec("tr-setAutostart", lambda: tr.setAutostart(1))
    rec("tr-managedSave", lambda: tr.managedSave(0))
    rec("tr-undefine", tr.undefine)
    rec("tr-destroy", tr.destroy)
    rec("tr-lookup", lambda: c.lookupByName("tr"))
    nd = rec("define", lambda: c.defineXML(_renamed_xml(xml, "nd", "9695eb01")))
    rec("nd-state", nd.state)
    rec("nd-ID", nd.ID)
    rec("nd-isPersistent", nd.isPersistent)
    rec("nd-redefine", lambda: c.defineXML(_renamed_xml(xml, "nd", "9695eb01")))
    rec("nd-rename", lambda: nd.rename("nd2", 0))
    rec("nd-lookup-old", lambda: c.lookupByName("nd"))
    rec("nd-lookup-new", lambda: c.lookupByName("nd2"))
    rec("nd-rename-to-existing", lambda: nd.rename("test", 0))
    rec("rename-running", lambda: d.rename("t2", 0))
    rec("nd-create", nd.create)
    rec("nd-ID-after-create", nd.ID)
    rec("nd-undefine-running", nd.undefine)
    rec("nd-isPersistent-after", nd.isPersistent)
    rec("nd-destroy", nd.destroy)
    rec("nd-gone", lambda: c.lookupByUUIDString("9695eb01-f6a4-8304-79aa-97f2502e193f"))
    rec("undefine-test-running", d.undefine)
    rec("listDefined", c.listDefinedDomains)
    rec("gone-handle-state", nd.state)
    rec("defineXMLFlags-validate",
        lambda: c.defineXMLFlags(_renamed_xml(xml, "v1", "a695eb01"),
                                 lv.VIR_DOMAIN_DEFINE_VALIDATE).name())
    c.close()


@scenario
def xml_errors(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    bad = {
        "unclosed": "<domain",
        "not-xml": "hello",
        "empty": "",
        "no-os-type": "<domain type='test'><name>x</name><memory>1024</memory></domain>",
        "no-name": "<domain type='test'><memory>1024</memory><os><type>hvm</type></os></domain>",
        "bad-uuid": "<domain type='test'><name>x</name><uuid>zz</uuid><memory>1024</memory>"
                    "<os><type>hvm</type></os></domain>",
        "bad-unit": "<domain type='test'><name>x</name><memory unit='parsec'>1</memory>"
                    "<os><type>hvm</type></os></domain>",
        "wrong-root": "<network><name>x</name></network>",
        "bad-type": "<domain type='nosuch'><name>x</name><memory>1024</memory>"
                    "<os><type>hvm</type></os></domain>",
        "vcpu-zero": "<domain type='test'><name>x</name><memory>1024</memory><vcpu>0</vcpu>"
                     "<os><type>hvm</type></os></domain>",
    }
    for label, xml in bad.items():
        rec(f"define-{label}", lambda xml=xml: c.defineXML(xml))
    rec("listDefined-unchanged", c.listDefinedDomains)
    rec("net-define-unclosed", lambda: c.networkDefineXML("<network"))
    rec("pool-define-unclosed", lambda: c.storagePoolDefineXML("<pool", 0))
    ok = ("<domain type='test'><name>mini</name><memory unit='MiB'>64</memory>"
          "<os><type>hvm</type></os></domain>")
    m = rec("define-minimal", lambda: c.defineXML(ok))
    rec("minimal-xml", lambda: _strip_uuid(m.XMLDesc(0)))
    rec("minimal-info", m.info, cpu_time_masked)
    c.close()


def _strip_uuid(xml: str) -> str:
    import re
    return re.sub(r"<uuid>[^<]*</uuid>", "<uuid/>", xml)


@scenario
def save_restore(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    tmp = os.path.join(tempfile.gettempdir(), "pyvirt-diff-save")
    os.makedirs(tmp, exist_ok=True)
    try:
        path = os.path.join(tmp, "test.img")
        rec("save-missing-dir", lambda: d.save(os.path.join(tmp, "no", "such", "x.img")))
        rec("save", lambda: d.save(path))
        rec("state-after-save", d.state)
        rec("ID-after-save", d.ID)
        rec("save-inactive", lambda: d.save(path))
        rec("restore", lambda: c.restore(path))
        rec("state-after-restore", lambda: c.lookupByName("test").state())
        rec("ID-after-restore", lambda: c.lookupByName("test").ID())
        rec("restore-while-running", lambda: c.restore(path))
        rec("restore-missing", lambda: c.restore(os.path.join(tmp, "nonexistent.img")))
        rec("managedSave", lambda: d.managedSave(0))
        rec("state-after-managedSave", d.state)
        rec("hasManagedSaveImage", lambda: d.hasManagedSaveImage(0))
        rec("listAll-MANAGEDSAVE", lambda: [x.name() for x in c.listAllDomains(
            lv.VIR_CONNECT_LIST_DOMAINS_MANAGEDSAVE)])
        rec("undefine-with-image", d.undefine)
        rec("rename-with-image", lambda: d.rename("x", 0))
        rec("create-from-image", d.create)
        rec("state-after-create", d.state)
        rec("hasManagedSaveImage-after", lambda: d.hasManagedSaveImage(0))
        rec("managedSave-again", lambda: d.managedSave(0))
        rec("managedSaveRemove", lambda: d.managedSaveRemove(0))
        rec("hasManagedSaveImage-removed", lambda: d.hasManagedSaveImage(0))
        rec("managedsave-inactive", lambda: d.managedSave(0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    c.close()


@scenario
def tuning(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    rec("setMemory-over-max", lambda: d.setMemory(9999999999))
    rec("setMemory-zero", lambda: d.setMemory(0))
    rec("setMemory", lambda: d.setMemory(1048576))
    rec("info", d.info, cpu_time_masked)
    rec("setMaxMemory-running", lambda: d.setMaxMemory(4194304))
    rec("setMemoryFlags-config", lambda: d.setMemoryFlags(1000000, lv.VIR_DOMAIN_AFFECT_CONFIG))
    rec("setMemoryFlags-config-max",
        lambda: d.setMemoryFlags(5000000, lv.VIR_DOMAIN_AFFECT_CONFIG | lv.VIR_DOMAIN_MEM_MAXIMUM))
    rec("XMLDesc-inactive", lambda: d.XMLDesc(lv.VIR_DOMAIN_XML_INACTIVE))
    rec("XMLDesc-live", lambda: d.XMLDesc(0))
    rec("setVcpus-3", lambda: d.setVcpus(3))
    rec("setVcpus-0", lambda: d.setVcpus(0))
    rec("setVcpus-100", lambda: d.setVcpus(100))
    rec("setVcpus-1", lambda: d.setVcpus(1))
    rec("vcpusFlags", lambda: d.vcpusFlags(0))
    rec("info-after-vcpus", d.info, cpu_time_masked)
    rec("vcpus", d.vcpus, vcpus_masked)
    rec("destroy", d.destroy)
    rec("setMaxMemory-inactive", lambda: d.setMaxMemory(4194304))
    rec("maxMemory", d.maxMemory)
    rec("setMemory-inactive", lambda: d.setMemory(1024))
    rec("setMemoryFlags-live-inactive", lambda: d.setMemoryFlags(1024, lv.VIR_DOMAIN_AFFECT_LIVE))
    rec("setVcpusFlags-max", lambda: d.setVcpusFlags(4, lv.VIR_DOMAIN_VCPU_MAXIMUM))
    rec("vcpusFlags-max", lambda: d.vcpusFlags(lv.VIR_DOMAIN_VCPU_MAXIMUM))
    rec("info-inactive", d.info, cpu_time_masked)
    rec("autostart", lambda: (d.setAutostart(1), d.autostart()))
    rec("XMLDesc-final", lambda: d.XMLDesc(0))
    c.close()


@scenario
def networks(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    rec("listNetworks", c.listNetworks)
    rec("listDefinedNetworks", c.listDefinedNetworks)
    rec("numOfNetworks", c.numOfNetworks)
    rec("listAllNetworks", lambda: [n.name() for n in c.listAllNetworks(0)])
    n = rec("networkLookupByName", lambda: c.networkLookupByName("default"))
    rec("networkLookupByName-miss", lambda: c.networkLookupByName("nope"))
    rec("networkLookupByUUIDString", lambda: c.networkLookupByUUIDString(n.UUIDString()))
    for label, f in [("name", n.name), ("UUIDString", n.UUIDString), ("XMLDesc", lambda: n.XMLDesc(0)),
                     ("bridgeName", n.bridgeName), ("isActive", n.isActive),
                     ("isPersistent", n.isPersistent), ("autostart", n.autostart)]:
        rec(label, f)
    rec("destroy", n.destroy)
    rec("isActive-after-destroy", n.isActive)
    rec("listDefinedNetworks-after", c.listDefinedNetworks)
    rec("destroy-again", n.destroy)
    rec("create", n.create)
    rec("create-again", n.create)
    rec("undefine-active", n.undefine)
    xml = n.XMLDesc(0)
    rec("define-dup-uuid", lambda: c.networkDefineXML(xml.replace("<name>default</name>",
                                                                    "<name>other</name>")))
    rec("define-dup-name", lambda: c.networkDefineXML(xml.replace("dd8fe884", "ed8fe884")))
    new = xml.replace("<name>default</name>", "<name>net2</name>").replace(
        "dd8fe884", "fd8fe884").replace("virbr0", "virbr9")
    n2 = rec("define", lambda: c.networkDefineXML(new))
    rec("n2-isActive", n2.isActive)
    rec("n2-XMLDesc", lambda: n2.XMLDesc(0))
    rec("n2-create", n2.create)
    rec("n2-destroy", n2.destroy)
    rec("n2-undefine", n2.undefine)
    rec("n2-gone", lambda: c.networkLookupByName("net2"))
    t = rec("createXML", lambda: c.networkCreateXML(new))
    rec("t-isPersistent", t.isPersistent)
    rec("t-setAutostart", lambda: t.setAutostart(1))
    rec("t-destroy", t.destroy)
    rec("t-gone", lambda: c.networkLookupByName("net2"))
    c.close()


@scenario
def storage(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    rec("listStoragePools", c.listStoragePools)
    rec("listAllStoragePools", lambda: [p.name() for p in c.listAllStoragePools(0)])
    p = rec("storagePoolLookupByName", lambda: c.storagePoolLookupByName("default-pool"))
    rec("storagePoolLookupByName-miss", lambda: c.storagePoolLookupByName("nope"))
    for label, f in [("info", p.info), ("XMLDesc", lambda: p.XMLDesc(0)),
                     ("isActive", p.isActive), ("isPersistent", p.isPersistent),
                     ("autostart", p.autostart), ("numOfVolumes", p.numOfVolumes),
                     ("listVolumes", p.listVolumes), ("UUIDString", p.UUIDString)]:
        rec(label, f)
    vxml = "<volume><name>v1</name><capacity unit='M'>1</capacity></volume>"
    v = rec("createXML", lambda: p.createXML(vxml, 0))
    rec("createXML-dup", lambda: p.createXML(vxml, 0))
    rec("vol-name", v.name)
    rec("vol-key", v.key)
    rec("vol-path", v.path)
    rec("vol-info", v.info)
    rec("vol-XMLDesc", lambda: v.XMLDesc(0))
    rec("pool-info-after", p.info)
    rec("pool-XMLDesc-after", lambda: p.XMLDesc(0))
    rec("listVolumes", p.listVolumes)
    rec("listAllVolumes", lambda: [x.name() for x in p.listAllVolumes(0)])
    rec("storageVolLookupByName-miss", lambda: p.storageVolLookupByName("nope"))
    rec("storageVolLookupByPath", lambda: c.storageVolLookupByPath("/default-pool/v1"))
    rec("storageVolLookupByKey", lambda: c.storageVolLookupByKey("/default-pool/v1"))
    rec("storagePoolLookupByVolume", v.storagePoolLookupByVolume)
    v2 = rec("createXML-qcow2", lambda: p.createXML(
        "<volume><name>v2.qcow2</name><capacity unit='G'>2</capacity>"
        "<allocation>0</allocation><target><format type='qcow2'/></target></volume>", 0))
    rec("v2-info", v2.info)
    rec("v2-XMLDesc", lambda: v2.XMLDesc(0))
    rec("vol-delete", lambda: v.delete(0))
    rec("vol-gone", lambda: p.storageVolLookupByName("v1"))
    rec("refresh", lambda: p.refresh(0))
    rec("destroy", p.destroy)
    rec("destroy-again", p.destroy)
    rec("info-inactive", p.info)
    rec("listVolumes-inactive", p.listVolumes)
    rec("build", lambda: p.build(0))
    rec("create", lambda: p.create(0))
    rec("build-active", lambda: p.build(0))
    rec("undefine-active", p.undefine)
    c.close()


@scenario
def read_only(lv: Any, rec: Recorder) -> None:
    r = lv.openReadOnly(URI)
    d = r.lookupByName("test")
    rec("suspend", d.suspend)
    rec("defineXML", lambda: r.defineXML("<domain/>"))
    rec("XMLDesc-secure", lambda: d.XMLDesc(lv.VIR_DOMAIN_XML_SECURE))
    rec("XMLDesc", lambda: d.XMLDesc(0)[:30])
    rec("info", d.info, cpu_time_masked)
    rec("net-destroy", lambda: r.networkLookupByName("default").destroy())
    rec("pool-destroy", lambda: r.storagePoolLookupByName("default-pool").destroy())
    rec("state-unchanged", d.state)
    r.close()


@scenario
def arguments(lv: Any, rec: Recorder) -> None:
    c = lv.open(URI)
    d = c.lookupByName("test")
    rec("setVcpus-0", lambda: d.setVcpus(0))
    rec("setMemory-0", lambda: d.setMemory(0))
    rec("close", c.close)
    rec("getType-closed", c.getType)
