"""Property: every valid definition survives format -> parse unchanged.

Hypothesis builds DomainDefs (and networks, pools, volumes) from the model classes,
brings them to the form a define gives them (normalize_*), and checks that formatting
and parsing again yields the same object, and that formatting that is stable.
"""
from __future__ import annotations

import string

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pyvirt.errors import libvirtError
from pyvirt.xml import (
    Address,
    CharDevDef,
    CharSource,
    ControllerDef,
    CPUDef,
    CPUFeatureDef,
    DevicesDef,
    DHCPHost,
    DHCPRange,
    DiskDef,
    DomainDef,
    FeatureDef,
    GraphicsDef,
    GraphicsListen,
    InputDef,
    InterfaceDef,
    MemballoonDef,
    NetworkDef,
    NetworkForward,
    NetworkIP,
    OSDef,
    Permissions,
    RawElement,
    RngDef,
    StoragePoolDef,
    StorageVolDef,
    VideoDef,
    format_domain,
    format_network,
    format_pool,
    format_volume,
    normalize_domain,
    normalize_network,
    normalize_pool,
    parse_domain,
    parse_network,
    parse_pool,
    parse_volume,
)
from pyvirt.xml.devices_parse import disk_name_index, insert_controller
from pyvirt.xml.domain_model import ClockDef, TimerDef

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# Text XML can carry unchanged: no control characters (XML 1.0 forbids most, and
# parsers turn \r into \n), no leading/trailing blanks that layout could eat.
_chars = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r")
text = st.text(_chars, min_size=1, max_size=20).map(str.strip).filter(bool)
name = text.filter(lambda s: "/" not in s)
path = st.lists(st.text(string.ascii_letters + string.digits + "._-", min_size=1, max_size=8),
                min_size=1, max_size=4).map(lambda p: "/" + "/".join(p))
uuid = st.uuids().map(str)
mac = st.tuples(*[st.integers(0, 255)] * 5).map(
    lambda t: "52:" + ":".join(f"{b:02x}" for b in t))


@st.composite
def disks(draw: st.DrawFn) -> list[DiskDef]:
    prefixes = {"vd": "virtio", "sd": "scsi", "hd": "ide", "xvd": "xen"}
    letters = draw(st.lists(st.sampled_from(string.ascii_lowercase[:12]), unique=True,
                            max_size=4))
    out = []
    buses = []
    for letter in letters:
        prefix = draw(st.sampled_from(sorted(prefixes)))
        buses.append(prefixes[prefix])
        dtype = draw(st.sampled_from(["file", "block"]))
        out.append(DiskDef(
            type=dtype, device=draw(st.sampled_from(["disk", "cdrom"])),
            driver_name=draw(st.sampled_from([None, "qemu"])),
            driver_type=draw(st.sampled_from([None, "raw", "qcow2"])),
            source=draw(path), has_source=True, target_dev=prefix + letter,
            target_bus=draw(st.sampled_from([None, prefixes[prefix]])),
            readonly=draw(st.booleans()), shareable=draw(st.booleans()),
            serial=draw(st.none() | st.text(string.ascii_letters, min_size=1, max_size=8)),
            alias=draw(st.none() | st.just("ua-disk" + letter)),
        ))
    # libvirt places disks as it parses them (same-bus disks by target index), so a
    # definition only comes back unchanged when it is already in that order
    bus = buses
    first = {b: i for i, b in reversed(list(enumerate(bus)))}
    order = sorted(range(len(out)), key=lambda i: (first[bus[i]], disk_name_index(
        out[i].target_dev)))
    return [out[i] for i in order]


@st.composite
def interfaces(draw: st.DrawFn) -> list[InterfaceDef]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        ntype = draw(st.sampled_from(["user", "network", "bridge", "ethernet"]))
        n = InterfaceDef(ntype, mac=draw(st.none() | mac),
                         model=draw(st.none() | st.sampled_from(["virtio", "e1000", "rtl8139"])))
        if ntype == "network":
            n.source_network = draw(name)
        elif ntype == "bridge":
            n.source_bridge = draw(st.text(string.ascii_lowercase, min_size=1, max_size=8))
        if draw(st.booleans()):
            n.address = Address("pci", 0, 0, draw(st.integers(3, 31)), 0)
        out.append(n)
    return out


