"""Parsing domain XML into a DomainDef, checking it the way libvirt's parser does.

`parse_domain` is pure: no random UUIDs, no defaults beyond those libvirt's parser
itself sets (enum defaults such as <cpu match='exact'>); domain_normalize applies the
post-parse defaults a driver applies on define. Checks run in libvirt 9.0's order
(virDomainDefParseXML: type, name, uuid, os type/arch, title, memory, vcpus, ...), so
the first error reported for a document with several problems is libvirt's first.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error
from .common import attrs_of, fail
from .devices_parse import parse_devices
from .domain_model import (
    ClockDef,
    CPUDef,
    CPUFeatureDef,
    DevicesDef,
    DomainDef,
    FeatureDef,
    LoaderDef,
    OSDef,
    TimerDef,
)
from .ids import parse_uuid
from .order import CPU_RANK, OS_RANK, TOP_RANK, UNKNOWN_TOP, by_rank
from .props import enum_attr, tristate_switch, uint_attr, ull_attr, xml_error
from .safe import DOMAIN, parse_document
from .text import RawElement, content, raw
from .units import (
    format_bitmap,
    memory_to_kib,
    parse_bitmap,
    parse_llong,
    parse_uint,
    parse_ull,
)

__all__ = [
    "ARCHES",
    "CRASH_ACTIONS",
    "FEATURES",
    "LIFECYCLE_ACTIONS",
    "OS_TYPES",
    "TRISTATE_FEATURES",
    "VIRT_TYPES",
    "domain_from_element",
    "parse_domain",
]

D = ErrorDomain.DOMAIN

# virDomainVirtType names (9.0)
VIRT_TYPES = frozenset((
    "none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
    "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz"))
OS_TYPES = frozenset(("hvm", "xen", "linux", "exe", "uml", "xenpvh"))
# virArch names (9.0)
ARCHES = frozenset((
    "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64", "lm32",
    "loongarch64", "m68k", "microblaze", "microblazeel", "mips", "mipsel", "mips64",
    "mips64el", "openrisc", "parisc", "parisc64", "ppc", "ppcle", "ppc64", "ppc64le",
    "ppcemb", "riscv32", "riscv64", "s390", "s390x", "sh4", "sh4eb", "sparc", "sparc64",
    "unicore32", "x86_64", "xtensa", "xtensaeb"))
# virDomainFeature names in libvirt's order, which is also the order they are written in
FEATURES: Mapping[str, int] = MappingProxyType({n: i for i, n in enumerate((
    "acpi", "apic", "pae", "hap", "viridian", "privnet", "hyperv", "kvm", "pvspinlock",
    "capabilities", "pmu", "vmport", "gic", "smm", "ioapic", "hpt", "vmcoreinfo", "htm",
    "nested-hv", "msrs", "ccf-assist", "xen", "cfpc", "sbbc", "ibs", "tcg",
    "async-teardown"))})
# Features whose bare form means state='on' and which are written with their state
TRISTATE_FEATURES = frozenset(("hap", "pmu", "pvspinlock", "vmport", "smm", "vmcoreinfo",
                               "htm", "nested-hv", "ccf-assist"))
LIFECYCLE_ACTIONS = frozenset(("destroy", "restart", "rename-restart", "preserve"))
CRASH_ACTIONS = LIFECYCLE_ACTIONS | {"coredump-destroy", "coredump-restart"}
BOOT_DEVS = frozenset(("fd", "hd", "cdrom", "network"))
CPU_MODES = frozenset(("custom", "host-model", "host-passthrough", "maximum"))
CPU_MATCH = frozenset(("minimum", "exact", "strict"))
CPU_CHECK = frozenset(("none", "partial", "full"))
CPU_POLICIES = frozenset(("force", "require", "optional", "disable", "forbid"))
CLOCK_OFFSETS = frozenset(("utc", "localtime", "variable", "timezone", "absolute"))
TIMER_NAMES = frozenset(("platform", "pit", "rtc", "hpet", "tsc", "kvmclock", "hypervclock",
                         "armvtimer"))
_MODELED = frozenset((
    "name", "uuid", "title", "description", "metadata", "maxMemory", "memory",
    "currentMemory", "vcpu", "os", "features", "cpu", "clock", "on_poweroff", "on_reboot",
    "on_crash", "devices"))


def parse_domain(xml: str | bytes) -> DomainDef:
    """Parse domain XML text. Raises libvirtError with libvirt's code, origin and message."""
    return domain_from_element(parse_document(xml, DOMAIN))


