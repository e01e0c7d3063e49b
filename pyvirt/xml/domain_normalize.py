"""Defaults and checks libvirt applies to a domain on define (post-parse and validation).

What libvirt 9.0 does after parsing (virDomainDefPostParse and friends, checked against
the test driver on test:///default), redone here:
- a random v4 UUID when none was given; the driver's default arch and machine;
- memory required; currentMemory defaults to, and is capped by, memory; maxMemory
  needs slots and must be >= memory; vcpu defaults to 1 and 0 is refused;
- on_poweroff/on_reboot/on_crash default to destroy/restart/destroy; <clock offset='utc'>;
- HVM guests boot from hd unless told otherwise (<boot dev='hd'/>);
- disks: the bus inferred from the target name (hd* ide, sd* scsi, vd* virtio, xvd* xen,
  ubd* uml, floppies fdc), drive addresses for ide/scsi/sata/fdc disks, implicit
  controllers for those addresses, duplicate targets refused;
- controllers get the lowest unused index of their type;
- interfaces get a 52:54:00 MAC, generated tap names (vnet*, macvtap*) are dropped and
  the driver may name them (the test driver's "testnetN");
- character devices get ports; HVM consoles alias the first serial port;
- inputs get a bus, VNC displays a <listen type='address'/>, graphics imply a video,
  videos get a model type, their default video RAM and heads, the first is primary.

`normalize_domain` returns a new DomainDef and never changes its argument;
`load_domain` parses and normalises in one step without the copy.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Callable
from dataclasses import dataclass

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error
from .devices_parse import disk_name_index, insert_controller
from .domain_model import (
    Address,
    CharDevDef,
    ClockDef,
    ControllerDef,
    DomainDef,
    GraphicsListen,
    VideoDef,
)
from .domain_parse import parse_domain
from .ids import RandomBytes, new_mac, new_uuid
from .order import (
    BALLOON_RANK,
    CHR_RANK,
    CPU_RANK,
    CTRL_RANK,
    DEVICE_INFO_RANK,
    DEVICE_RANK,
    DISK_RANK,
    NET_RANK,
    OS_RANK,
    RNG_RANK,
    TOP_RANK,
    UNKNOWN_TOP,
    VIDEO_RANK,
    by_rank,
)
from .props import xml_error

__all__ = [
    "TEST_DEFAULTS",
    "DomainDefaults",
    "load_domain",
    "normalize_domain",
    "test_video_type",
]

D = ErrorDomain.DOMAIN
_GENERATED_IFNAMES = ("vnet", "macvtap", "macvlan")


def test_video_type(d: DomainDef) -> str:
    """The test driver's default video model (testDomainDevicesDefPostParse)."""
    if d.os.type in ("xen", "linux"):
        return "xen"
    if (d.os.arch or "").startswith("ppc64"):
        return "vga"
    return "cirrus"


@dataclass(frozen=True, slots=True)
class DomainDefaults:
    """What the defining driver fills in: its capabilities and post-parse choices."""

    arch: str | None = None                 # when <type arch=...> is absent
    machine: str | None = None              # when <type machine=...> is absent
    emulator: str | None = None             # when <emulator> is absent
    video_type: str | Callable[[DomainDef], str] = test_video_type
    mac_prefix: bytes = b"\x52\x54\x00"     # libvirt's VIR_MAC_PREFIX_DEFAULT
    ifname_prefix: str | None = None        # name interfaces <prefix>N (test: "testnet")


# libvirt's test driver: i686 guests (defArch), no machine types, "testnetN" taps.
TEST_DEFAULTS = DomainDefaults(arch="i686", ifname_prefix="testnet")


def load_domain(xml: str | bytes, defaults: DomainDefaults = TEST_DEFAULTS,
                rand: RandomBytes = os.urandom) -> DomainDef:
    """Parse and normalise domain XML as a driver's define does."""
    d = parse_domain(xml)
    _normalize(d, defaults, rand)
    return d


def normalize_domain(d: DomainDef, defaults: DomainDefaults = TEST_DEFAULTS,
                     rand: RandomBytes = os.urandom) -> DomainDef:
    """A normalised copy of `d` (libvirt's post-parse defaults and checks)."""
    d = copy.deepcopy(d)
    _normalize(d, defaults, rand)
    return d