@st.composite
def chardevs(draw: st.DrawFn) -> list[CharDevDef]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        ctype = draw(st.sampled_from(["pty", "file", "unix", "null"]))
        sources = []
        if ctype == "file":
            sources = [CharSource((("path", draw(path)),))]
        elif ctype == "unix":
            sources = [CharSource((("mode", draw(st.sampled_from(["bind", "connect"]))),
                                   ("path", draw(path))))]
        out.append(CharDevDef("serial", ctype, sources))
    return out


@st.composite
def devices(draw: st.DrawFn) -> DevicesDef:
    dv = DevicesDef(emulator=draw(st.none() | path), disks=draw(disks()),
                    interfaces=draw(interfaces()), serials=draw(chardevs()))
    # controllers with an index, in the order libvirt's parser places them (by type, then
    # index); libvirt's output for unindexed ones is not a fixed point of libvirt either
    for ctype, idx in draw(st.lists(st.tuples(st.sampled_from(["usb", "pci", "virtio-serial"]),
                                              st.integers(0, 3)), unique=True, max_size=3)):
        insert_controller(dv.controllers, ControllerDef(
            ctype, idx, draw(st.none() | st.just("piix3-uhci")) if ctype == "usb" else None))
    dv.inputs = [InputDef(t, draw(st.none() | st.sampled_from(["usb", "ps2"])))
                 for t in draw(st.lists(st.sampled_from(["mouse", "tablet", "keyboard"]),
                                        max_size=2))]
    if draw(st.booleans()):
        g = GraphicsDef(port=draw(st.sampled_from([0, 5900, 5901])))
        g.autoport = g.port == 0
        if draw(st.booleans()):
            g.listens = [GraphicsListen("address", draw(st.sampled_from(
                [None, "127.0.0.1", "0.0.0.0", "::1"])))]
        g.keymap = draw(st.none() | st.just("en-us"))
        dv.graphics = [g]
    dv.videos = [VideoDef(type=t, vram=draw(st.none() | st.sampled_from([8192, 16384])))
                 for t in draw(st.lists(st.sampled_from(["cirrus", "vga", "qxl", "virtio"]),
                                        max_size=2))]
    if draw(st.booleans()):
        dv.memballoon = MemballoonDef(draw(st.sampled_from(["virtio", "none"])))
    if draw(st.booleans()):
        dv.rngs = [RngDef(backend_path=draw(st.sampled_from(["/dev/random", "/dev/urandom"])),
                          rate_bytes=draw(st.none() | st.integers(1, 10 ** 6)))]
    dv.other = draw(st.lists(st.sampled_from([
        RawElement("sound", "<sound model='ich6'/>"),
        RawElement("watchdog", "<watchdog model='i6300esb' action='reset'/>"),
        RawElement("panic", "<panic model='isa'/>"),
        RawElement("hostdev", "<hostdev mode='subsystem' type='usb' managed='no'>\n  <source>\n"
                              "    <vendor id='0x1234'/>\n    <product id='0xbeef'/>\n"
                              "  </source>\n</hostdev>"),
    ]), max_size=2, unique=True))
    return dv


