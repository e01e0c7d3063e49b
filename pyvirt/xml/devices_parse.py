"""Parsing the <devices> of a domain into DevicesDef, with libvirt's checks and messages.

Follows libvirt 9.0's virDomainDefParseXML device section: disks are placed with
virDomainDiskInsertPreAlloced (same-bus disks ordered by their target name's index,
using only the bus written in the XML), controllers with
virDomainControllerInsertPreAlloced (same-type controllers ordered by index), only
the first <memballoon> and <emulator> count, and device elements it does not model
are kept verbatim in DevicesDef.other. Errors quote libvirt's messages and origins.
"""
from __future__ import annotations

import re
from types import MappingProxyType
from typing import Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error
from .common import attrs_of, fail, order_attrs, parse_address
from .domain_model import (
    Address,
    CharDevDef,
    CharSource,
    ControllerDef,
    DevicesDef,
    DiskDef,
    GraphicsDef,
    GraphicsListen,
    InputDef,
    InterfaceDef,
    MemballoonDef,
    RngDef,
    VideoDef,
)
from .ids import is_multicast, parse_mac
from .order import (
    BALLOON_RANK,
    CHR_RANK,
    CTRL_RANK,
    DEVICE_INFO_RANK,
    DEVICE_RANK,
    DISK_RANK,
    NET_RANK,
    RNG_RANK,
    UNKNOWN_TOP,
    VIDEO_RANK,
    by_rank,
)
from .props import enum_attr, int_attr, missing_attr, tristate_bool, uint_attr, xml_error
from .text import RawElement, content, raw
from .units import parse_int

__all__ = ["DISK_BUSES", "STORAGE_FORMATS", "disk_name_index", "parse_devices"]

D = ErrorDomain.DOMAIN

DISK_TYPES = frozenset(("file", "block", "dir", "network", "volume", "nvme", "vhostuser"))
DISK_DEVICES = frozenset(("disk", "cdrom", "floppy", "lun"))
DISK_BUSES = frozenset(("ide", "fdc", "scsi", "virtio", "xen", "usb", "uml", "sata", "sd"))
# virStorageFileFormat names accepted for <driver type=...>
STORAGE_FORMATS = frozenset((
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
    "ploop", "cow", "qcow", "qcow2", "qed", "vmdk", "luks", "aio",
))
_DISK_SOURCE_ATTR = MappingProxyType({"file": "file", "block": "dev", "dir": "dir"})
# virDomainDiskDefFormatDriver's attribute order
_DRIVER_ORDER = MappingProxyType({k: i for i, k in enumerate((
    "name", "type", "cache", "error_policy", "rerror_policy", "io", "ioeventfd", "event_idx",
    "copy_on_read", "discard", "iothread", "detect_zeroes", "discard_no_unref", "queues",
    "queue_size"))})
_DISK_CHILDREN_SEEN = frozenset(("driver", "source", "target", "readonly", "shareable",
                                 "transient", "serial", "boot", "alias", "address"))

NET_TYPES = frozenset((
    "user", "ethernet", "vhostuser", "server", "client", "mcast", "network", "bridge",
    "internal", "direct", "hostdev", "udp", "vdpa", "null", "vds"))
_NET_MODEL = re.compile(r"[a-zA-Z0-9_-]*\Z")  # virDomainNetSetModelString's NET_MODEL_CHARS
_NET_CHILDREN_SEEN = frozenset(("mac", "source", "target", "model", "boot", "alias", "address"))

CHR_TYPES = frozenset((
    "null", "vc", "pty", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix", "spicevmc",
    "spiceport", "nmdm", "qemu-vdagent", "dbus"))
_CHR_PATH_TYPES = frozenset(("dev", "file", "pipe", "unix"))
_CHR_SOURCE_ORDER = MappingProxyType({k: i for i, k in enumerate((
    "mode", "host", "path", "service", "append",
                                                 "tls", "master", "slave", "channel"))})
CONTROLLER_TYPES = frozenset(("ide", "fdc", "scsi", "sata", "virtio-serial", "ccid", "usb",
                              "pci", "xenbus", "isa"))
INPUT_TYPES = frozenset(("mouse", "tablet", "keyboard", "passthrough", "evdev"))
INPUT_BUSES = frozenset(("ps2", "usb", "xen", "parallels", "virtio", "none"))
GRAPHICS_TYPES = frozenset(("sdl", "vnc", "rdp", "desktop", "spice", "egl-headless", "dbus"))
VIDEO_TYPES = frozenset(("default", "vga", "cirrus", "vmvga", "xen", "vbox", "qxl",
                         "parallels", "virtio", "gop", "none", "bochs", "ramfb"))