def _normalize(d: DomainDef, df: DomainDefaults, rand: RandomBytes) -> None:
    if d.uuid is None:
        d.uuid = new_uuid(rand)
    os_ = d.os
    if os_.arch is None:
        os_.arch = df.arch
    if os_.machine is None:
        os_.machine = df.machine
    if d.devices.emulator is None and df.emulator:
        d.devices.emulator = df.emulator
    _os_fields(d)
    _memory(d)
    if d.vcpu is None:
        d.vcpu = 1
    if d.vcpu == 0:
        # libvirt 9.0 reports a zero vCPU count through its NUMA check
        raise error(ErrorNumber.INTERNAL_ERROR, D, "CPU IDs in <numa> exceed the <vcpu> count")
    if d.vcpu_current is not None and d.vcpu_current > d.vcpu:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                    "maximum vCPU count must not be less than current vCPU count")
    if d.vcpu_current == d.vcpu:
        d.vcpu_current = None
    if d.vcpu_placement is None:
        d.vcpu_placement = "static"
    d.on_poweroff = d.on_poweroff or "destroy"
    d.on_reboot = d.on_reboot or "restart"
    d.on_crash = d.on_crash or "destroy"
    if d.features is not None and not d.features:
        d.features = None
    if d.clock is None:
        d.clock = ClockDef()
    _boot(d)
    _disks(d)
    _controllers(d)
    _interfaces(d, df, rand)
    _chardevs(d)
    _inputs(d)
    _graphics_and_video(d, df)
    _implicit_controllers(d)
    for r in d.devices.rngs:
        if r.backend_model == "random" and not r.backend_path:
            r.backend_path = "/dev/random"
    _canonical_order(d)


def _canonical_order(d: DomainDef) -> None:
    """Verbatim elements in libvirt's order, as parsing the output would give them."""
    d.extra = by_rank(d.extra, TOP_RANK, UNKNOWN_TOP)
    d.os.extra = by_rank(d.os.extra, OS_RANK)
    if d.cpu is not None:
        d.cpu.extra = by_rank(d.cpu.extra, CPU_RANK)
    dv = d.devices
    dv.other = by_rank(dv.other, DEVICE_RANK, UNKNOWN_TOP)
    for group, rank in ((dv.disks, DISK_RANK), (dv.controllers, CTRL_RANK),
                        (dv.interfaces, NET_RANK), (dv.inputs, DEVICE_INFO_RANK),
                        (dv.videos, VIDEO_RANK), (dv.rngs, RNG_RANK),
                        (dv.serials, CHR_RANK), (dv.parallels, CHR_RANK),
                        (dv.consoles, CHR_RANK), (dv.channels, CHR_RANK)):
        for dev in group:
            dev.extra = by_rank(dev.extra, rank)
    if dv.memballoon is not None:
        dv.memballoon.extra = by_rank(dv.memballoon.extra, BALLOON_RANK)


def _os_fields(d: DomainDef) -> None:
    """What the parser keeps per OS type (domain_parse._os), for definitions built in code."""
    os_ = d.os
    if os_.type == "linux" and d.type == "xen":
        os_.type = "xen"
    if os_.type not in ("xen", "xenpvh", "hvm", "uml"):
        os_.kernel = os_.initrd = os_.cmdline = os_.dtb = os_.root = None
        os_.loader = None
    if os_.type != "hvm":
        os_.boot = []
        os_.bootmenu = os_.bootmenu_timeout = None
    if os_.type != "exe":
        os_.init = None
    del os_.boot[4:]


def _memory(d: DomainDef) -> None:
    if not d.memory:
        raise xml_error(D, "Memory size must be specified via <memory> or in the <numa> "
                           "configuration")
    if not d.current_memory or d.current_memory > d.memory:
        d.current_memory = d.memory
    if d.max_memory or d.max_memory_slots:
        if not d.max_memory or not d.max_memory_slots:
            raise xml_error(D, "both maximum memory size and memory slot count must be "
                               "specified")
        if d.max_memory < d.memory:
            raise xml_error(D, "maximum memory size must be equal or greater than the "
                               "actual memory size")


def _boot(d: DomainDef) -> None:
    dv = d.devices
    orders = [x.boot_order for x in dv.disks if x.boot_order is not None]
    orders += [x.boot_order for x in dv.interfaces if x.boot_order is not None]
    if orders:
        if d.os.boot:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, "per-device boot elements cannot "
                        "be used together with os/boot elements")
        seen: set[int] = set()
        for o in orders:
            if o in seen:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                            f"boot order '{o}' used for more than one device")
            seen.add(o)
    elif d.os.type == "hvm" and not d.os.boot and \
            not any(r.tag == "bootloader" for r in d.extra):
        d.os.boot.append("hd")


