"""Device options of the QEMU command line: disks, controllers, NICs, chardevs, display.

Part of the pure argv builder (command.py).  Front ends and back ends are named after
the device alias as libvirt names them (`-blockdev` nodes libvirt-N-storage/-format,
netdev host<alias>, chardev char<alias>), so what QMP reports maps back to the XML.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.domain_model import Address, CharDevDef, DiskDef, DomainDef, GraphicsDef

__all__ = ["DeviceArgs", "char_backend", "device_args"]

Q = ErrorDomain.QEMU

_NIC = {"virtio": "virtio-net-pci", "e1000": "e1000", "e1000e": "e1000e",
        "rtl8139": "rtl8139", "ne2k_pci": "ne2k_pci", "pcnet": "pcnet", "vmxnet3": "vmxnet3"}
_VIDEO = {"vga": "VGA", "cirrus": "cirrus-vga", "qxl": "qxl-vga", "virtio": "virtio-vga",
          "bochs": "bochs-display", "ramfb": "ramfb", "vmvga": "vmware-svga"}
_VIDEO_SECONDARY = {"qxl": "qxl", "virtio": "virtio-gpu-pci"}
_SCSI = {None: "virtio-scsi-pci", "virtio-scsi": "virtio-scsi-pci", "lsilogic": "lsi",
         "lsisas1068": "mptsas1068", "lsisas1078": "megasas-gen2", "vmpvscsi": "pvscsi"}
_USB = {None: "piix3-usb-uhci", "piix3-uhci": "piix3-usb-uhci", "piix4-uhci": "piix4-usb-uhci",
        "ich9-ehci1": "ich9-usb-ehci1", "nec-xhci": "nec-usb-xhci", "qemu-xhci": "qemu-xhci"}


@dataclass
class DeviceArgs:
    args: list[str] = field(default_factory=list)
    has_display: bool = False


def _esc(v: str) -> str:
    return v.replace(",", ",,")


def _pci(a: Address | None, root: str) -> str:
    if a is None or a.type != "pci":
        return ""
    bus = root if a.bus == 0 else f"pci.{a.bus}"
    fn = f".{a.function:x}" if a.function else ""
    mf = ",multifunction=on" if a.multifunction == "on" else ""
    return f",bus={bus},addr=0x{a.slot:x}{fn}{mf}"


def device_args(d: DomainDef, machine: str, vnc_base: int) -> DeviceArgs:
    out = DeviceArgs()
    q35 = "q35" in machine
    root = "pcie.0" if q35 else "pci.0"
    dv = d.devices
    a = out.args
    a += _controllers(d, q35, root)
    a += _disks(d, q35, root)
    for n in dv.interfaces:
        if n.type != "user":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported interface type '{n.type}': pyvirt's QEMU driver "
                        "offers user-mode networking (<interface type='user'>)")
        model = _NIC.get(n.model or "rtl8139")
        if model is None:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, f"unsupported NIC model '{n.model}'")
        # restrict=on: the guest reaches nothing outside itself (pyvirt's policy)
        a += ["-netdev", f"user,id=host{n.alias},restrict=on"]
        dev = f"{model},netdev=host{n.alias},id={n.alias},mac={n.mac}{_pci(n.address, root)}"
        if n.boot_order is not None:
            dev += f",bootindex={n.boot_order}"
        a += ["-device", dev]
    for ch in dv.serials:
        a += ["-chardev", char_backend(ch)]
        if ch.target_type in (None, "isa-serial"):
            a += ["-device", f"isa-serial,chardev=char{ch.alias},id={ch.alias},"
                             f"index={ch.target_port or 0}"]
        elif ch.target_type == "pci-serial":
            a += ["-device", f"pci-serial,chardev=char{ch.alias},id={ch.alias}"]
        else:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported serial target type '{ch.target_type}'")
    for ch in dv.parallels:
        a += ["-chardev", char_backend(ch),
              "-device", f"isa-parallel,chardev=char{ch.alias},id={ch.alias}"]
    virtio_serial = False
    for i, ch in enumerate(dv.consoles):
        if ch.target_type == "serial" and i == 0:
            continue        # the compat alias of serial 0, not a device of its own
        if ch.target_type != "virtio":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported console target type '{ch.target_type}'")
        if not virtio_serial:
            a += ["-device", "virtio-serial-pci,id=virtio-serial0"]
            virtio_serial = True
        a += ["-chardev", char_backend(ch),
              "-device", f"virtconsole,chardev=char{ch.alias},id={ch.alias}"]
    for ch in dv.channels:
        if ch.target_type != "virtio":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported channel target type '{ch.target_type}'")
        if not virtio_serial:
            a += ["-device", "virtio-serial-pci,id=virtio-serial0"]
            virtio_serial = True
        name = dict(ch.target_attrs).get("name")
        nm = f",name={_esc(name)}" if name else ""
        a += ["-chardev", char_backend(ch),
              "-device", f"virtserialport,bus=virtio-serial0.0,chardev=char{ch.alias},"
                         f"id={ch.alias}{nm}"]
    a += _inputs(d, root)
    for i, g in enumerate(dv.graphics):
        vnc = _vnc(g, vnc_base)
        if i:
            vnc[1] += f",id=vnc{i}"     # QEMU keeps one unnamed display only
        a += vnc
        out.has_display = True
    if any(r.tag == "graphics" for r in dv.other):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    "pyvirt's QEMU driver supports VNC graphics only")
    for i, v in enumerate(dv.videos):
        if v.type == "none":
            continue
        table = _VIDEO if i == 0 else _VIDEO_SECONDARY
        model = table.get(v.type or "vga")
        if model is None:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"video type '{v.type}' is not supported with QEMU")
        dev = f"{model},id={v.alias}"
        if v.type == "vga" and v.vram:
            dev += f",vgamem_mb={max(1, v.vram // 1024)}"
        elif v.type == "qxl":
            dev += f",ram_size={(v.ram or 65536) * 1024},vram_size={(v.vram or 65536) * 1024}"
        a += ["-device", dev + _pci(v.address, root)]
    for r in dv.rngs:
        if r.backend_model == "random":
            a += ["-object", f"rng-random,id=obj{r.alias},"
                             f"filename={_esc(r.backend_path or '/dev/random')}"]
        elif r.backend_model == "builtin":
            a += ["-object", f"rng-builtin,id=obj{r.alias}"]
        else:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported rng backend '{r.backend_model}'")
        dev = f"virtio-rng-pci,rng=obj{r.alias},id={r.alias}"
        if r.rate_bytes:
            dev += f",max-bytes={r.rate_bytes},period={r.rate_period or 1000}"
        a += ["-device", dev + _pci(r.address, root)]
    mb = dv.memballoon
    if mb is not None and mb.model not in ("none", None):
        if mb.model not in ("virtio", "virtio-transitional", "virtio-non-transitional"):
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"memory balloon model '{mb.model}' is not supported")
        a += ["-device", f"virtio-balloon-pci,id={mb.alias}{_pci(mb.address, root)}"]
    for raw in dv.other:
        if raw.tag == "panic":
            model = etree.fromstring(raw.xml).get("model") or "isa"
            if model == "isa":
                a += ["-device", "pvpanic"]
            elif model == "pvpanic":
                a += ["-device", "pvpanic-pci"]
            else:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            f"panic model '{model}' is not supported")
    return out


def _controllers(d: DomainDef, q35: bool, root: str) -> list[str]:
    out: list[str] = []
    usb_needed = any(i.bus == "usb" for i in d.devices.inputs) or \
        any(dk.target_bus == "usb" for dk in d.devices.disks)
    have_usb = False
    for c in d.devices.controllers:
        if c.type == "usb":
            if c.model == "none":
                continue
            model = _USB.get(c.model if c.model else ("qemu-xhci" if q35 else None))
            if model is None:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            f"USB controller model '{c.model}' is not supported")
            out += ["-device", f"{model},id={c.alias}{_pci(c.address, root)}"]
            have_usb = True
        elif c.type == "scsi":
            model = _SCSI.get(c.model)
            if model is None:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            f"SCSI controller model '{c.model}' is not supported")
            out += ["-device", f"{model},id={c.alias}{_pci(c.address, root)}"]
        elif c.type == "sata":
            if not (q35 and c.index == 0):
                out += ["-device", f"ahci,id={c.alias}{_pci(c.address, root)}"]
        elif c.type == "ide":
            if q35:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            "IDE controllers are unsupported for this QEMU binary or machine "
                            "type")
            if c.index not in (0, None):
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            "Only a single IDE controller is supported for this machine type")
        elif c.type in ("pci", "fdc", "virtio-serial"):
            continue        # the root bus, the built-in FDC; virtio-serial comes with ports
        else:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported controller type '{c.type}'")
    if usb_needed and not have_usb:
        if any(c.type == "usb" and c.model == "none" for c in d.devices.controllers):
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "USB is disabled for this domain, but USB devices are present in "
                        "the domain XML")
        out += ["-device", f"{'qemu-xhci' if q35 else 'piix3-usb-uhci'},id=usb"]
    return out


def _disk_front(dk: DiskDef, q35: bool, root: str) -> str:
    bus = dk.target_bus or "ide"
    a = dk.address
    cd = dk.device == "cdrom"
    if bus == "virtio":
        if cd:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "disk device 'cdrom' is not supported on bus 'virtio'")
        return f"virtio-blk-pci{_pci(a, root)}"
    kind = "cd" if cd else "hd"
    if bus == "ide":
        if q35:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "IDE controllers are unsupported for this QEMU binary or machine type")
        ctrl, b, unit = (a.controller, a.bus, a.unit) if a else (0, 0, 0)
        if ctrl != 0 or b > 1 or unit > 1:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"IDE disk '{dk.target_dev}' is beyond the built-in controller")
        return f"ide-{kind},bus=ide.{b},unit={unit}"
    if bus == "sata":
        ctrl, unit = (a.controller, a.unit) if a else (0, 0)
        busname = "ide" if q35 and ctrl == 0 else f"sata{ctrl}"
        return f"ide-{kind},bus={busname}.{unit}"
    if bus == "scsi":
        ctrl, b, target, unit = (a.controller, a.bus, a.target, a.unit) if a else (0, 0, 0, 0)
        return f"scsi-{kind},bus=scsi{ctrl}.0,channel={b},scsi-id={target},lun={unit}"
    if bus == "usb":
        if cd:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, "USB CD-ROMs are not supported")
        return "usb-storage"
    raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, f"unsupported disk bus '{bus}'")


def _disks(d: DomainDef, q35: bool, root: str) -> list[str]:
    out: list[str] = []
    n = 0
    for dk in d.devices.disks:
        front = _disk_front(dk, q35, root)
        dev = f"{front},id={dk.alias}"
        if dk.type not in ("file", "block"):
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported disk type '{dk.type}': file and block disks only")
        if dk.source:
            n += 1
            fmt = dk.driver_type or "raw"
            if fmt not in ("raw", "qcow2"):
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            f"unsupported disk format '{fmt}'")
            ro = dk.readonly or dk.device == "cdrom"
            storage: dict[str, Any] = {
                "driver": "host_device" if dk.type == "block" else "file",
                "filename": dk.source, "node-name": f"libvirt-{n}-storage",
                "auto-read-only": True, "discard": "unmap"}
            fmt_node: dict[str, Any] = {
                "node-name": f"libvirt-{n}-format", "read-only": ro, "driver": fmt,
                "file": f"libvirt-{n}-storage"}
            out += ["-blockdev", json.dumps(storage, separators=(",", ":")),
                    "-blockdev", json.dumps(fmt_node, separators=(",", ":"))]
            dev += f",drive=libvirt-{n}-format"
        elif dk.device != "cdrom":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"disk '{dk.target_dev}' has no source")
        if dk.serial:
            dev += f",serial={_esc(dk.serial)}"
        if dk.boot_order is not None:
            dev += f",bootindex={dk.boot_order}"
        out += ["-device", dev]
    return out


def _inputs(d: DomainDef, root: str) -> list[str]:
    out: list[str] = []
    for i in d.devices.inputs:
        if i.bus == "ps2":
            continue        # built into the pc and q35 machines
        if i.bus == "usb":
            model = {"tablet": "usb-tablet", "mouse": "usb-mouse", "keyboard": "usb-kbd"}.get(
                i.type)
        elif i.bus == "virtio":
            model = {"tablet": "virtio-tablet-pci", "mouse": "virtio-mouse-pci",
                     "keyboard": "virtio-keyboard-pci"}.get(i.type)
        else:
            model = None
        if model is None:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported input device '{i.type}' on bus '{i.bus}'")
        out += ["-device", f"{model},id={i.alias}"]
    return out


def _vnc(g: GraphicsDef, base: int) -> list[str]:
    listen = g.listens[0] if g.listens else None
    opts = ""
    if listen is not None and listen.type == "socket":
        if not listen.socket:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, "VNC socket listen needs a path")
        target = f"unix:{_esc(listen.socket)}"
    else:
        addr = (listen.address if listen is not None else None) or "127.0.0.1"
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            ip = None
        if addr != "localhost" and (ip is None or not ip.is_loopback):
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"VNC may only listen on loopback or a unix socket, not '{addr}'")
        host = f"[{addr}]" if ip is not None and ip.version == 6 else addr
        if g.autoport or g.port <= 0:
            # QEMU finds the first free display from here ("to="), as libvirt's port
            # allocator would from 5900; query-vnc tells which one it took
            target = f"{host}:{base},to={base + 99}"
        else:
            if g.port < 5900:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, f"VNC port {g.port} < 5900")
            target = f"{host}:{g.port - 5900}"
    if g.passwd:
        opts += ",password=on"
    if g.share_policy:
        opts += f",share={g.share_policy}"
    out = ["-vnc", target + opts]
    if g.keymap:
        out += ["-k", g.keymap]
    return out


def _log_opts(ch: CharDevDef) -> str:
    for raw in ch.extra:
        if raw.tag == "log":
            el = etree.fromstring(raw.xml)
            path = el.get("file")
            if path:
                append = ",logappend=on" if el.get("append") == "on" else ",logappend=off"
                return f",logfile={_esc(path)}{append}"
    return ""


def char_backend(ch: CharDevDef) -> str:
    """The -chardev value for a character device; its id is char<alias>."""
    cid = f"char{ch.alias}"
    src = ch.sources[0] if ch.sources else None
    get = src.get if src is not None else (lambda _k: None)
    log = _log_opts(ch)
    t = ch.type
    if t == "pty":
        return f"pty,id={cid}{log}"
    if t == "null":
        return f"null,id={cid}{log}"
    if t == "file":
        path = get("path")
        if not path:
            raise error(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN,
                        "Missing source path attribute for char device")
        append = ",append=on" if get("append") == "on" else ""
        return f"file,id={cid},path={_esc(path)}{append}{log}"
    if t == "unix":
        path = get("path")
        if not path:
            raise error(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN,
                        "Missing source path attribute for char device")
        server = "server=on,wait=off" if get("mode") == "bind" else "server=off"
        return f"socket,id={cid},path={_esc(path)},{server}{log}"
    if t == "tcp":
        host, port = get("host") or "127.0.0.1", get("service")
        if not port:
            raise error(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN,
                        "Missing source service attribute for char device")
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"TCP character devices may only use loopback, not '{host}'")
        server = ",server=on,wait=off" if get("mode") == "bind" else ",server=off"
        telnet = ",telnet=on" if ch.protocol == "telnet" else ""
        return f"socket,id={cid},host={host},port={port}{server}{telnet}{log}"
    raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                f"unsupported character device type '{t}'")
