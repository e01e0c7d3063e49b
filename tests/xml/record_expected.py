"""Record what libvirt 9.0's test driver does with each corpus case (needs libvirt-python).

    python tests/xml/record_expected.py        # rewrites data/<kind>_expected.json

Domains, networks and pools are defined on test:///default (defineXML,
networkDefineXML, storagePoolDefineXML) and undefined again; volumes are created in
'default-pool' and deleted. The stored result is XMLDesc(0) or the error's (code,
domain, message). Random parts (a UUID or MAC the input did not give) are masked by
`mask`, which the tests apply to pyvirt's output too.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import CASES, NETWORK_CASES, POOL_CASES, VOLUME_CASES  # noqa: E402

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
                result[name] = {"error": [e.get_error_code(), e.get_error_domain(),
                                          e.get_error_message()]}
                continue
            try:
                result[name] = {"xml": mask(xml, obj.XMLDesc(0))}
            finally:
                remove(obj)
        out[kind] = result
    conn.close()
    return out


if __name__ == "__main__":
    for kind, data in record().items():
        (HERE / "data" / f"{kind}_expected.json").write_text(
            json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
        print(f"{kind}: {len(data)} cases recorded")