def _disks(d: DomainDef) -> None:
    seen: dict[str, str | None] = {}
    for dk in d.devices.disks:
        if dk.device == "cdrom":
            dk.readonly = True
        if dk.target_bus is None:
            dev = dk.target_dev
            if dk.device == "floppy":
                dk.target_bus = "fdc"
            elif dev.startswith("hd"):
                dk.target_bus = "ide"
            elif dev.startswith("sd"):
                dk.target_bus = "scsi"
            elif dev.startswith("vd"):
                dk.target_bus = "virtio"
            elif dev.startswith("xvd"):
                dk.target_bus = "xen"
            elif dev.startswith("ubd"):
                dk.target_bus = "uml"
            else:
                dk.target_bus = "ide"
        if dk.address is None:
            dk.address = _drive_address(dk.target_dev, dk.target_bus)
        elif disk_name_index(dk.target_dev) < 0:
            raise error(ErrorNumber.INTERNAL_ERROR, D,
                        f"Invalid harddisk device name: {dk.target_dev}")
        if dk.target_dev in seen:
            a = seen[dk.target_dev] or "<null>"
            b = dk.source or "<null>"
            raise xml_error(D, f"target '{dk.target_dev}' duplicated for disk sources "
                               f"'{a}' and '{b}'")
        seen[dk.target_dev] = dk.source


