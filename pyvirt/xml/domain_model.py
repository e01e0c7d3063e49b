"""Typed model of a domain's configuration (libvirt's <domain> XML).

Every class is a slotted dataclass holding what pyvirt understands of one element;
what it does not model is kept verbatim (`RawElement`) in an `extra` list and written
back in libvirt's element order, so parse/format loses nothing. Sizes are KiB, as in
libvirt's virDomainDef. None means "not given" (libvirt's 0 / -1 / NULL), which the
normaliser (domain_normalize) turns into libvirt's defaults.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .text import RawElement

__all__ = [
    "Address",
    "Attrs",
    "CPUDef",
    "CPUFeatureDef",
    "CharDevDef",
    "CharSource",
    "ClockDef",
    "ControllerDef",
    "DevicesDef",
    "DiskDef",
    "DomainDef",
    "FeatureDef",
    "GraphicsDef",
    "GraphicsListen",
    "InputDef",
    "InterfaceDef",
    "LoaderDef",
    "MemballoonDef",
    "OSDef",
    "RngDef",
    "TimerDef",
    "VideoDef",
]

# Attributes kept as written, in order: ((name, value), ...).
Attrs = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class Address:
    """A device address. PCI and drive addresses are numeric; others keep their attributes."""

    type: str
    domain: int = 0
    bus: int = 0
    slot: int = 0
    function: int = 0
    multifunction: str | None = None
    controller: int = 0
    target: int = 0
    unit: int = 0
    attrs: Attrs = ()
    extra: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class DiskDef:
    type: str = "file"                  # file, block, dir, network, volume, nvme, vhostuser
    device: str = "disk"                # disk, cdrom, floppy, lun
    driver_name: str | None = None
    driver_type: str | None = None      # raw, qcow2, ...
    driver_attrs: Attrs = ()            # the rest of <driver>, in libvirt's order
    source: str | None = None           # file path, block device or directory
    source_attrs: Attrs = ()            # other <source> attributes (network: protocol, name)
    source_extra: list[RawElement] = field(default_factory=list)  # <host>, <auth>, ...
    has_source: bool = False            # <source/> present even without a path
    target_dev: str = ""
    target_bus: str | None = None       # virtio, ide, sata, scsi, usb, xen, fdc, ...
    target_attrs: Attrs = ()            # tray, removable, rotation_rate
    readonly: bool = False
    shareable: bool = False
    transient: bool = False
    serial: str | None = None
    boot_order: int | None = None
    alias: str | None = None
    address: Address | None = None
    attrs: Attrs = ()                   # <disk> attributes beyond type/device
    extra: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class ControllerDef:
    type: str
    index: int | None = None
    model: str | None = None
    attrs: Attrs = ()                   # ports, vectors, maxGrantFrames, ...
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)  # <driver>, <target>, <master>


@dataclass(slots=True)
class InterfaceDef:
    type: str                           # user, network, bridge, ethernet, direct, ...
    mac: str | None = None
    mac_attrs: Attrs = ()
    source_network: str | None = None
    source_bridge: str | None = None
    source_dev: str | None = None
    source_mode: str | None = None      # direct: vepa, bridge, private, passthrough
    source_attrs: Attrs = ()            # portgroup, portid, ... in order
    source_extra: list[RawElement] = field(default_factory=list)
    target_dev: str | None = None
    target_attrs: Attrs = ()
    model: str | None = None
    boot_order: int | None = None
    alias: str | None = None
    address: Address | None = None
    attrs: Attrs = ()                   # trustGuestRxFilters
    extra: list[RawElement] = field(default_factory=list)  # driver, link, bandwidth, ...


@dataclass(slots=True)
class CharSource:
    """One <source> of a character device: mode, host, path, service, append, tls."""

    attrs: Attrs = ()
    extra: list[RawElement] = field(default_factory=list)

    def get(self, name: str) -> str | None:
        for k, v in self.attrs:
            if k == name:
                return v
        return None


@dataclass(slots=True)
class CharDevDef:
    """<serial>, <parallel>, <console> or <channel>: how the host side is wired up."""

    kind: str                           # serial, parallel, console, channel
    type: str = "pty"                   # pty, unix, file, tcp, udp, null, dev, ...
    sources: list[CharSource] = field(default_factory=list)
    protocol: str | None = None         # tcp: raw, telnet, telnets, tls
    target_type: str | None = None
    target_port: int | None = None
    target_attrs: Attrs = ()            # channel: name, address, port, state
    target_extra: list[RawElement] = field(default_factory=list)
    tty: str | None = None              # live pty path
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)  # <log>, ...


@dataclass(slots=True)
class InputDef:
    type: str                           # mouse, tablet, keyboard, passthrough, evdev
    bus: str | None = None              # ps2, usb, xen, virtio, none
    attrs: Attrs = ()                   # model
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class GraphicsListen:
    type: str                           # address, network, socket, none
    address: str | None = None
    network: str | None = None
    socket: str | None = None


@dataclass(slots=True)
class GraphicsDef:
    """A VNC display (other graphics types are kept verbatim in DevicesDef.other)."""

    type: str = "vnc"
    port: int = 0                       # 0 with autoport: chosen at start (-1 in XML)
    autoport: bool = True
    websocket: int | None = None
    listens: list[GraphicsListen] = field(default_factory=list)
    keymap: str | None = None
    share_policy: str | None = None
    passwd: str | None = None           # only written with secure=True
    attrs: Attrs = ()                   # passwdValidTo, connected, powerControl
    extra: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class VideoDef:
    type: str | None = None             # cirrus, vga, qxl, virtio, xen, none, ...
    ram: int | None = None
    vram: int | None = None
    vram64: int | None = None
    vgamem: int | None = None
    heads: int | None = None
    primary: bool = False
    model_extra: list[RawElement] = field(default_factory=list)  # <acceleration>, ...
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)  # <driver>


@dataclass(slots=True)
class RngDef:
    model: str = "virtio"
    rate_bytes: int | None = None
    rate_period: int | None = None
    backend_model: str = "random"       # random, egd, builtin
    backend_path: str | None = None     # random: /dev/random, /dev/urandom, /dev/hwrng
    backend_attrs: Attrs = ()           # egd: type
    backend_extra: list[RawElement] = field(default_factory=list)
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class MemballoonDef:
    model: str = "virtio"               # virtio, xen, none, virtio-transitional, ...
    attrs: Attrs = ()                   # autodeflate, freePageReporting
    alias: str | None = None
    address: Address | None = None
    extra: list[RawElement] = field(default_factory=list)  # <stats>, <driver>


@dataclass(slots=True)
class DevicesDef:
    emulator: str | None = None
    disks: list[DiskDef] = field(default_factory=list)
    controllers: list[ControllerDef] = field(default_factory=list)
    interfaces: list[InterfaceDef] = field(default_factory=list)
    serials: list[CharDevDef] = field(default_factory=list)
    parallels: list[CharDevDef] = field(default_factory=list)
    consoles: list[CharDevDef] = field(default_factory=list)
    channels: list[CharDevDef] = field(default_factory=list)
    inputs: list[InputDef] = field(default_factory=list)
    graphics: list[GraphicsDef] = field(default_factory=list)
    videos: list[VideoDef] = field(default_factory=list)
    memballoon: MemballoonDef | None = None
    rngs: list[RngDef] = field(default_factory=list)
    # Device elements pyvirt does not model (sound, hostdev, watchdog, filesystem,
    # tpm, panic, ... and any unknown element), verbatim, in document order.
    other: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class LoaderDef:
    path: str | None = None
    attrs: Attrs = ()                   # readonly, secure, type, stateless, format


@dataclass(slots=True)
class OSDef:
    type: str = "hvm"                   # hvm, xen, linux, exe, xenpvh, uml
    arch: str | None = None
    machine: str | None = None
    firmware: str | None = None         # bios, efi (the <os firmware=...> attribute)
    loader: LoaderDef | None = None
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None
    dtb: str | None = None
    root: str | None = None
    init: str | None = None
    boot: list[str] = field(default_factory=list)   # fd, hd, cdrom, network
    bootmenu: str | None = None         # yes / no
    bootmenu_timeout: int | None = None
    extra: list[RawElement] = field(default_factory=list)  # nvram, bios, smbios, initarg...


@dataclass(slots=True)
class FeatureDef:
    """One child of <features>: its state (tristate features) and anything else verbatim."""

    name: str
    state: str | None = None
    attrs: Attrs = ()
    children: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class CPUFeatureDef:
    name: str
    policy: str = "require"             # force, require, optional, disable, forbid


@dataclass(slots=True)
class CPUDef:
    mode: str = "custom"                # custom, host-model, host-passthrough, maximum
    match: str | None = None            # exact, minimum, strict
    check: str | None = None            # none, partial, full
    migratable: str | None = None       # on / off
    model: str | None = None
    fallback: str | None = None         # allow / forbid
    vendor_id: str | None = None
    vendor: str | None = None
    sockets: int | None = None
    dies: int | None = None
    cores: int | None = None
    threads: int | None = None
    features: list[CPUFeatureDef] = field(default_factory=list)
    extra: list[RawElement] = field(default_factory=list)  # numa, cache, maxphysaddr


@dataclass(slots=True)
class TimerDef:
    name: str
    present: str | None = None          # yes / no
    tickpolicy: str | None = None
    track: str | None = None
    frequency: int | None = None
    mode: str | None = None
    extra: list[RawElement] = field(default_factory=list)  # <catchup>


@dataclass(slots=True)
class ClockDef:
    offset: str = "utc"                 # utc, localtime, timezone, variable, absolute
    timezone: str | None = None
    adjustment: str | None = None       # 'reset' or a number of seconds
    basis: str | None = None            # variable: utc / localtime
    start: str | None = None            # absolute: seconds since the epoch
    timers: list[TimerDef] = field(default_factory=list)


@dataclass(slots=True)
class DomainDef:
    type: str
    name: str
    uuid: str | None = None
    title: str | None = None
    description: str | None = None
    metadata: str | None = None         # the <metadata> element as libvirt writes it
    max_memory: int | None = None       # KiB, with max_memory_slots
    max_memory_slots: int | None = None
    memory: int | None = None           # KiB
    memory_dump_core: str | None = None
    current_memory: int | None = None   # KiB
    vcpu: int | None = None
    vcpu_placement: str | None = None   # static / auto
    vcpu_cpuset: str | None = None
    vcpu_current: int | None = None
    os: OSDef = field(default_factory=OSDef)
    features: list[FeatureDef] | None = None
    cpu: CPUDef | None = None
    clock: ClockDef | None = None
    on_poweroff: str | None = None
    on_reboot: str | None = None
    on_crash: str | None = None
    devices: DevicesDef = field(default_factory=DevicesDef)
    # Other top-level elements, verbatim (memtune, cputune, seclabel, pm, a driver's
    # namespace element, ...), written back at libvirt's position for their name.
    extra: list[RawElement] = field(default_factory=list)