MEMBALLOON_MODELS = frozenset(("virtio", "xen", "none", "virtio-transitional",
                               "virtio-non-transitional"))
RNG_MODELS = frozenset(("virtio", "virtio-transitional", "virtio-non-transitional"))
RNG_BACKENDS = frozenset(("random", "egd", "builtin"))
_DRIVE_PREFIXES = ("fd", "hd", "vd", "sd", "xvd", "ubd")


def disk_name_index(name: str) -> int:
    """virDiskNameToIndex: 'vda' -> 0, 'hdc' -> 2, 'sdaa' -> 26; -1 when not a disk name."""
    for p in _DRIVE_PREFIXES:
        if name.startswith(p):
            rest = name[len(p):]
            break
    else:
        return -1
    idx = 0
    i = 0
    while i < len(rest) and "a" <= rest[i] <= "z":
        idx = (idx + (1 if i else 0)) * 26 + (ord(rest[i]) - 97)
        i += 1
    tail = rest[i:]
    if tail and not tail.isdigit():
        return -1
    return idx


_INFO_TAGS = frozenset(("alias", "address", "boot"))
_TYPE_ATTR = frozenset(("type",))
_ADDRESS_ATTR = frozenset(("address",))
_DEV_ATTR = frozenset(("dev",))
_DISK_ATTRS = frozenset(("type", "device"))


def _info_child(dev: DiskDef | InterfaceDef, c: Any) -> None:
    """One device-info child (<alias>, <address>, <boot>) of a disk or interface."""
    t = c.tag
    if t == "alias":
        if dev.alias is None:
            dev.alias = c.get("name")
    elif t == "address":
        if dev.address is None:
            dev.address = parse_address(c)
    elif dev.boot_order is None:
        if c.get("order") is None:
            raise xml_error(D, "missing boot order attribute")
        dev.boot_order = uint_attr(c, "order", nonzero=True)


def _info(el: Any) -> tuple[str | None, Address | None, int | None]:
    """alias, address and boot order of a device (virDomainDeviceInfoParseXML)."""
    alias = address = boot = None
    for c in el:
        t = c.tag
        if t == "alias" and alias is None:
            alias = c.get("name")
        elif t == "address" and address is None:
            address = parse_address(c)
        elif t == "boot" and boot is None:
            order = c.get("order")
            if order is None:
                raise xml_error(D, "missing boot order attribute")
            v = uint_attr(c, "order", nonzero=True)
            boot = v
    return alias, address, boot


def _disk(el: Any) -> DiskDef:
    d = DiskDef()
    d.type = enum_attr(el, "type", DISK_TYPES) or "file"
    d.device = enum_attr(el, "device", DISK_DEVICES) or "disk"
    d.attrs = attrs_of(el, _DISK_ATTRS) if len(el.attrib) > 2 else ()
    extra: list[RawElement] = []
    target = None
    for c in el:
        t = c.tag
        if t in _INFO_TAGS:
            _info_child(d, c)
        elif t == "source" and not d.has_source:
            d.has_source = True
            key = _DISK_SOURCE_ATTR.get(d.type)
            if key is not None:
                d.source = c.get(key)
                d.source_attrs = attrs_of(c, frozenset((key,)))
            else:
                d.source_attrs = tuple(c.attrib.items())
            d.source_extra = [raw(x) for x in c]
        elif t == "driver" and d.driver_name is None and d.driver_type is None \
                and not d.driver_attrs:
            d.driver_name = c.get("name")
            dt = c.get("type")
            if dt is not None and dt not in STORAGE_FORMATS:
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                            f"unknown driver format value '{dt}'")
            d.driver_type = dt
            d.driver_attrs = order_attrs(attrs_of(c, frozenset(("name", "type"))),
                                         _DRIVER_ORDER)
            extra.extend(raw(x) for x in c)  # <metadata_cache> and the like
        elif t == "target" and target is None:
            target = c
        elif t == "readonly":
            d.readonly = True
        elif t == "shareable":
            d.shareable = True
        elif t == "transient":
            d.transient = True
        elif t == "serial" and d.serial is None:
            d.serial = content(c)
        elif t not in _DISK_CHILDREN_SEEN:
            extra.append(raw(c))
    d.extra = by_rank(extra, DISK_RANK) if extra else extra
    if d.device == "cdrom":
        d.readonly = True  # virDomainDiskDefParseXML: a CD-ROM is always read-only
    dev = target.get("dev") if target is not None else None
    if not dev:
        msg = "missing target information for device"
        if d.source:
            msg += f" {d.source}"
        raise fail(ErrorNumber.NO_TARGET, D, msg, "missing target information for device %s",
                   d.source)
    d.target_dev = dev
    d.target_bus = enum_attr(target, "bus", DISK_BUSES)
    d.target_attrs = attrs_of(target, frozenset(("dev", "bus")))
    return d