def _drive_address(dev: str, bus: str) -> Address | None:
    """virDomainDiskDefAssignAddress (narrow SCSI: 7 units per bus, as the test driver)."""
    idx = disk_name_index(dev)
    if idx < 0:
        raise xml_error(D, f"Unknown disk name '{dev}' and no address specified")
    if bus == "scsi":
        return Address("drive", controller=idx // 7, unit=idx % 7)
    if bus == "ide":
        return Address("drive", controller=idx // 4, bus=(idx % 4) // 2, unit=idx % 2)
    if bus == "sata":
        return Address("drive", controller=idx // 6, unit=idx % 6)
    if bus == "fdc":
        return Address("drive", controller=idx // 2, unit=idx % 2)
    return None


def _controllers(d: DomainDef) -> None:
    used: dict[str, set[int]] = {}
    for c in d.devices.controllers:
        if c.index is not None:
            used.setdefault(c.type, set()).add(c.index)
    for c in d.devices.controllers:
        if c.index is None:
            taken = used.setdefault(c.type, set())
            i = 0
            while i in taken:
                i += 1
            c.index = i
            taken.add(i)


def _add_controller(d: DomainDef, ctype: str, index: int) -> None:
    """virDomainDefMaybeAddController: add <controller type index> unless present."""
    for c in d.devices.controllers:
        if c.type == ctype and c.index == index:
            return
    insert_controller(d.devices.controllers, ControllerDef(ctype, index))


def _implicit_controllers(d: DomainDef) -> None:
    """virDomainDefAddImplicitControllers: disk buses, then virtio-serial."""
    dv = d.devices
    for ctype in ("scsi", "fdc", "ide", "sata"):
        top = -1
        for dk in dv.disks:
            if dk.target_bus == ctype and dk.address is not None \
                    and dk.address.type == "drive":
                top = max(top, dk.address.controller)
        for i in range(top + 1):
            _add_controller(d, ctype, i)
    for ch in dv.channels + dv.consoles:
        if ch.target_type == "virtio":
            idx = 0
            if ch.address is not None and ch.address.type == "virtio-serial":
                for k, v in ch.address.attrs:
                    if k == "controller" and v.isdigit():
                        idx = int(v)
            _add_controller(d, "virtio-serial", idx)


def _interfaces(d: DomainDef, df: DomainDefaults, rand: RandomBytes) -> None:
    nets = d.devices.interfaces
    for n in nets:
        if n.mac is None:
            n.mac = new_mac(rand, df.mac_prefix)
        if n.target_dev and n.target_dev.startswith(_GENERATED_IFNAMES):
            n.target_dev = None  # libvirt drops generated tap names on define
    if df.ifname_prefix:
        names = {n.target_dev for n in nets if n.target_dev}
        ctr = 0
        for n in nets:
            if n.target_dev:
                continue
            while f"{df.ifname_prefix}{ctr}" in names:
                ctr += 1
            n.target_dev = f"{df.ifname_prefix}{ctr}"
            names.add(n.target_dev)


def _chardevs(d: DomainDef) -> None:
    dv = d.devices
    for ch in dv.serials + dv.parallels + dv.consoles + dv.channels:
        if ch.type == "pty":
            # a pty's path is runtime state: a define (an inactive parse) drops it
            ch.sources, ch.tty = [], None
    for kind_list in (dv.serials, dv.parallels, dv.consoles):
        for ch in kind_list:
            if ch.kind == "console" and ch.target_type is None:
                ch.target_type = "serial"
            if ch.target_port is None or ch.target_port < 0:
                ports = [x.target_port for x in kind_list if x.target_port is not None]
                ch.target_port = max(ports + [-1]) + 1
    for i, con in enumerate(dv.consoles):
        if i and con.target_type == "serial":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                        "Only the first console can be a serial port")
    if d.os.type != "hvm":
        return
    # virDomainDefAddConsoleCompat: the first HVM console is an alias of serial 0
    if dv.consoles and dv.consoles[0].target_type == "serial":
        con = dv.consoles[0]
        if not dv.serials:
            serial = copy.copy(con)
            serial.kind, serial.target_type, serial.target_port = "serial", None, 0
            dv.serials.append(serial)
        dv.consoles[0] = _console_alias(dv.serials[0])
    elif dv.serials:
        # libvirt writes a console for serial 0 of an HVM guest whether or not it
        # holds one; keeping it in the model makes the definition a fixed point.
        dv.consoles.insert(0, _console_alias(dv.serials[0]))


def _console_alias(serial: CharDevDef) -> CharDevDef:
    return CharDevDef("console", serial.type, copy.deepcopy(serial.sources), serial.protocol,
                      "serial", serial.target_port, (), [], serial.tty, serial.alias,
                      copy.deepcopy(serial.address), copy.deepcopy(serial.extra))


def _inputs(d: DomainDef) -> None:
    """Input buses: libvirt's defaults, then its checks (virDomainInputDefParseXML)."""
    arch = d.os.arch
    x86 = arch is None or arch in ("i686", "x86_64")
    ostype = d.os.type
    for i in d.devices.inputs:
        if i.bus is None:
            if ostype == "hvm":
                if i.type in ("mouse", "keyboard") and x86:
                    i.bus = "ps2"
                elif (arch or "").startswith("s390") or i.type == "passthrough":
                    i.bus = "virtio"
                elif i.type == "evdev":
                    i.bus = "none"
                else:
                    i.bus = "usb"
            elif ostype in ("xen", "xenpvh"):
                i.bus = "xen"
            elif d.type in ("vz", "parallels"):
                i.bus = "parallels"
        if ostype == "hvm":
            if i.bus == "xen":
                raise error(ErrorNumber.INTERNAL_ERROR, D, "unsupported input bus xen")
            if i.bus == "ps2" and i.type not in ("mouse", "keyboard"):
                raise error(ErrorNumber.INTERNAL_ERROR, D,
                            f"ps2 bus does not support {i.type} input device")
        elif ostype in ("xen", "xenpvh"):
            if i.bus != "xen":
                raise error(ErrorNumber.INTERNAL_ERROR, D, f"unsupported input bus {i.bus}")
            if i.type not in ("mouse", "keyboard"):
                raise error(ErrorNumber.INTERNAL_ERROR, D,
                            f"xen bus does not support {i.type} input device")
        elif d.type not in ("vz", "parallels"):
            raise error(ErrorNumber.INTERNAL_ERROR, D,
                        "Input devices are not supported by this virtualization driver.")


def _video_ram(d: DomainDef, vtype: str) -> int:
    """virDomainVideoDefaultRAM."""
    if vtype in ("vga", "cirrus", "vmvga"):
        return {"vbox": 8192, "vmware": 4096}.get(d.type, 16384)
    return {"bochs": 16384, "xen": 4096, "qxl": 65536}.get(vtype, 0)


def _graphics_and_video(d: DomainDef, df: DomainDefaults) -> None:
    dv = d.devices
    for g in dv.graphics:
        if g.autoport:
            g.port = 0
        if not g.listens:
            g.listens.append(GraphicsListen("address"))
    has_graphics = bool(dv.graphics) or any(r.tag == "graphics" for r in dv.other)
    if has_graphics and not dv.videos:
        dv.videos.append(VideoDef())
    for i, v in enumerate(dv.videos):
        if v.primary and i:
            # virDomainDefParseXML moves the primary video to the front
            dv.videos.insert(0, dv.videos.pop(i))
            break
    for i, v in enumerate(dv.videos):
        if v.type is None:
            v.type = df.video_type(d) if callable(df.video_type) else df.video_type
        if v.heads is None:
            v.heads = 1
        if not v.vram:
            v.vram = _video_ram(d, v.type) or None
        if v.type == "qxl" and not v.ram:
            v.ram = 65536
        v.primary = i == 0 and v.type != "none"
