"""Writing a DomainDef as libvirt writes domain XML (virDomainDefFormatInternal, 9.0).

Two-space indentation, single-quoted attributes, memory in KiB with unit='KiB',
<vcpu placement='static'>, elements in libvirt's order (verbatim elements slotted in at
their name's position), and id='N' on the root for a running domain. Fields left None
are written with the default libvirt would hold for them, so formatting a parsed but
not yet normalised definition still gives well-formed, parseable XML.
"""
from __future__ import annotations

from types import MappingProxyType

from .common import format_address, format_attrs, merge_ranked, order_attrs
from .domain_model import (
    Address,
    CharDevDef,
    ClockDef,
    ControllerDef,
    CPUDef,
    DiskDef,
    DomainDef,
    FeatureDef,
    GraphicsDef,
    InputDef,
    InterfaceDef,
    MemballoonDef,
    OSDef,
    RngDef,
    VideoDef,
)
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
)
from .text import RawElement, escape

__all__ = ["format_domain"]

_LOADER_ORDER = MappingProxyType({n: i for i, n in enumerate((
    "readonly", "secure", "type", "stateless",
                                             "format"))})
_GENERATED_IFNAMES = ("vnet", "macvtap", "macvlan")
I1, I2, I3, I4 = "  ", "    ", "      ", "        "


def format_domain(d: DomainDef, *, inactive: bool = False, secure: bool = False,
                  live_id: int | None = None) -> str:
    """Domain XML for `d`, byte-for-byte in libvirt's layout, ending in a newline.

    inactive: the persistent config (no id, no live-only data such as pty paths or
    auto-assigned ports); secure: include secrets (VNC passwords); live_id: the running
    domain's id, written as id='N' unless inactive.
    """
    out: list[str] = []
    a = out.append
    idattr = f" id='{live_id}'" if live_id is not None and not inactive else ""
    a(f"  <name>{escape(d.name)}</name>\n")
    if d.uuid:
        a(f"  <uuid>{d.uuid}</uuid>\n")
    if d.title:
        a(f"  <title>{escape(d.title)}</title>\n")
    if d.description:
        a(f"  <description>{escape(d.description)}</description>\n")
    if d.metadata:
        a(f"  {d.metadata}\n")
    if d.max_memory:
        a(f"  <maxMemory slots='{d.max_memory_slots or 0}' unit='KiB'>{d.max_memory}"
          "</maxMemory>\n")
    dump = f" dumpCore='{d.memory_dump_core}'" if d.memory_dump_core else ""
    mem = d.memory or 0
    a(f"  <memory{dump} unit='KiB'>{mem}</memory>\n")
    cur = d.current_memory if d.current_memory else mem
    a(f"  <currentMemory unit='KiB'>{cur}</currentMemory>\n")
    vcpu = d.vcpu if d.vcpu is not None else 1
    cpuset = f" cpuset='{d.vcpu_cpuset}'" if d.vcpu_cpuset else ""
    current = f" current='{d.vcpu_current}'" \
        if d.vcpu_current is not None and d.vcpu_current != vcpu else ""
    a(f"  <vcpu placement='{d.vcpu_placement or 'static'}'{cpuset}{current}>{vcpu}</vcpu>\n")
    head = "".join(out)  # everything up to <vcpu>, in libvirt's order
    out.clear()
    bootloader = any(r.tag == "bootloader" for r in d.extra) if d.extra else False
    _os(d.os, out, bootloader, d.type)
    if d.features:
        a("  <features>\n")
        for f in d.features:
            _feature(f, out)
        a("  </features>\n")
    if d.cpu is not None:
        _cpu(d.cpu, out)
    _clock(d.clock, out)
    a(f"  <on_poweroff>{d.on_poweroff or 'destroy'}</on_poweroff>\n")
    a(f"  <on_reboot>{d.on_reboot or 'restart'}</on_reboot>\n")
    a(f"  <on_crash>{d.on_crash or 'destroy'}</on_crash>\n")
    mid = "".join(out)  # <os> to <on_crash>
    out.clear()
    a("  <devices>\n")
    _devices(d, out, inactive, secure)
    a("  </devices>\n")
    devices = "".join(out)
    root = f"<domain type='{d.type}'{idattr}>\n"
    if not d.extra:
        return f"{root}{head}{mid}{devices}</domain>\n"
    return root + _with_extra(head, mid, devices, d.extra) + "</domain>\n"


