"""Record what libvirt 9.0's test driver does with each corpus case (needs libvirt-python).

    python tests/xml/record_xml_expected.py        # rewrites data/<kind>_expected.json

Domains, networks and pools are defined on test:///default (defineXML,
networkDefineXML, storagePoolDefineXML) and undefined again; volumes are created in
'default-pool' and deleted. The stored result is XMLDesc(0) or all the error's
fields (code, domain, message, level, str1-3, int1-2). Random parts (a UUID or MAC
the input did not give) are masked by `mask`, which the tests apply to pyvirt's
output too.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from xml_corpus import CASES, NETWORK_CASES, POOL_CASES, VOLUME_CASES

_UUID = re.compile(r"<uuid>[0-9a-f-]{36}</uuid>")
_MAC = re.compile(r"address='(52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2})'")


def mask(source: str, out: str) -> str:
    """Replace the UUID and MACs libvirt made up (absent from `source`) by placeholders."""
    if "<uuid>" not in source or re.search(r"<uuid>\s*</uuid>", source):
        out = _UUID.sub("<uuid>@UUID@</uuid>", out)
    low = source.lower()
    return _MAC.sub(lambda m: m.group(0) if m.group(1) in low else "address='@MAC@'", out)


def record() -> dict[str, dict[str, dict[str, object]]]:
    import libvirt
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open("test:///default")
    pool = conn.storagePoolLookupByName("default-pool")
    kinds = {
        "domain": (CASES, conn.defineXML, lambda o: o.undefine()),
        "network": (NETWORK_CASES, conn.networkDefineXML, lambda o: o.undefine()),
        "pool": (POOL_CASES, conn.storagePoolDefineXML, lambda o: o.undefine()),
        "volume": (VOLUME_CASES, lambda x: pool.createXML(x, 0), lambda o: o.delete(0)),
    }
    out: dict[str, dict[str, dict[str, object]]] = {}
    for kind, (cases, define, remove) in kinds.items():
        result: dict[str, dict[str, object]] = {}
        for name, xml in cases.items():
            try:
                obj = define(xml)
            except libvirt.libvirtError as e:
                # the whole error: code, domain, message, level, str1-3, int1-2
                result[name] = {"error": list(e.err)}
                continue
            try:
                result[name] = {"xml": mask(xml, obj.XMLDesc(0))}
            finally:
                remove(obj)
        out[kind] = result
    conn.close()
    return out


def record_node(path: pathlib.Path) -> dict[str, object]:
    """What the test driver makes of a node file: node info and every object's XML."""
    import libvirt
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open(f"test://{path}")
    text = path.read_text()
    model, memory, cpus, mhz, nodes, sockets, cores, threads = conn.getInfo()
    out: dict[str, object] = {
        # getInfo reports memory in MiB; virsh nodeinfo shows the KiB libvirt holds
        "info": {"model": model, "memory_mib": memory, "cpus": cpus, "mhz": mhz, "nodes": nodes,
                 "sockets": sockets, "cores": cores, "threads": threads},
        "domains": {}, "networks": {}, "pools": {}, "interfaces": {},
    }
    for d in conn.listAllDomains():
        out["domains"][d.name()] = {  # type: ignore[index]
            "id": d.ID(), "state": d.state()[0], "persistent": bool(d.isPersistent()),
            "managed_save": bool(d.hasManagedSaveImage()),
            "xml": mask(text, d.XMLDesc(0)),
            "inactive": mask(text, d.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)),
        }
    for n in conn.listAllNetworks():
        out["networks"][n.name()] = mask(text, n.XMLDesc(0))  # type: ignore[index]
    for p in conn.listAllStoragePools():
        out["pools"][p.name()] = {  # type: ignore[index]
            "xml": p.XMLDesc(0),
            "volumes": {v.name(): v.XMLDesc(0) for v in p.listAllVolumes()},
        }
    for i in conn.listAllInterfaces():
        out["interfaces"][i.name()] = i.MACString()  # type: ignore[index]
    conn.close()
    return out


if __name__ == "__main__":
    node = record_node(HERE / "data" / "node" / "node.xml")
    (HERE / "data" / "node_expected.json").write_text(
        json.dumps(node, indent=1, sort_keys=True) + "\n")
    print("node recorded")
    for kind, data in record().items():
        (HERE / "data" / f"{kind}_expected.json").write_text(
            json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        print(f"{kind}: {len(data)} cases recorded")