def domain_from_element(root: Any) -> DomainDef:
    """Build a DomainDef from a parsed <domain> element (also used for node files)."""
    first: dict[str, Any] = {}
    extra: list[RawElement] = []
    for c in root:
        t = c.tag
        if t in _MODELED:
            if t not in first:
                first[t] = c
        elif isinstance(t, str):
            extra.append(raw(c))

    vtype = root.get("type")
    if vtype is None:
        raise error(ErrorNumber.INTERNAL_ERROR, D, "missing domain type attribute")
    if vtype not in VIRT_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"invalid domain type {vtype}")

    name_el = first.get("name")
    name = content(name_el) if name_el is not None else ""
    if not name:
        raise fail(ErrorNumber.NO_NAME, D, "missing name information")
    if "/" in name:
        raise xml_error(D, f"name {name} cannot contain '/'")
    d = DomainDef(vtype, name, extra=by_rank(extra, TOP_RANK, UNKNOWN_TOP))

    uuid_el = first.get("uuid")
    if uuid_el is not None:
        text = content(uuid_el)
        if text:
            u = parse_uuid(text)
            if u is None:
                raise error(ErrorNumber.INTERNAL_ERROR, D, "malformed uuid element")
            d.uuid = u

    d.os = _os(first.get("os"), vtype)

    el = first.get("title")
    if el is not None:
        title = content(el)
        if "\n" in title:
            raise xml_error(D, "Domain title can't contain newlines")
        d.title = title or None
    el = first.get("description")
    if el is not None:
        d.description = content(el) or None
    el = first.get("metadata")
    if el is not None:
        d.metadata = _metadata(el)

    _memory(d, first)
    _vcpu(d, first.get("vcpu"))

    el = first.get("features")
    if el is not None:
        d.features = _features(el)
    d.on_poweroff = _lifecycle(first.get("on_poweroff"), "on_poweroff", LIFECYCLE_ACTIONS)
    d.on_reboot = _lifecycle(first.get("on_reboot"), "on_reboot", LIFECYCLE_ACTIONS)
    d.on_crash = _lifecycle(first.get("on_crash"), "on_crash", CRASH_ACTIONS)
    el = first.get("clock")
    if el is not None:
        d.clock = _clock(el)
    el = first.get("cpu")
    if el is not None:
        d.cpu = _cpu(el)
    el = first.get("devices")
    d.devices = parse_devices(el) if el is not None else DevicesDef()
    return d


def _scaled(el: Any | None, what: str) -> tuple[int | None, str | None]:
    """virParseScaledValue on ./<what>[1]: (value, unit), (None, None) when absent."""
    if el is None:
        return None, None
    text = content(el)
    if not text:
        return None, None
    v = parse_ull(text)
    if v is None:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value '{text}' for element or attribute './{what}[1]'")
    return v, el.get("unit")


def _memory(d: DomainDef, first: dict[str, Any]) -> None:
    el = first.get("memory")
    v, unit = _scaled(el, "memory")
    if v is not None:
        d.memory = memory_to_kib(v, unit)
    if el is not None:
        d.memory_dump_core = tristate_switch(el, "dumpCore")
    el = first.get("maxMemory")
    v, unit = _scaled(el, "maxMemory")
    if v is not None:
        d.max_memory = memory_to_kib(v, unit)
    if el is not None:
        d.max_memory_slots = uint_attr(el, "slots")
    v, unit = _scaled(first.get("currentMemory"), "currentMemory")
    if v is not None:
        d.current_memory = memory_to_kib(v, unit)


def _vcpu(d: DomainDef, el: Any | None) -> None:
    if el is None:
        return
    n = parse_uint(content(el))
    if n is None:
        raise xml_error(D, "maximum vcpus count must be an integer")
    d.vcpu = n
    d.vcpu_current = uint_attr(el, "current")
    d.vcpu_placement = enum_attr(el, "placement", ("static", "auto"))
    cpuset = el.get("cpuset")
    if cpuset is not None:
        bits = parse_bitmap(cpuset)
        if bits is None:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE,
                        f"Failed to parse bitmap '{cpuset}'")
        d.vcpu_cpuset = format_bitmap(bits) or None
    if d.vcpu_current is not None and d.vcpu_current > n:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D,
                    "maximum vCPU count must not be less than current vCPU count")
    if d.vcpu_current == n:
        d.vcpu_current = None  # all vCPUs online: libvirt does not write current=


