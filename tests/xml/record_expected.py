"""Record what libvirt 9.0's test driver does with each corpus case (needs libvirt-python).

    python tests/xml/record_expected.py        # rewrites data/domain_expected.json

Each case is defined on test:///default with defineXML and undefined again; the stored
result is XMLDesc(0) or the error's (code, domain, message). Random parts (a UUID
or MAC the input did not give) are masked by `mask`, which the tests apply to pyvirt's
output too.
"""
from __future__ import annotations

import json
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corpus import CASES  # noqa: E402

_UUID = re.compile(r"<uuid>[0-9a-f-]{36}</uuid>")
_MAC = re.compile(r"address='(52:54:00:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2})'")


def mask(source: str, out: str) -> str:
    """Replace the UUID and MACs libvirt made up (absent from `source`) by placeholders."""
    if "<uuid>" not in source or re.search(r"<uuid>\s*</uuid>", source):
        out = _UUID.sub("<uuid>@UUID@</uuid>", out)
    low = source.lower()
    return _MAC.sub(lambda m: m.group(0) if m.group(1) in low else "address='@MAC@'", out)


def record() -> dict[str, dict[str, object]]:
    import libvirt
    libvirt.registerErrorHandler(lambda *a: None, None)
    conn = libvirt.open("test:///default")
    result: dict[str, dict[str, object]] = {}
    for name, xml in CASES.items():
        try:
            dom = conn.defineXML(xml)
        except libvirt.libvirtError as e:
            result[name] = {"error": [e.get_error_code(), e.get_error_domain(),
                                      e.get_error_message()]}
            continue
        try:
            result[name] = {"xml": mask(xml, dom.XMLDesc(0))}
        finally:
            dom.undefine()
    conn.close()
    return result


if __name__ == "__main__":
    data = record()
    (HERE / "data" / "domain_expected.json").write_text(
        json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"{len(data)} cases recorded")
