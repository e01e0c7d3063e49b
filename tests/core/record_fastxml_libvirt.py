"""Record how real libvirt reads the fast-parse fields, as a known-answer file.

    .venv/bin/python tests/core/record_fastxml_libvirt.py   # rewrites data/fastxml_libvirt.json

Each input is defined on libvirt's in-process test driver (test:///default, via
Debian's python3-libvirt) and what libvirt made of it is stored: name, uuid, memory
and current memory in KiB, maximum vcpus, os type -- or libvirt's error.
test_fastxml_libvirt.py then holds both fast-parse implementations to it.
"""
from __future__ import annotations

import json
import pathlib
import sys

OUT = pathlib.Path(__file__).resolve().parent / "data" / "fastxml_libvirt.json"
U = "<uuid>0f0e0d0c-0b0a-4908-8706-050403020100</uuid>"
OS = "<os><type>hvm</type></os>"


def dom(name: str = "c", mem: str = "<memory>1024</memory>", body: str = "", os: str = OS,
        uuid: str = U, typ: str = "test") -> str:
    return f"<domain type='{typ}'><name>{name}</name>{uuid}{mem}{os}{body}</domain>"


UNITS = ["", "b", "bytes", "byte", "k", "KiB", "kib", "KB", "kB", "M", "MiB", "MB", "mb", "G",
         "GiB", "GB", "T", "TiB", "TB", "P", "PiB", "PB", "E", "EiB", "EB", "X", "ki", " KiB"]
CASES: dict[str, str] = {
    **{f"unit-{u or 'none'}": dom(mem=f"<memory unit='{u}'>1000</memory>") for u in UNITS},
    **{f"value-{k}": dom(mem=f"<memory>{v}</memory>") for k, v in {
        "lead-space": " 12", "trail-space": "12 ", "lead-newline": "\n12", "plus": "+5",
        "neg": "-1", "hex": "0x10", "float": "1.5", "empty": "", "zero": "0", "lead-zero": "012",
        "2pow53-1": str(2**53 - 1), "2pow53": str(2**53), "ullmax": str(2**64 - 1),
        "entity": "1&#48;24", "cdata": "<![CDATA[2048]]>", "comment": "20<!--x-->48"}.items()},
    "bytes-round-up": dom(mem="<memory unit='b'>1025</memory>"),
    "bytes-llong-max": dom(mem=f"<memory unit='b'>{2**63 - 1}</memory>"),
    "bytes-near-max": dom(mem=f"<memory unit='b'>{2**63 - 1025}</memory>"),
    "current-absent": dom(),
    "current-zero": dom(mem="<memory>1024</memory><currentMemory>0</currentMemory>"),
    "current-above": dom(mem="<memory>1024</memory><currentMemory>4096</currentMemory>"),
    "current-units": dom(mem="<memory unit='GiB'>2</memory><currentMemory unit='MiB'>512"
                             "</currentMemory>"),
    "current-bad-unit": dom(mem="<memory>1024</memory><currentMemory unit='X'>1</currentMemory>"),
    "current-only": dom(mem="<currentMemory>1024</currentMemory>"),
    "memory-missing": dom(mem=""),
    "memory-twice": dom(mem="<memory>1024</memory><memory>2048</memory>"),
    **{f"vcpu-{k}": dom(body=f"<vcpu>{v}</vcpu>" if v is not None else "") for k, v in {
        "absent": None, "8": "8", "empty": "", "lead-space": " 3", "trail-space": "3 ",
        "zero": "0", "overflow": "4294967296", "bad": "x", "plus": "+2"}.items()},
    "vcpu-selfclosed": dom(body="<vcpu/>"),
    "vcpu-current": dom(body="<vcpu placement='static' current='2'>4</vcpu>"),
    "name-escaped": dom(name="a&amp;b&lt;c&gt;'q'"),
    "name-spaces": dom(name=" a b "),
    "name-cdata-comment": dom(name="a<![CDATA[b]]><!--x-->c&#x41;"),
    "name-nested-element": dom(name="a<b>x</b>c"),
    "name-empty": dom(name=""),
    "name-twice": dom(body="<name>second</name>"),
    "name-decoys": dom(body="<devices><disk><name>no</name></disk></devices>"
                            "<metadata><app:name xmlns:app='http://app1.org/app1/'>no</app:name>"
                            "</metadata>"),
    "name-namespaced-first": ("<domain type='test'><name xmlns='http://example.com/x'>ns</name>"
                              f"<name>real</name>{U}<memory>1024</memory>{OS}</domain>"),
    "uuid-absent": dom(uuid=""), "uuid-empty": dom(uuid="<uuid></uuid>"),
    "uuid-upper": dom(uuid="<uuid>1695EB01F6A4830479AA97F2502E193F</uuid>"),
    "os-type-exe": dom(os="<os><type>exe</type><init>/bin/sh</init></os>"),
    "os-type-missing": dom(os="<os><boot dev='hd'/></os>"),
    "os-empty-then-real": dom(os="<os/><os><type>hvm</type></os>"),
    "os-type-spaces": dom(os="<os><type> hvm </type></os>"),
    "crlf-and-comments": ("<?xml version='1.0' encoding='UTF-8'?>\r\n<!-- saved -->\r\n"
                          + dom(body="<!-- c --><?pi x?>") + "\r\n"),
    "type-kvm": dom(typ="kvm"),
}


def record() -> dict[str, object]:
    import libvirt  # Debian's python3-libvirt
    from lxml import etree

    libvirt.registerErrorHandler(lambda ctx, err: None, None)   # keep stderr quiet
    conn = libvirt.open("test:///default")
    out: dict[str, object] = {"libvirt_version": libvirt.getVersion(), "cases": {}}
    for key, xml in CASES.items():
        try:
            d = conn.defineXML(xml)
        except libvirt.libvirtError as e:
            out["cases"][key] = {"input": xml, "error": [e.get_error_code(),   # type: ignore
                                                         e.get_error_domain(), str(e)]}
            continue
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG | libvirt.VIR_DOMAIN_VCPU_MAXIMUM
        # The test driver's virDomainGetOSType always says "linux": read the XML back.
        desc = etree.fromstring(d.XMLDesc(0))
        out["cases"][key] = {"input": xml, "name": d.name(), "uuid": d.UUIDString(),  # type: ignore
                             "type": desc.get("type"), "memory_kib": d.maxMemory(),
                             "current_memory_kib": d.info()[2], "vcpu": d.vcpusFlags(flags),
                             "os_type": desc.xpath("string(./os/type[1])")}
        d.undefine()
    conn.close()
    return out


if __name__ == "__main__":
    data = record()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    sys.stdout.write(f"recorded {len(CASES)} cases with libvirt {data['libvirt_version']} "
                     f"into {OUT}\n")