def _with_extra(head: str, mid: str, devices: str, extra: list[RawElement]) -> str:
    """Slot verbatim top-level elements in at libvirt's position for their name.

    `head` holds name..vcpu, `mid` os..on_crash; within each, libvirt's own elements
    are already in order, so an extra element goes after the last of them that ranks
    before it.
    """
    pieces: list[tuple[float, int, str]] = []
    for text, first in ((head, "name"), (mid, "os")):
        # split into top-level elements: each starts with "  <" at column 0
        starts = [0] + [i + 1 for i in range(len(text) - 3)
                        if text[i] == "\n" and text.startswith("  <", i + 1)
                        and not text.startswith("  </", i + 1)]
        for k, s0 in enumerate(starts):
            s1 = starts[k + 1] if k + 1 < len(starts) else len(text)
            chunk = text[s0:s1]
            if not chunk:
                continue
            tag = chunk[3:].split(">", 1)[0].split(" ", 1)[0].rstrip("/")
            pieces.append((TOP_RANK.get(tag, TOP_RANK[first]), len(pieces), chunk))
    pieces.append((TOP_RANK["devices"], len(pieces), devices))
    for r in extra:
        pieces.append((TOP_RANK.get(r.tag, UNKNOWN_TOP), len(pieces), r.format(I1)))
    pieces.sort(key=lambda t: (t[0], t[1]))
    return "".join(t[2] for t in pieces)


def _os(os: OSDef, out: list[str], bootloader: bool, vtype: str) -> None:
    fw = f" firmware='{escape(os.firmware)}'" if os.firmware else ""
    arch = f" arch='{os.arch}'" if os.arch else ""
    machine = f" machine='{escape(os.machine)}'" if os.machine else ""
    # virDomainDefFormatInternal: "For historical reasons, PV guests are called 'linux'"
    ostype = "linux" if vtype == "xen" and os.type == "xen" else os.type
    parts: list[tuple[float, str]] = [(0, f"{I2}<type{arch}{machine}>{ostype}</type>\n")]
    p = parts.append
    if os.init:
        p((2, f"{I2}<init>{escape(os.init)}</init>\n"))
    if os.loader is not None:
        attrs = format_attrs(order_attrs(os.loader.attrs, _LOADER_ORDER))
        if os.loader.path:
            p((8, f"{I2}<loader{attrs}>{escape(os.loader.path)}</loader>\n"))
        else:
            p((8, f"{I2}<loader{attrs}/>\n"))
    for rank, tag, val in ((10, "kernel", os.kernel), (11, "initrd", os.initrd),
                           (12, "cmdline", os.cmdline), (13, "dtb", os.dtb),
                           (14, "root", os.root)):
        if val:
            p((rank, f"{I2}<{tag}>{escape(val)}</{tag}>\n"))
    if not bootloader:
        for dev in os.boot:
            p((16, f"{I2}<boot dev='{dev}'/>\n"))
        if os.bootmenu:
            t = f" timeout='{os.bootmenu_timeout}'" if os.bootmenu_timeout is not None else ""
            p((17, f"{I2}<bootmenu enable='{os.bootmenu}'{t}/>\n"))
    out.append(f"  <os{fw}>\n")
    extra = os.extra
    if bootloader:
        extra = [r for r in extra if r.tag not in ("bios",)]
    out.append(merge_ranked(parts, extra, OS_RANK, I2))
    out.append("  </os>\n")


def _feature(f: FeatureDef, out: list[str]) -> None:
    state = f" state='{f.state}'" if f.state else ""
    head = f"{I2}<{f.name}{state}{format_attrs(f.attrs)}"
    if f.children:
        out.append(head + ">\n" + "".join(r.format(I3) for r in f.children)
                   + f"{I2}</{f.name}>\n")
    else:
        out.append(head + "/>\n")