def _insert_disk(disks: list[DiskDef], disk: DiskDef) -> None:
    """virDomainDiskInsertPreAlloced: after the last same-bus disk, or before a later one."""
    insert_at = -1
    new_idx = disk_name_index(disk.target_dev)
    for i in range(len(disks) - 1, -1, -1):
        cur = disks[i]
        if cur.target_bus == disk.target_bus:
            if disk_name_index(cur.target_dev) > new_idx:
                insert_at = i
            elif insert_at == -1:
                insert_at = i + 1
    if insert_at == -1:
        disks.append(disk)
    else:
        disks.insert(insert_at, disk)


def _controller(el: Any) -> ControllerDef:
    ctype = enum_attr(el, "type", CONTROLLER_TYPES) or "ide"
    index = int_attr(el, "index", nonnegative=True)
    alias, address, _ = _info(el)
    extra = by_rank((raw(c) for c in el if c.tag not in ("alias", "address")), CTRL_RANK)
    return ControllerDef(ctype, index, el.get("model"),
                         attrs_of(el, frozenset(("type", "index", "model"))), alias, address,
                         extra)


def insert_controller(ctrls: list[ControllerDef], c: ControllerDef) -> None:
    """virDomainControllerInsertPreAlloced: same-type controllers kept in index order."""
    insert_at = -1
    for i in range(len(ctrls) - 1, -1, -1):
        cur = ctrls[i]
        if cur.type == c.type:
            if c.index is None:
                insert_at = i + 1
                break
            if cur.index is not None and cur.index > c.index:
                insert_at = i
            elif insert_at == -1:
                insert_at = i + 1
    if insert_at == -1:
        ctrls.append(c)
    else:
        ctrls.insert(insert_at, c)


def _interface(el: Any) -> InterfaceDef:
    ntype = el.get("type")
    if ntype is None:
        ntype = "user"  # libvirt's default when type is omitted
    elif ntype not in NET_TYPES:
        enum_attr(el, "type", NET_TYPES)
    n = InterfaceDef(ntype, attrs=attrs_of(el, _TYPE_ATTR) if len(el.attrib) > 1 else ())
    source = None
    extra: list[RawElement] = []
    for c in el:
        t = c.tag
        if t in _INFO_TAGS:
            _info_child(n, c)
        elif t == "mac" and n.mac is None and not n.mac_attrs:
            addr = c.get("address")
            if addr is not None:
                mac = parse_mac(addr)
                if mac is None:
                    raise xml_error(D, f"unable to parse mac address '{addr}'")
                if is_multicast(mac):
                    raise xml_error(D, f"expected unicast mac address, found multicast '{addr}'")
                n.mac = mac
            n.mac_attrs = attrs_of(c, _ADDRESS_ATTR) if len(c.attrib) > 1 else ()
        elif t == "source" and source is None:
            source = c
        elif t == "target" and n.target_dev is None and not n.target_attrs:
            n.target_dev = c.get("dev")
            n.target_attrs = attrs_of(c, _DEV_ATTR) if len(c.attrib) > 1 else ()
        elif t == "model" and n.model is None:
            m = c.get("type")
            if m is not None and not _NET_MODEL.match(m):
                raise error(ErrorNumber.INVALID_ARG, D, "Model name contains invalid characters")
            n.model = m
        elif t not in _NET_CHILDREN_SEEN:
            extra.append(raw(c))
    n.extra = by_rank(extra, NET_RANK) if extra else extra
    if ntype in ("network", "bridge", "direct"):
        key = {"network": "network", "bridge": "bridge", "direct": "dev"}[ntype]
        if source is None:
            raise xml_error(D, f"interface type='{ntype}' requires a 'source' element")
        val = source.get(key)
        if val is None:
            raise missing_attr(source, key)
        if ntype == "network":
            n.source_network = val
        elif ntype == "bridge":
            n.source_bridge = val
        else:
            n.source_dev = val
            n.source_mode = source.get("mode")
        # libvirt keeps only the attributes meaningful for the type (the test
        # driver's own default XML has a <source network=... bridge=...> whose
        # bridge disappears); portgroup/portid for networks.
        if ntype == "network":
            n.source_attrs = tuple((k, v) for k, v in source.attrib.items()
                                   if k in ("portgroup", "portid"))
        n.source_extra = [raw(x) for x in source]
    elif source is not None:
        n.source_attrs = tuple(source.attrib.items())
        n.source_extra = [raw(x) for x in source]
    return n