# Which <os> children libvirt reads for which OS types (virDomainDefParseBootOptions):
# the rest are ignored, as libvirt ignores them.
_KERNEL_OS = frozenset(("xen", "xenpvh", "hvm", "uml"))
_KERNEL_TAGS = frozenset(("kernel", "initrd", "cmdline", "dtb", "root"))
_INIT_TAGS = frozenset(("init", "initarg", "initenv", "initdir", "inituser", "initgroup"))
_HVM_TAGS = frozenset(("boot", "bootmenu", "bios", "smbios", "acpi"))
_LOADER_TAGS = frozenset(("loader", "nvram"))


def _os(el: Any | None, vtype: str) -> OSDef:
    typ = None
    children: list[Any] = []
    if el is not None:
        children = [c for c in el if isinstance(c.tag, str)]
        for c in children:
            if c.tag == "type":
                typ = c
                break
    ostype = content(typ) if typ is not None else ""
    if not ostype:
        raise xml_error(D, "an os <type> must be specified")
    if ostype not in OS_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown OS type '{ostype}'")
    assert el is not None and typ is not None
    if ostype == "linux" and vtype == "xen":
        ostype = "xen"  # libvirt's back-compat: Xen PV guests were once called "linux"
    arch = typ.get("arch")
    if arch is not None and arch not in ARCHES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"Unknown architecture {arch}")
    os = OSDef(ostype, arch, typ.get("machine"), el.get("firmware"))
    kernel_ok = ostype in _KERNEL_OS
    seen: set[str] = set()
    extra: list[RawElement] = []
    for c in children:
        t = c.tag
        if t == "type":
            continue
        if t in _HVM_TAGS and ostype != "hvm" or t in _INIT_TAGS and ostype != "exe" \
                or (t in _KERNEL_TAGS or t in _LOADER_TAGS) and not kernel_ok:
            continue
        if t == "boot":
            dev = c.get("dev")
            if dev is None:
                raise error(ErrorNumber.INTERNAL_ERROR, D, "missing boot device")
            enum_attr(c, "dev", BOOT_DEVS)
            if len(os.boot) < 4:  # VIR_DOMAIN_BOOT_LAST: later ones are ignored
                os.boot.append(dev)
        elif t in seen:
            continue
        elif t in _KERNEL_TAGS or t == "init":
            seen.add(t)
            setattr(os, t, content(c) or None)
        elif t == "loader":
            seen.add(t)
            os.loader = LoaderDef(content(c) or None, attrs_of(c, frozenset()))
        elif t == "bootmenu":
            seen.add(t)
            os.bootmenu = enum_attr(c, "enable", ("yes", "no"))
            if os.bootmenu == "yes":
                os.bootmenu_timeout = uint_attr(c, "timeout")
        else:
            if t not in ("initarg", "initenv"):
                seen.add(t)
            extra.append(raw(c))
    os.extra = by_rank(extra, OS_RANK)
    if ostype == "exe" and not os.init:
        raise xml_error(D, "init binary must be specified")
    return os


def _metadata(el: Any) -> str:
    """libvirt keeps namespaced children only, the first per namespace (virXMLNodeSanitizeNamespaces)."""
    seen: set[str] = set()
    for c in list(el):
        ns = etree.QName(c).namespace if isinstance(c.tag, str) else None
        if ns is None or ns in seen:
            el.remove(c)
        else:
            seen.add(ns)
    if len(el) == 0 and not (el.text or "").strip():
        el.text = None
    # Serialize one level down inside a scratch parent so libxml2's formatter indents
    # the children exactly as libvirt's xmlNodeDump(level=1) does.
    holder = etree.Element("x")
    holder.append(el)
    text: str = etree.tostring(holder, encoding="unicode", pretty_print=True)
    return text[text.index("\n") + 3:text.rindex("</x>") - 1]


def _features(el: Any) -> list[FeatureDef]:
    feats: dict[str, FeatureDef] = {}
    for c in el:
        name = c.tag
        if not isinstance(name, str):
            continue
        if name not in FEATURES:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unexpected feature '{name}'")
        if name in feats:
            continue
        state = None
        if name in TRISTATE_FEATURES:
            state = tristate_switch(c, "state") or "on"
        feats[name] = FeatureDef(name, state, attrs_of(c, frozenset(("state",))),
                                 [raw(x) for x in c])
    return sorted(feats.values(), key=lambda f: FEATURES[f.name])


def _lifecycle(el: Any | None, what: str, allowed: frozenset[str]) -> str | None:
    if el is None:
        return None
    v = content(el)
    if not v:
        return None
    if v not in allowed:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown {what} action: {v}")
    return v