def _cpu(cpu: CPUDef, out: list[str]) -> None:
    attrs = ""
    if cpu.mode != "custom" or cpu.model:
        attrs = f" mode='{cpu.mode}'"
        if cpu.mode == "custom":
            attrs += f" match='{cpu.match or 'exact'}'"
        if cpu.check:
            attrs += f" check='{cpu.check}'"
        if cpu.migratable and cpu.mode in ("host-passthrough", "maximum"):
            attrs += f" migratable='{cpu.migratable}'"
    parts: list[tuple[float, str]] = []
    if cpu.mode in ("custom", "host-model") and (cpu.model or cpu.vendor_id):
        fb = f" fallback='{cpu.fallback or 'allow'}'" if cpu.model else ""
        vid = f" vendor_id='{escape(cpu.vendor_id)}'" if cpu.vendor_id else ""
        if cpu.model:
            parts.append((0, f"{I2}<model{fb}{vid}>{escape(cpu.model)}</model>\n"))
        else:
            parts.append((0, f"{I2}<model{fb}{vid}/>\n"))
    if cpu.vendor:
        parts.append((1, f"{I2}<vendor>{escape(cpu.vendor)}</vendor>\n"))
    if cpu.sockets:
        topo = (f"{I2}<topology sockets='{cpu.sockets}' dies='{cpu.dies or 1}' "
                f"cores='{cpu.cores}' threads='{cpu.threads}'/>\n")
        parts.append((2, topo))
    for f in cpu.features:
        parts.append((5, f"{I2}<feature policy='{f.policy}' name='{escape(f.name)}'/>\n"))
    children = merge_ranked(parts, cpu.extra, CPU_RANK, I2)
    if children:
        out.append(f"  <cpu{attrs}>\n{children}  </cpu>\n")
    elif attrs:
        out.append(f"  <cpu{attrs}/>\n")


def _clock(ck: ClockDef | None, out: list[str]) -> None:
    if ck is None:
        out.append("  <clock offset='utc'/>\n")
        return
    attrs = f" offset='{ck.offset}'"
    if ck.offset == "variable":
        attrs += f" adjustment='{ck.adjustment or 0}' basis='{ck.basis or 'utc'}'"
    elif ck.offset == "timezone":
        attrs += f" timezone='{escape(ck.timezone or '')}'"
    elif ck.offset == "absolute":
        attrs += f" start='{ck.start or 0}'"
    elif ck.adjustment:
        attrs += f" adjustment='{ck.adjustment}'"
    if not ck.timers:
        out.append(f"  <clock{attrs}/>\n")
        return
    out.append(f"  <clock{attrs}>\n")
    for t in ck.timers:
        s = f"{I2}<timer name='{t.name}'"
        if t.present:
            s += f" present='{t.present}'"
        if t.tickpolicy:
            s += f" tickpolicy='{t.tickpolicy}'"
        if t.track:
            s += f" track='{t.track}'"
        if t.frequency is not None:
            s += f" frequency='{t.frequency}'"
        if t.mode:
            s += f" mode='{t.mode}'"
        if t.extra:
            s += ">\n" + "".join(r.format(I3) for r in t.extra) + f"{I2}</timer>\n"
        else:
            s += "/>\n"
        out.append(s)
    out.append("  </clock>\n")


def _info(alias: str | None, address: Address | None, boot: int | None, inactive: bool,
          parts: list[tuple[float, str]]) -> None:
    if boot is not None:
        parts.append((90, f"{I3}<boot order='{boot}'/>\n"))
    if alias and (not inactive or alias.startswith("ua-")):
        parts.append((91, f"{I3}<alias name='{escape(alias)}'/>\n"))
    if address is not None:
        parts.append((95, format_address(address, I3)))


def _element(head: str, tag: str, children: str) -> str:
    if children:
        return f"{I2}<{tag}{head}>\n{children}{I2}</{tag}>\n"
    return f"{I2}<{tag}{head}/>\n"