def _chardev(el: Any, kind: str) -> CharDevDef:
    ctype = el.get("type", "pty")
    if ctype not in CHR_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                    f"unknown type presented to host for character device: {ctype}")
    ch = CharDevDef(kind, ctype, tty=el.get("tty"))
    extra: list[RawElement] = []
    for c in el:
        t = c.tag
        if t == "source":
            src = CharSource(order_attrs(tuple(c.attrib.items()), _CHR_SOURCE_ORDER),
                             [raw(x) for x in c])
            if ctype == "unix" and src.get("mode") is None:
                src.attrs = order_attrs(src.attrs + (("mode", "connect"),), _CHR_SOURCE_ORDER)
            ch.sources.append(src)
        elif t == "protocol" and ch.protocol is None:
            ch.protocol = c.get("type")
        elif t == "target" and ch.target_type is None and ch.target_port is None \
                and not ch.target_attrs:
            ch.target_type = c.get("type")
            port = c.get("port")
            if port is not None and kind != "channel":
                p = _parse_port(port)
                ch.target_port = p
                ch.target_attrs = attrs_of(c, frozenset(("type", "port")))
            else:
                ch.target_attrs = attrs_of(c, frozenset(("type",)))
            ch.target_extra = [raw(x) for x in c]
        elif t not in ("alias", "address"):
            extra.append(raw(c))
    ch.extra = by_rank(extra, CHR_RANK)
    if ctype in _CHR_PATH_TYPES and not any(s.get("path") for s in ch.sources):
        raise error(ErrorNumber.INTERNAL_ERROR, D,
                    "Missing source path attribute for char device")
    if kind == "channel" and ch.target_type is None:
        raise xml_error(D, "target type must be specified for channel device")
    ch.alias, ch.address, _ = _info(el)
    return ch


def _parse_port(port: str) -> int:
    p = parse_int(port)
    if p is None or p < -1:
        raise xml_error(D, f"Invalid port number: {port}")
    return p


def _input(el: Any) -> InputDef:
    itype = el.get("type")
    if itype is None:
        raise xml_error(D, "missing input device type")
    if itype not in INPUT_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown input device type '{itype}'")
    bus = el.get("bus")
    if bus is not None and bus not in INPUT_BUSES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown input bus type '{bus}'")
    alias, address, _ = _info(el)
    return InputDef(itype, bus, attrs_of(el, frozenset(("type", "bus"))), alias, address,
                    by_rank((raw(c) for c in el if c.tag not in ("alias", "address")),
                            DEVICE_INFO_RANK))


def _graphics(el: Any) -> GraphicsDef | RawElement:
    gtype = enum_attr(el, "type", GRAPHICS_TYPES, required=True)
    if gtype != "vnc":
        return raw(el)
    g = GraphicsDef()
    port = el.get("port")
    if port is not None:
        p = parse_int(port)
        if p is None:
            raise error(ErrorNumber.INTERNAL_ERROR, D, f"cannot parse vnc port {port}")
        if p == -1:  # legacy syntax for autoport (virDomainGraphicsDefParseXMLVNC)
            g.port, g.autoport = 0, True
        else:
            g.port, g.autoport = p, False
    autoport = el.get("autoport")
    if autoport == "yes":
        # a live domain's XML says which port was picked; a define forgets it
        # (domain_normalize), as libvirt's inactive parse does
        g.autoport = True
    elif autoport == "no":
        g.autoport = False
    ws = el.get("websocket")
    if ws is not None:
        w = parse_int(ws)
        if w is None:
            raise error(ErrorNumber.INTERNAL_ERROR, D, f"cannot parse vnc WebSocket port {ws}")
        g.websocket = w
    g.keymap = el.get("keymap")
    g.share_policy = el.get("sharePolicy")
    g.passwd = el.get("passwd")
    g.attrs = attrs_of(el, frozenset(("type", "port", "autoport", "websocket", "keymap",
                                      "sharePolicy", "passwd", "listen", "socket")))
    extra: list[RawElement] = []
    for c in el:
        if c.tag == "listen":
            ltype = enum_attr(c, "type", ("address", "network", "socket", "none"),
                              required=True)
            assert ltype is not None
            g.listens.append(GraphicsListen(ltype, c.get("address"), c.get("network"),
                                            c.get("socket")))
        else:
            extra.append(raw(c))
    g.extra = extra
    listen_attr = el.get("listen")
    socket_attr = el.get("socket")
    if not g.listens:
        # virDomainGraphicsListensParseXML: the old attributes become a <listen>
        if socket_attr is not None:
            g.listens.append(GraphicsListen("socket", socket=socket_attr))
        elif listen_attr is not None:
            g.listens.append(GraphicsListen("address", address=listen_attr))
    elif listen_attr is not None and g.listens[0].type == "address" \
            and g.listens[0].address is None:
        g.listens[0].address = listen_attr
    return g