def _clock(el: Any) -> ClockDef:
    offset = el.get("offset", "utc")
    if offset not in CLOCK_OFFSETS:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, D, f"unknown clock offset '{offset}'")
    ck = ClockDef(offset)
    adj = el.get("adjustment")
    if offset in ("utc", "localtime"):
        if adj is not None and adj != "reset":
            # a numeric adjustment turns the offset into variable (virDomainDefParseClock)
            ck.offset, ck.basis = "variable", offset
            ck.adjustment = _llong(adj)
        else:
            ck.adjustment = adj
    elif offset == "variable":
        ck.adjustment = _llong(adj) if adj is not None else "0"
        ck.basis = enum_attr(el, "basis", ("utc", "localtime")) or "utc"
    elif offset == "timezone":
        tz = el.get("timezone")
        if tz is None:
            raise xml_error(D, "missing 'timezone' attribute for clock with offset='timezone'")
        ck.timezone = tz
    else:
        ck.start = el.get("start")
    for c in el:
        if c.tag == "timer":
            ck.timers.append(_timer(c))
    return ck


def _llong(s: str) -> str:
    v = parse_llong(s)
    return "0" if v is None else str(v)  # libvirt ignores an unparsable adjustment


def _timer(el: Any) -> TimerDef:
    name = el.get("name")
    if name is None:
        raise xml_error(D, "missing timer name")
    if name not in TIMER_NAMES:
        raise xml_error(ErrorDomain.XML,
                        f"Invalid value for attribute 'name' in element 'timer': '{name}'.")
    return TimerDef(
        name,
        enum_attr(el, "present", ("yes", "no")),
        enum_attr(el, "tickpolicy", ("delay", "catchup", "merge", "discard")),
        enum_attr(el, "track", ("boot", "guest", "wall", "realtime")),
        ull_attr(el, "frequency"),
        enum_attr(el, "mode", ("auto", "native", "emulate", "paravirt", "smpsafe")),
        [raw(x) for x in el],
    )


def _cpu(el: Any) -> CPUDef:
    """virCPUDefParseXML for a guest CPU (src/conf/cpu_conf.c)."""
    C = ErrorDomain.CPU
    mode = el.get("mode")
    if mode is not None and mode not in CPU_MODES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, C, f"Invalid mode attribute '{mode}'")
    cpu = CPUDef(mode or "custom")
    cpu.migratable = tristate_switch(el, "migratable")
    if cpu.migratable is not None and cpu.mode not in ("host-passthrough", "maximum"):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, C, "Attribute migratable is only allowed "
                    "for 'host-passthrough' / 'maximum' CPU mode")
    cpu.match = enum_attr(el, "match", CPU_MATCH) or "exact"
    cpu.check = enum_attr(el, "check", CPU_CHECK)
    model = topology = vendor = None
    feats: list[Any] = []
    extra: list[RawElement] = []
    for c in el:
        t = c.tag
        if t == "model":
            model = model if model is not None else c
        elif t == "topology":
            topology = topology if topology is not None else c
        elif t == "vendor":
            vendor = vendor if vendor is not None else c
        elif t == "feature":
            feats.append(c)
        elif isinstance(t, str):
            extra.append(raw(c))
    cpu.extra = by_rank(extra, CPU_RANK)
    if model is not None:
        cpu.model = content(model) or None
        if cpu.mode not in ("host-passthrough", "maximum"):
            fb = model.get("fallback")
            if fb is not None and fb not in ("allow", "forbid"):
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, C, "Invalid fallback attribute")
            cpu.fallback = fb
            cpu.vendor_id = model.get("vendor_id")
    if cpu.model and cpu.fallback is None:
        cpu.fallback = "allow"
    if vendor is not None:
        cpu.vendor = content(vendor) or None
        if cpu.vendor and not cpu.model:
            raise xml_error(C, "CPU vendor specified without CPU model")
    if topology is not None:
        cpu.sockets = uint_attr(topology, "sockets", required=True, nonzero=True)
        cpu.dies = uint_attr(topology, "dies", nonzero=True) or 1
        cpu.cores = uint_attr(topology, "cores", required=True, nonzero=True)
        cpu.threads = uint_attr(topology, "threads", required=True, nonzero=True)
    if feats and not cpu.model and cpu.mode == "custom":
        raise xml_error(C, "Non-empty feature list specified without CPU model")
    names: set[str] = set()
    for f in feats:
        policy = f.get("policy", "require")
        if policy not in CPU_POLICIES:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, C, "Invalid CPU feature policy")
        fname = f.get("name")
        if not fname:
            raise xml_error(C, "Invalid CPU feature name")
        if fname in names:
            raise xml_error(C, f"CPU feature '{fname}' specified more than once")
        names.add(fname)
        cpu.features.append(CPUFeatureDef(fname, policy))
    return cpu
