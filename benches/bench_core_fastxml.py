"""XML fast-parse: the C scanner vs its pure-Python twin vs a full lxml parse.

    .venv/bin/python -m pytest benches/bench_core_fastxml.py --benchmark-group-by=param:doc
    PYTHONPATH=. .venv/bin/python benches/bench_core_fastxml.py   # quick table, no pytest

Documents are shaped like real ones: a small test-driver domain, a virt-install KVM
guest with libosinfo metadata (~5 KB), and a big guest with many disks and NICs.
"lxml" is what a caller without the fast path does: etree.fromstring plus the same
XPath lookups; "lxml-parse" is the tree build alone.  The goal is C >= 5x lxml.
"""
from __future__ import annotations

import timeit
from collections.abc import Callable
from typing import Any

import pytest
from lxml import etree

from pyvirt import _core

SMALL = ("<domain type='test'><name>test</name><uuid>6695eb01-f6a4-8304-79aa-97f2502e193f"
         "</uuid><memory unit='KiB'>8388608</memory><currentMemory unit='KiB'>2097152"
         "</currentMemory><vcpu placement='static'>2</vcpu><os><type arch='i686'>hvm</type>"
         "<boot dev='hd'/></os><clock offset='utc'/><on_poweroff>destroy</on_poweroff>"
         "<on_reboot>restart</on_reboot><on_crash>destroy</on_crash><devices></devices>"
         "</domain>")


def _disk(i: int) -> str:
    return (f"    <disk type='file' device='disk'>\n      <driver name='qemu' type='qcow2' "
            f"discard='unmap'/>\n      <source file='/var/lib/libvirt/images/guest-{i}.qcow2'/>"
            f"\n      <target dev='vd{chr(97 + i % 26)}' bus='virtio'/>\n      <address "
            f"type='pci' domain='0x0000' bus='0x{4 + i:02x}' slot='0x00' function='0x0'/>\n"
            "    </disk>\n")


def _nic(i: int) -> str:
    return (f"    <interface type='network'>\n      <mac address='52:54:00:6b:{i:02x}:1e'/>\n"
            "      <source network='default'/>\n      <model type='virtio'/>\n      <address "
            f"type='pci' domain='0x0000' bus='0x{40 + i:02x}' slot='0x00' function='0x0'/>\n"
            "    </interface>\n")


def guest(disks: int, nics: int) -> str:
    disks_xml = "".join(_disk(i) for i in range(disks))
    nics_xml = "".join(_nic(i) for i in range(nics))
    return f"""<domain type='kvm'>
  <name>fedora38-web&amp;db</name>
  <uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://fedoraproject.org/fedora/38"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory unit='GiB'>4</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os firmware='efi'>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
    <boot dev='hd'/>
  </os>
  <features><acpi/><apic/><vmport state='off'/></features>
  <cpu mode='host-passthrough' check='none' migratable='on'/>
  <clock offset='utc'>
    <timer name='rtc' tickpolicy='catchup'/><timer name='pit' tickpolicy='delay'/>
    <timer name='hpet' present='no'/>
  </clock>
  <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
  <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
  <!-- edited by hand -->
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
{disks_xml}{nics_xml}    <controller type='usb' index='0' model='qemu-xhci' ports='15'/>
    <serial type='pty'><target type='isa-serial' port='0'>
      <model name='isa-serial'/></target></serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <graphics type='spice' autoport='yes'><listen type='address'/>
      <image compression='off'/></graphics>
    <video><model type='virtio' heads='1' primary='yes'/></video>
    <memballoon model='virtio'/>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices>
</domain>
"""


DOCS = {"small": SMALL.encode(), "guest": guest(2, 1).encode(), "big": guest(40, 16).encode()}


def lxml_summary(data: bytes) -> tuple[Any, ...]:
    """The lxml route to the same fields (what callers do without the fast path)."""
    root = etree.fromstring(data)
    s = root.xpath
    return (root.get("type"), s("string(./name[1])"), s("string(./uuid[1])"),
            s("string(./memory[1])"), s("string(./memory[1]/@unit)"),
            s("string(./currentMemory[1])"), s("string(./vcpu[1])"), s("string(./os/type[1])"))


def parsers() -> dict[str, Callable[[bytes], Any]]:
    out: dict[str, Callable[[bytes], Any]] = {}
    if "c" in _core.available_impls():
        out["c"] = _core.get_impl("c").fastxml.parse_domain_summary
    out["twin"] = _core.get_impl("python").fastxml.parse_domain_summary
    out["lxml"] = lxml_summary
    out["lxml-parse"] = etree.fromstring
    return out


@pytest.mark.parametrize("doc", sorted(DOCS))
@pytest.mark.parametrize("impl", ["c", "twin", "lxml", "lxml-parse"])
def test_fastxml(benchmark: Any, impl: str, doc: str) -> None:
    fn = parsers().get(impl)
    if fn is None:
        pytest.skip(f"C core unavailable: {_core.c_unavailable_reason}")
    data = DOCS[doc]
    benchmark.group = f"fastxml-{doc} ({len(data)} B)"
    benchmark.extra_info["bytes"] = len(data)
    benchmark(fn, data)


def main() -> None:
    ps = parsers()
    print(f"{'doc':8} {'bytes':>7} " + " ".join(f"{k:>12}" for k in ps) + "   lxml/c")
    for name, data in DOCS.items():
        us = {}
        for k, fn in ps.items():
            def once(fn: Callable[[bytes], Any] = fn, data: bytes = data) -> Any:
                return fn(data)
            n, _ = timeit.Timer(once).autorange()
            us[k] = min(timeit.repeat(once, number=n, repeat=5)) / n * 1e6
        ratio = f"{us['lxml'] / us['c']:8.1f}x" if "c" in us else "      n/a"
        print(f"{name:8} {len(data):7} " + " ".join(f"{v:10.2f}us" for v in us.values()) + ratio)


if __name__ == "__main__":
    main()
