"""Define-time normalisation: libvirt's defaults, a driver's defaults, and purity.

The byte-exact comparison with libvirt is test_xml_corpus.py's; these tests pin the
model-level results and the API's contract (pure functions, injectable randomness).
"""
from __future__ import annotations

import copy
import itertools

import pytest

from pyvirt.errors import libvirtError
from pyvirt.xml import (
    TEST_DEFAULTS,
    DomainDefaults,
    format_domain,
    load_domain,
    normalize_domain,
    parse_domain,
)
from pyvirt.xml.domain_model import DiskDef

BASE = "<domain type='kvm'><name>n</name><memory unit='MiB'>{mem}</memory>{extra}" \
       "<os><type>hvm</type></os><devices>{devices}</devices></domain>"


def counter_rand():  # type: ignore[no-untyped-def]
    c = itertools.count(1)
    return lambda n: bytes(next(c) % 256 for _ in range(n))


def dom(mem: str = "512", extra: str = "", devices: str = "") -> str:
    return BASE.format(mem=mem, extra=extra, devices=devices)


def test_defaults_filled() -> None:
    d = load_domain(dom(), rand=counter_rand())
    assert d.uuid == "01020304-0506-4708-890a-0b0c0d0e0f10"
    assert (d.memory, d.current_memory, d.vcpu, d.vcpu_placement) == (524288, 524288, 1, "static")
    assert (d.on_poweroff, d.on_reboot, d.on_crash) == ("destroy", "restart", "destroy")
    assert d.os.arch == "i686" and d.os.machine is None and d.os.boot == ["hd"]
    assert d.clock is not None and d.clock.offset == "utc"


def test_driver_defaults() -> None:
    qemu_like = DomainDefaults(arch="x86_64", machine="pc", emulator="/usr/bin/qemu-system-x86_64",
                               video_type="vga")
    d = load_domain(dom(devices="<graphics type='vnc'/><interface type='user'/>"), qemu_like)
    assert (d.os.arch, d.os.machine) == ("x86_64", "pc")
    assert d.devices.emulator == "/usr/bin/qemu-system-x86_64"
    assert [v.type for v in d.devices.videos] == ["vga"]
    assert d.devices.interfaces[0].target_dev is None       # only the test driver names taps
    out = format_domain(d)
    assert "<type arch='x86_64' machine='pc'>hvm</type>" in out
    explicit = load_domain(dom().replace("<type>", "<type arch='aarch64' machine='virt'>"),
                           qemu_like)
    assert (explicit.os.arch, explicit.os.machine) == ("aarch64", "virt")


def test_current_memory_capped_and_defaulted() -> None:
    assert load_domain(dom(extra="<currentMemory unit='GiB'>4</currentMemory>")).current_memory \
        == 524288
    assert load_domain(dom(extra="<currentMemory unit='MiB'>256</currentMemory>")).current_memory \
        == 262144


def test_macs_generated_with_prefix() -> None:
    d = load_domain(dom(devices="<interface type='user'/><interface type='user'>"
                                "<mac address='52:54:00:AA:BB:CC'/></interface>"),
                    rand=lambda n: b"\x10\x20\x30"[:n] if n == 3 else b"\0" * n)
    assert [n.mac for n in d.devices.interfaces] == ["52:54:00:10:20:30", "52:54:00:aa:bb:cc"]
    assert [n.target_dev for n in d.devices.interfaces] == ["testnet0", "testnet1"]
    custom = DomainDefaults(mac_prefix=b"\x02\x00\x00")
    assert load_domain(dom(devices="<interface type='user'/>"), custom).devices \
        .interfaces[0].mac.startswith("02:00:00:")  # type: ignore[union-attr]


@pytest.mark.parametrize("dev,device,bus", [
    ("hda", "disk", "ide"), ("sda", "disk", "scsi"), ("vda", "disk", "virtio"),
    ("xvda", "disk", "xen"), ("ubda", "disk", "uml"), ("fda", "floppy", "fdc"),
    ("hdc", "cdrom", "ide"),
])
def test_disk_bus_from_name(dev: str, device: str, bus: str) -> None:
    d = load_domain(dom(devices=f"<disk type='file' device='{device}'><source file='/x'/>"
                                f"<target dev='{dev}'/></disk>"))
    assert d.devices.disks[0].target_bus == bus