def _video(el: Any) -> VideoDef:
    v = VideoDef()
    extra: list[RawElement] = []
    model = None
    for c in el:
        if c.tag == "model" and model is None:
            model = c
        elif c.tag not in ("alias", "address"):
            extra.append(raw(c))
    v.extra = by_rank(extra, VIDEO_RANK)
    if model is not None:
        vtype = model.get("type")
        if vtype is not None and vtype not in VIDEO_TYPES:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown video model '{vtype}'")
        v.type = None if vtype == "default" else vtype
        v.ram = uint_attr(model, "ram")
        v.vram = uint_attr(model, "vram")
        v.vram64 = uint_attr(model, "vram64")
        v.vgamem = uint_attr(model, "vgamem")
        v.heads = uint_attr(model, "heads")
        v.primary = tristate_bool(model, "primary") == "yes"
        v.model_extra = [raw(x) for x in model]
    v.alias, v.address, _ = _info(el)
    return v


def _memballoon(el: Any) -> MemballoonDef:
    model = enum_attr(el, "model", MEMBALLOON_MODELS, required=True)
    assert model is not None
    alias, address, _ = _info(el)
    return MemballoonDef(model, attrs_of(el, frozenset(("model",))), alias, address,
                         by_rank((raw(c) for c in el if c.tag not in ("alias", "address")),
                                 BALLOON_RANK))


def _rng(el: Any) -> RngDef:
    model = enum_attr(el, "model", RNG_MODELS, required=True)
    assert model is not None
    r = RngDef(model)
    backend = None
    extra: list[RawElement] = []
    for c in el:
        t = c.tag
        if t == "backend" and backend is None:
            backend = c
        elif t == "rate" and r.rate_bytes is None:
            r.rate_bytes = uint_attr(c, "bytes", required=True)
            r.rate_period = uint_attr(c, "period")
        elif t not in ("alias", "address"):
            extra.append(raw(c))
    r.extra = by_rank(extra, RNG_RANK)
    if backend is None:
        raise xml_error(D, "missing RNG device backend")
    bmodel = enum_attr(backend, "model", RNG_BACKENDS, required=True)
    assert bmodel is not None
    r.backend_model = bmodel
    if bmodel == "random":
        r.backend_path = (backend.text or None) if not len(backend) else content(backend)
    else:
        r.backend_attrs = attrs_of(backend, frozenset(("model",)))
        r.backend_extra = [raw(x) for x in backend]
    r.alias, r.address, _ = _info(el)
    return r


def parse_devices(el: Any) -> DevicesDef:
    """All children of <devices>, in libvirt's parse order and placement."""
    dv = DevicesDef()
    for c in el:
        t = c.tag
        if t == "disk":
            _insert_disk(dv.disks, _disk(c))
        elif t == "interface":
            dv.interfaces.append(_interface(c))
        elif t == "controller":
            insert_controller(dv.controllers, _controller(c))
        elif t == "serial":
            dv.serials.append(_chardev(c, "serial"))
        elif t == "console":
            dv.consoles.append(_chardev(c, "console"))
        elif t == "parallel":
            dv.parallels.append(_chardev(c, "parallel"))
        elif t == "channel":
            dv.channels.append(_chardev(c, "channel"))
        elif t == "input":
            dv.inputs.append(_input(c))
        elif t == "graphics":
            g = _graphics(c)
            if isinstance(g, RawElement):
                dv.other.append(g)
            else:
                dv.graphics.append(g)
        elif t == "video":
            dv.videos.append(_video(c))
        elif t == "memballoon":
            if dv.memballoon is None:
                dv.memballoon = _memballoon(c)
        elif t == "rng":
            dv.rngs.append(_rng(c))
        elif t == "emulator":
            if dv.emulator is None:
                dv.emulator = content(c) or None
        elif isinstance(t, str):
            dv.other.append(raw(c))
    if dv.other:
        dv.other = by_rank(dv.other, DEVICE_RANK, UNKNOWN_TOP)
    return dv