def _disk(dk: DiskDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    p = parts.append
    if dk.driver_name or dk.driver_type or dk.driver_attrs:
        n = f" name='{escape(dk.driver_name)}'" if dk.driver_name else ""
        t = f" type='{dk.driver_type}'" if dk.driver_type else ""
        p((0, f"{I3}<driver{n}{t}{format_attrs(dk.driver_attrs)}/>\n"))
    if dk.source or dk.source_attrs or dk.source_extra:
        key = {"file": "file", "block": "dev", "dir": "dir"}.get(dk.type)
        s = f" {key}='{escape(dk.source)}'" if key and dk.source else ""
        s += format_attrs(dk.source_attrs)
        if dk.source_extra:
            inner = "".join(r.format(I4) for r in dk.source_extra)
            p((2, f"{I3}<source{s}>\n{inner}{I3}</source>\n"))
        else:
            p((2, f"{I3}<source{s}/>\n"))
    bus = f" bus='{dk.target_bus}'" if dk.target_bus else ""
    p((8, f"{I3}<target dev='{escape(dk.target_dev)}'{bus}{format_attrs(dk.target_attrs)}/>\n"))
    if dk.readonly:
        p((11, f"{I3}<readonly/>\n"))
    if dk.shareable:
        p((12, f"{I3}<shareable/>\n"))
    if dk.transient:
        p((13, f"{I3}<transient/>\n"))
    if dk.serial is not None:
        p((14, f"{I3}<serial>{escape(dk.serial)}</serial>\n"))
    _info(dk.alias, dk.address, dk.boot_order, inactive, parts)
    head = f" type='{dk.type}' device='{dk.device}'{format_attrs(dk.attrs)}"
    return _element(head, "disk", merge_ranked(parts, dk.extra, DISK_RANK, I3))


def _controller(c: ControllerDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    _info(c.alias, c.address, None, inactive, parts)
    idx = f" index='{c.index}'" if c.index is not None else ""
    model = f" model='{escape(c.model)}'" if c.model else ""
    head = f" type='{c.type}'{idx}{model}{format_attrs(c.attrs)}"
    return _element(head, "controller", merge_ranked(parts, c.extra, CTRL_RANK, I3))


def _interface(n: InterfaceDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    p = parts.append
    if n.mac or n.mac_attrs:
        addr = f" address='{n.mac}'" if n.mac else ""
        p((0, f"{I3}<mac{addr}{format_attrs(n.mac_attrs)}/>\n"))
    src = None
    if n.type == "network" and n.source_network is not None:
        src = f" network='{escape(n.source_network)}'"
    elif n.type == "bridge" and n.source_bridge is not None:
        src = f" bridge='{escape(n.source_bridge)}'"
    elif n.type == "direct" and n.source_dev is not None:
        src = f" dev='{escape(n.source_dev)}' mode='{n.source_mode or 'vepa'}'"
    elif n.source_attrs or n.source_extra:
        src = ""
    if src is not None:
        src += format_attrs(n.source_attrs)
        if n.source_extra:
            inner = "".join(r.format(I4) for r in n.source_extra)
            p((1, f"{I3}<source{src}>\n{inner}{I3}</source>\n"))
        else:
            p((1, f"{I3}<source{src}/>\n"))
    if n.target_dev and not (inactive and n.target_dev.startswith(_GENERATED_IFNAMES)):
        p((8, f"{I3}<target dev='{escape(n.target_dev)}'{format_attrs(n.target_attrs)}/>\n"))
    if n.model:
        p((10, f"{I3}<model type='{n.model}'/>\n"))
    _info(n.alias, n.address, n.boot_order, inactive, parts)
    head = f" type='{n.type}'{format_attrs(n.attrs)}"
    return _element(head, "interface", merge_ranked(parts, n.extra, NET_RANK, I3))


def _chardev(ch: CharDevDef, inactive: bool, as_console: CharDevDef | None = None) -> str:
    """A character device; `as_console` formats serial `ch` as the console aliasing it."""
    tag = "console" if as_console is not None else ch.kind
    parts: list[tuple[float, str]] = []
    p = parts.append
    live_pty = ch.type == "pty" and not inactive
    for s in ch.sources:
        if ch.type == "pty" and not live_pty:
            continue
        attrs = format_attrs(s.attrs)
        if s.extra:
            inner = "".join(r.format(I4) for r in s.extra)
            p((0, f"{I3}<source{attrs}>\n{inner}{I3}</source>\n"))
        else:
            p((0, f"{I3}<source{attrs}/>\n"))
    if ch.protocol:
        p((1, f"{I3}<protocol type='{ch.protocol}'/>\n"))
    if as_console is not None:
        cport = ch.target_port if ch.target_port is not None else 0
        p((3, f"{I3}<target type='serial' port='{cport}'/>\n"))
    else:
        t = f" type='{ch.target_type}'" if ch.target_type else ""
        port = f" port='{ch.target_port}'" if ch.target_port is not None else ""
        attrs = f"{t}{port}{format_attrs(ch.target_attrs)}"
        if ch.target_extra:
            inner = "".join(r.format(I4) for r in ch.target_extra)
            p((3, f"{I3}<target{attrs}>\n{inner}{I3}</target>\n"))
        else:
            p((3, f"{I3}<target{attrs}/>\n"))
    _info(ch.alias, ch.address, None, inactive, parts)
    tty = f" tty='{escape(ch.tty)}'" if ch.tty and live_pty else ""
    return _element(f" type='{ch.type}'{tty}", tag,
                    merge_ranked(parts, ch.extra, CHR_RANK, I3))


def _input(i: InputDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    _info(i.alias, i.address, None, inactive, parts)
    bus = f" bus='{i.bus}'" if i.bus and i.bus != "none" else ""
    return _element(f" type='{i.type}'{bus}{format_attrs(i.attrs)}", "input",
                    merge_ranked(parts, i.extra, DEVICE_INFO_RANK, I3))


def _graphics(g: GraphicsDef, inactive: bool, secure: bool) -> str:
    head = f" type='{g.type}'"
    first = g.listens[0] if g.listens else None
    ltype = first.type if first is not None else "address"
    if ltype == "socket":
        if first is not None and first.socket:
            head += f" socket='{escape(first.socket)}'"
    elif ltype in ("address", "network"):
        if g.port and (not g.autoport or not inactive):
            head += f" port='{g.port}'"
        elif g.autoport:
            head += " port='-1'"
        head += f" autoport='{'yes' if g.autoport else 'no'}'"
        if g.websocket:
            head += f" websocket='{g.websocket}'"
        if first is not None and first.address and (first.type == "address" or not inactive):
            head += f" listen='{escape(first.address)}'"
    if g.keymap:
        head += f" keymap='{escape(g.keymap)}'"
    if g.share_policy:
        head += f" sharePolicy='{g.share_policy}'"
    if g.passwd is not None and secure:
        head += f" passwd='{escape(g.passwd)}'"
    head += format_attrs(g.attrs)
    children = []
    for ls in g.listens:
        s = f"{I3}<listen type='{ls.type}'"
        if ls.type == "address" and ls.address:
            s += f" address='{escape(ls.address)}'"
        elif ls.type == "network":
            if ls.network:
                s += f" network='{escape(ls.network)}'"
            if ls.address and not inactive:
                s += f" address='{escape(ls.address)}'"
        elif ls.type == "socket" and ls.socket:
            s += f" socket='{escape(ls.socket)}'"
        children.append(s + "/>\n")
    children.extend(r.format(I3) for r in g.extra)
    return _element(head, "graphics", "".join(children))


def _video(v: VideoDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    m = f" type='{v.type or 'default'}'"
    if v.type == "none":  # a <video> that is no video: nothing else is written
        parts.append((1, f"{I3}<model type='none'/>\n"))
        _info(v.alias, v.address, None, inactive, parts)
        return _element("", "video", merge_ranked(parts, v.extra, DEVICE_INFO_RANK, I3))
    if v.ram:
        m += f" ram='{v.ram}'"
    if v.vram and v.type != "none":
        m += f" vram='{v.vram}'"
    if v.vram64:
        m += f" vram64='{v.vram64}'"
    if v.vgamem:
        m += f" vgamem='{v.vgamem}'"
    if v.heads:
        m += f" heads='{v.heads}'"
    if v.primary:
        m += " primary='yes'"
    if v.model_extra:
        inner = "".join(r.format(I4) for r in v.model_extra)
        parts.append((1, f"{I3}<model{m}>\n{inner}{I3}</model>\n"))
    else:
        parts.append((1, f"{I3}<model{m}/>\n"))
    _info(v.alias, v.address, None, inactive, parts)
    return _element("", "video", merge_ranked(parts, v.extra, VIDEO_RANK, I3))


def _rng(r: RngDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    if r.rate_bytes is not None:
        period = f" period='{r.rate_period}'" if r.rate_period else ""
        parts.append((0, f"{I3}<rate bytes='{r.rate_bytes}'{period}/>\n"))
    attrs = f" model='{r.backend_model}'{format_attrs(r.backend_attrs)}"
    if r.backend_model == "random" and r.backend_path:
        parts.append((1, f"{I3}<backend{attrs}>{escape(r.backend_path)}</backend>\n"))
    elif r.backend_extra:
        inner = "".join(x.format(I4) for x in r.backend_extra)
        parts.append((1, f"{I3}<backend{attrs}>\n{inner}{I3}</backend>\n"))
    else:
        parts.append((1, f"{I3}<backend{attrs}/>\n"))
    _info(r.alias, r.address, None, inactive, parts)
    return _element(f" model='{r.model}'", "rng",
                    merge_ranked(parts, r.extra, RNG_RANK, I3))


def _memballoon(m: MemballoonDef, inactive: bool) -> str:
    parts: list[tuple[float, str]] = []
    _info(m.alias, m.address, None, inactive, parts)
    return _element(f" model='{m.model}'{format_attrs(m.attrs)}", "memballoon",
                    merge_ranked(parts, m.extra, BALLOON_RANK, I3))


def _devices(d: DomainDef, out: list[str], inactive: bool, secure: bool) -> None:
    dv = d.devices
    a = out.append
    if dv.other:
        chunks: list[tuple[float, int, str]] = []
        ap = chunks.append
    if dv.emulator:
        a(f"{I2}<emulator>{escape(dv.emulator)}</emulator>\n")
    body: list[tuple[float, str]] = []
    b = body.append
    for dk in dv.disks:
        b((1, _disk(dk, inactive)))
    for c in dv.controllers:
        b((2, _controller(c, inactive)))
    for n in dv.interfaces:
        b((5, _interface(n, inactive)))
    for ch in dv.serials:
        b((7, _chardev(ch, inactive)))
    for ch in dv.parallels:
        b((8, _chardev(ch, inactive)))
    hvm = d.os.type == "hvm"
    for i, ch in enumerate(dv.consoles):
        # virDomainDefFormatInternal: on HVM the first consoles alias the serial ports
        if hvm and ch.target_type in (None, "serial") and i < len(dv.serials):
            b((9, _chardev(dv.serials[i], inactive, as_console=ch)))
        else:
            b((9, _chardev(ch, inactive)))
    if not dv.consoles and dv.serials and hvm:
        b((9, _chardev(dv.serials[0], inactive, as_console=dv.serials[0])))
    for ch in dv.channels:
        b((10, _chardev(ch, inactive)))
    for inp in dv.inputs:
        b((11, _input(inp, inactive)))
    for g in dv.graphics:
        b((13, _graphics(g, inactive, secure)))
    for v in dv.videos:
        b((16, _video(v, inactive)))
    if dv.memballoon is not None:
        b((22, _memballoon(dv.memballoon, inactive)))
    for r in dv.rngs:
        b((23, _rng(r, inactive)))
    if not dv.other:
        a("".join(s for _, s in body))
        return
    for seq, (rank, s) in enumerate(body):
        ap((rank, seq, s))
    base = len(chunks)
    for k, raw_dev in enumerate(dv.other):
        ap((DEVICE_RANK.get(raw_dev.tag, UNKNOWN_TOP), base + k, raw_dev.format(I2)))
    chunks.sort(key=lambda t: (t[0], t[1]))
    a("".join(t[2] for t in chunks))