def test_drive_addresses_and_implicit_controllers() -> None:
    d = load_domain(dom(devices="<disk type='file'><source file='/a'/><target dev='hdd'/></disk>"
                                "<disk type='file'><source file='/b'/><target dev='sdj'/></disk>"))
    addrs = {dk.target_dev: dk.address for dk in d.devices.disks}
    hdd, sdj = addrs["hdd"], addrs["sdj"]
    assert hdd is not None and (hdd.controller, hdd.bus, hdd.unit) == (0, 1, 1)
    assert sdj is not None and (sdj.controller, sdj.unit) == (1, 2)     # 7 units per bus
    assert [(c.type, c.index) for c in d.devices.controllers] == \
        [("scsi", 0), ("scsi", 1), ("ide", 0)]


def test_console_aliases_serial() -> None:
    d = load_domain(dom(devices="<console type='pty'/>"))
    assert [s.target_port for s in d.devices.serials] == [0]
    assert [(c.target_type, c.target_port) for c in d.devices.consoles] == [("serial", 0)]


def test_normalize_is_pure() -> None:
    parsed = parse_domain(dom(devices="<interface type='user'/><graphics type='vnc'/>"))
    before = copy.deepcopy(parsed)
    out = normalize_domain(parsed, TEST_DEFAULTS)
    assert parsed == before
    assert out != parsed and out.uuid and out.devices.videos


def test_invalid_leaves_nothing_changed() -> None:
    parsed = parse_domain(dom(devices="<disk type='file'><source file='/a'/><target dev='vda'/>"
                                      "</disk><disk type='file'><source file='/b'/>"
                                      "<target dev='vda'/></disk>"))
    before = copy.deepcopy(parsed)
    with pytest.raises(libvirtError) as exc:
        normalize_domain(parsed)
    assert exc.value.get_error_message() == \
        "XML error: target 'vda' duplicated for disk sources '/a' and '/b'"
    assert parsed == before


def test_normalized_is_a_fixed_point() -> None:
    x = dom(devices="<serial type='pty'/><disk type='file' device='cdrom'><target dev='hdc'/>"
                    "</disk><interface type='network'><source network='n'/></interface>"
                    "<graphics type='vnc'/><input type='mouse'/><controller type='usb'/>")
    d = load_domain(x)
    again = normalize_domain(parse_domain(format_domain(d)))
    assert again == d
    assert format_domain(again) == format_domain(d)


def test_model_is_plain_data() -> None:
    disk = DiskDef(target_dev="vdb", source="/img")
    assert disk.type == "file" and disk.device == "disk" and disk.extra == []
    with pytest.raises(AttributeError):
        disk.bogus = 1  # type: ignore[attr-defined]   # slots


LIVE = ("<domain type='test'><name>live</name><memory>1024</memory><os><type>hvm</type></os>"
        "<devices><graphics type='vnc' port='5907' autoport='yes' passwd='secret'/>"
        "<serial type='pty' tty='/dev/pts/4'><source path='/dev/pts/4'/><alias name='serial0'/>"
        "</serial><interface type='ethernet'><mac address='52:54:00:00:00:01'/>"
        "<target dev='vnet2'/><alias name='ua-nic'/></interface></devices></domain>")


def test_format_flags_live_state() -> None:
    """Live XML (as a running domain's status would be parsed) versus the flags."""
    d = parse_domain(LIVE)   # parsed, not defined: keeps the runtime values
    live = format_domain(d, live_id=3)
    assert live.startswith("<domain type='test' id='3'>")
    assert "<graphics type='vnc' port='5907' autoport='yes'" in live
    assert "passwd" not in live
    assert "<serial type='pty' tty='/dev/pts/4'>" in live and "<source path='/dev/pts/4'/>" in live
    assert "<alias name='serial0'/>" in live and "<target dev='vnet2'/>" in live
    inactive = format_domain(d, inactive=True, live_id=3)
    assert inactive.startswith("<domain type='test'>")
    assert "port='-1' autoport='yes'" in inactive          # an autoport is chosen at start
    assert "/dev/pts/4" not in inactive                      # runtime pty
    assert "serial0" not in inactive and "ua-nic" in inactive  # only user aliases persist
    assert "vnet2" not in inactive                           # generated tap name
    assert "passwd='secret'" in format_domain(d, secure=True)


def test_define_drops_runtime_state() -> None:
    d = load_domain(LIVE)
    assert d.devices.serials[0].sources == [] and d.devices.serials[0].tty is None
    assert d.devices.interfaces[0].target_dev == "testnet0"