@st.composite
def domains(draw: st.DrawFn) -> DomainDef:
    memory = draw(st.integers(1, 1 << 40))
    os_type = draw(st.sampled_from(["hvm", "hvm", "xen", "linux"]))
    os = OSDef(os_type, arch=draw(st.sampled_from([None, "x86_64", "i686", "aarch64"])),
               machine=draw(st.none() | st.sampled_from(["pc", "q35", "virt"])),
               boot=draw(st.lists(st.sampled_from(["hd", "cdrom", "network", "fd"]),
                                  max_size=4)),
               kernel=draw(st.none() | path), cmdline=draw(st.none() | text))
    vcpu = draw(st.integers(1, 64))
    d = DomainDef(
        type=draw(st.sampled_from(["test", "kvm", "qemu", "xen"])), name=draw(name),
        uuid=draw(st.none() | uuid), title=draw(st.none() | text.filter(lambda s: "\n" not in s)),
        description=draw(st.none() | text), memory=memory,
        current_memory=draw(st.none() | st.integers(1, memory)), vcpu=vcpu,
        vcpu_current=draw(st.none() | st.integers(1, vcpu)), os=os,
        on_poweroff=draw(st.none() | st.sampled_from(["destroy", "restart", "preserve"])),
        on_crash=draw(st.none() | st.sampled_from(["destroy", "coredump-restart"])),
        devices=draw(devices()),
    )
    if draw(st.booleans()):
        names = draw(st.lists(st.sampled_from(["acpi", "apic", "pae", "hap", "pmu"]),
                              unique=True, min_size=1))
        d.features = [FeatureDef(n, "on" if n in ("hap", "pmu") else None) for n in
                      sorted(names, key=["acpi", "apic", "pae", "hap", "pmu"].index)]
    if draw(st.booleans()):
        mode = draw(st.sampled_from(["custom", "host-model", "host-passthrough"]))
        cpu = CPUDef(mode, match="exact")
        if mode == "custom":
            cpu.model, cpu.fallback = draw(st.sampled_from(["qemu64", "Haswell"])), "allow"
            cpu.features = [CPUFeatureDef(f, draw(st.sampled_from(["require", "disable"])))
                            for f in draw(st.lists(st.sampled_from(["vmx", "svm", "hle"]),
                                                   unique=True))]
        if draw(st.booleans()):
            cpu.sockets, cpu.dies, cpu.cores, cpu.threads = 1, 1, draw(st.integers(1, 8)), 1
        d.cpu = cpu
    if draw(st.booleans()):
        d.clock = ClockDef(draw(st.sampled_from(["utc", "localtime"])),
                           timers=[TimerDef("rtc", tickpolicy="catchup")]
                           if draw(st.booleans()) else [])
    if draw(st.booleans()):
        d.extra = [RawElement("memtune", "<memtune>\n  <hard_limit unit='KiB'>1048576"
                                         "</hard_limit>\n</memtune>")]
    return d


@SETTINGS
@given(domains())
def test_domain_round_trip(d: DomainDef) -> None:
    try:
        d = normalize_domain(d)
    except libvirtError:
        assume(False)
    out = format_domain(d)
    again = parse_domain(out)
    assert again == d
    assert format_domain(again) == out
    live = format_domain(d, live_id=7)
    assert live.startswith(f"<domain type='{d.type}' id='7'>\n")
    assert parse_domain(live) == d


@st.composite
def networks(draw: st.DrawFn) -> NetworkDef:
    n = NetworkDef(draw(name), uuid=draw(st.none() | uuid),
                   bridge=draw(st.none() | st.text(string.ascii_lowercase, min_size=1,
                                                   max_size=8)),
                   stp=draw(st.booleans()), delay=draw(st.integers(0, 30)),
                   mac=draw(st.none() | mac))
    third = draw(st.integers(0, 255))
    ip = NetworkIP(f"10.0.{third}.1", prefix=24)
    if draw(st.booleans()):
        lo = draw(st.integers(2, 100))
        ip.ranges = [DHCPRange(f"10.0.{third}.{lo}", f"10.0.{third}.{lo + draw(st.integers(0, 100))}")]
        ip.hosts = [DHCPHost(draw(mac), name=draw(st.none() | st.just("h")),
                             ip=f"10.0.{third}.200")]
    n.ips = [ip] if draw(st.booleans()) else []
    if n.ips and draw(st.booleans()):
        n.forward = NetworkForward(draw(st.sampled_from(["nat", "route"])))
    return n


@SETTINGS
@given(networks())
def test_network_round_trip(n: NetworkDef) -> None:
    n = normalize_network(n)
    out = format_network(n)
    assert parse_network(out) == n
    assert format_network(parse_network(out)) == out


@SETTINGS
@given(name, path, st.none() | st.integers(0, 0o777), st.none() | st.integers(0, 65535))
def test_pool_round_trip(pname: str, ppath: str, mode: int | None, owner: int | None) -> None:
    p = normalize_pool(StoragePoolDef("dir", pname, target_path=ppath,
                                      target_perms=Permissions(mode, owner)))
    out = format_pool(p)
    assert parse_pool(out) == p


@SETTINGS
@given(name, st.integers(0, (1 << 63) - 1), st.none() | st.integers(0, 1 << 40),
       st.sampled_from(["raw", "qcow2", "vmdk"]), path)
def test_volume_round_trip(vname: str, cap: int, alloc: int | None, fmt: str, vpath: str) -> None:
    v = StorageVolDef(vname, capacity=cap, allocation=cap if alloc is None else alloc,
                      format=fmt, target_path=vpath, key=vpath)
    out = format_volume(v)
    assert parse_volume(out) == v
