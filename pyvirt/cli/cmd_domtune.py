"""Domain sizing commands: setmem, setmaxmem, setvcpus, vcpucount, vcpuinfo."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import libvirtError
from .cmd_domain import unsupported
from .cmd_dommon import DOMAIN_OPT
from .control import CommandFailed, Control
from .fmt import bitmap_format, kv
from .names import vcpu_state
from .options import bool_opt, command, int_opt
from .parser import ParsedCommand
from .xmlout import parse_xml

if TYPE_CHECKING:
    from .._api import Domain

_DOM = "domain"
# virDomainModificationImpact / virDomainMemoryModFlags / virDomainVcpuFlags
_CURRENT, _LIVE, _CONFIG, _MAXIMUM, _GUEST, _HOTPLUGGABLE = 0, 1, 2, 4, 8, 16
_NO_SUPPORT, _INVALID_ARG = 3, 8
_ULLONG_MAX = 2**64 - 1


def _impact(ctl: Control, pc: ParsedCommand) -> int:
    """--config/--live/--current as flags, refusing --current with either other."""
    ctl.exclusive_var(pc.flag("current"), "current", pc.flag("live"), "live")
    ctl.exclusive_var(pc.flag("current"), "current", pc.flag("config"), "config")
    return (_CONFIG if pc.flag("config") else 0) | (_LIVE if pc.flag("live") else 0)


_IMPACT_OPTS = [bool_opt("config", "affect next boot"), bool_opt("live", "affect running domain"),
                bool_opt("current", "affect current domain")]


def _kibibytes(ctl: Control, pc: ParsedCommand) -> int:
    size = ctl.opt_scaled(pc, "size", 1024, _ULLONG_MAX)
    assert size is not None  # a required option
    return -(-size // 1024)  # round up to whole KiB, as VIR_DIV_UP


@command("setmem", group=_DOM, help="change memory allocation",
         desc="Change the current memory allocation in the guest domain.",
         opts=[DOMAIN_OPT,
               int_opt("size", "new memory size, as scaled integer (default KiB)", required=True),
               *_IMPACT_OPTS])
def cmd_setmem(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _impact(ctl, pc)
    dom = ctl.domain(pc)
    kib = _kibibytes(ctl, pc)
    # no option at all means virDomainSetMemory, which acts on the live domain
    ctl.call(dom.set_memory, kib, flags if (flags or pc.flag("current")) else _LIVE)
    return True


@command("setmaxmem", group=_DOM, help="change maximum memory limit",
         desc="Change the maximum memory allocation limit in the guest domain.",
         opts=[DOMAIN_OPT,
               int_opt("size", "new maximum memory size, as scaled integer (default KiB)",
                       required=True),
               *_IMPACT_OPTS])
def cmd_setmaxmem(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _impact(ctl, pc)
    dom = ctl.domain(pc)
    kib = _kibibytes(ctl, pc)
    with ctl.failing("Unable to change MaxMemorySize"):
        if not flags and not pc.flag("current"):
            dom.set_max_memory(kib)
        else:
            dom.set_memory(kib, flags | _MAXIMUM)
    return True


@command("setvcpus", group=_DOM, help="change number of virtual CPUs",
         desc="Change the number of virtual CPUs in the guest domain.",
         opts=[DOMAIN_OPT, int_opt("count", "number of virtual CPUs", required=True),
               bool_opt("maximum", "set maximum limit on next boot"),
               *_IMPACT_OPTS,
               bool_opt("guest", "modify cpu state in the guest"),
               bool_opt("hotpluggable", "make added vcpus hot(un)pluggable")])
def cmd_setvcpus(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _impact(ctl, pc)
    ctl.exclusive_var(pc.flag("guest"), "guest", pc.flag("config"), "config")
    if pc.flag("maximum") and not pc.flag("config"):
        raise ctl.fail("Option --config is required by option --maximum")
    for name, bit in (("guest", _GUEST), ("maximum", _MAXIMUM), ("hotpluggable", _HOTPLUGGABLE)):
        if pc.flag(name):
            flags |= bit
    dom = ctl.domain(pc)
    count = ctl.opt_uint(pc, "count")
    if not count:
        raise ctl.fail("Can't set 0 processors for a VM")
    # no option at all means virDomainSetVcpus, which acts on the live domain
    ctl.call(dom.set_vcpus, count, flags if (flags or pc.flag("current")) else _LIVE)
    return True


def _count(ctl: Control, dom: Domain, flags: int, check_state: bool) -> int:
    """vCPUs for `flags`, with virsh's fallbacks for drivers without the flags call.
    -1: not applicable (inactive for --live, transient for --config) when check_state."""
    if check_state:
        if flags & _LIVE and not ctl.call(dom.is_active):
            return -1
        if flags & _CONFIG and not ctl.call(dom.is_persistent):
            return -1
    try:
        return int(dom.vcpus_flags(flags))
    except libvirtError as e:
        if e.code not in (_NO_SUPPORT, _INVALID_ARG):
            ctl.save_error(e)
            raise CommandFailed() from None
    if flags & _GUEST:
        raise ctl.fail("Failed to retrieve vCPU count from the guest")
    if not flags & (_LIVE | _CONFIG) and ctl.call(dom.is_active):
        flags |= _LIVE
    ctl.reset_error()
    if flags & _LIVE:
        if flags & _MAXIMUM:
            return int(ctl.call(dom.max_vcpus))
        return int(ctl.call(dom.info).nr_virt_cpu)
    root = parse_xml(ctl.call(dom.xml_desc, 2))  # VIR_DOMAIN_XML_INACTIVE
    path = "string(/domain/vcpu)" if flags & _MAXIMUM else "string(/domain/vcpu/@current)"
    text = str(root.xpath(path))
    if not text.isdigit():
        which = "maximum" if flags & _MAXIMUM else "current"
        raise ctl.fail(f"Failed to retrieve {which} vcpu count")
    return int(text)


@command("vcpucount", group=_DOM, help="domain vcpu counts",
         desc="Returns the number of virtual CPUs used by the domain.",
         opts=[DOMAIN_OPT,
               bool_opt("maximum", "get maximum count of vcpus"),
               bool_opt("active", "get number of currently active vcpus"),
               bool_opt("live", "get value from running domain"),
               bool_opt("config", "get value to be used on next boot"),
               bool_opt("current", "get value according to current domain state"),
               bool_opt("guest", "retrieve vcpu count from the guest instead of the hypervisor")])
def cmd_vcpucount(ctl: Control, pc: ParsedCommand) -> bool:
    maximum, active, config = pc.flag("maximum"), pc.flag("active"), pc.flag("config")
    live, current, guest = pc.flag("live"), pc.flag("current"), pc.flag("guest")
    show_all = not (maximum or active or current or config or live or guest)
    # before 0.9.4 --current meant the opposite of --maximum; keep '--current --live'
    # meaning '--active --live' as virsh does
    if not maximum and not active and current:
        current = False
    ctl.exclusive_var(live, "live", config, "config")
    ctl.exclusive_var(current, "current", live, "live")
    ctl.exclusive_var(current, "current", config, "config")
    ctl.exclusive_var(active, "active", maximum, "maximum")
    ctl.exclusive_var(guest, "guest", config, "config")
    flags = ((_LIVE if live else 0) | (_CONFIG if config else 0)
             | (_MAXIMUM if maximum else 0) | (_GUEST if guest else 0))
    dom = ctl.domain(pc)
    if not show_all:
        count = _count(ctl, dom, flags, False)
        if count < 0:
            return False
        ctl.print(f"{count}\n")
        return True
    conf_max = _count(ctl, dom, _CONFIG | _MAXIMUM, True)
    conf_cur = _count(ctl, dom, _CONFIG, True)
    live_max = _count(ctl, dom, _LIVE | _MAXIMUM, True)
    live_cur = _count(ctl, dom, _LIVE, True)
    for value, which, state in ((conf_max, "maximum", "config"), (live_max, "maximum", "live"),
                                (conf_cur, "current", "config"), (live_cur, "current", "live")):
        if value > 0:
            ctl.print(f"{which:<12} {state:<12} {value:3d}\n")
    return True


def node_cpu_count(ctl: Control) -> int:
    """How many host CPUs affinity maps cover (virshNodeGetCPUCount)."""
    try:
        return int(ctl.c.get_cpu_map(0).cpus)
    except libvirtError:
        ctl.reset_error()
    info = ctl.call(ctl.c.get_node_info)
    return int(info.nodes * info.sockets * info.cores * info.threads)


@command("vcpuinfo", group=_DOM, help="detailed domain vcpu information",
         desc="Returns basic information about the domain virtual CPUs.",
         opts=[DOMAIN_OPT, bool_opt("pretty", "return human readable output")])
def cmd_vcpuinfo(ctl: Control, pc: ParsedCommand) -> bool:
    dom = ctl.domain(pc)
    maxcpu = node_cpu_count(ctl)
    info = ctl.call(dom.info)
    try:
        vcpus = dom.vcpus()
    except libvirtError as e:
        if int(info.state) != 5:
            ctl.save_error(e)
            return False
        # virsh shows an inactive domain's pinning from virDomainGetVcpuPinInfo, which
        # pyvirt does not have: say so rather than guess the affinity
        ctl.save_error(unsupported("virDomainGetVcpuPinInfo"))
        return False
    for n, v in enumerate(vcpus):
        ctl.print(kv("VCPU:", v.number))
        ctl.print(kv("CPU:", v.cpu))
        ctl.print(kv("State:", vcpu_state(v.state)))
        if v.cpu_time != 0:
            ctl.print(kv("CPU time:", f"{v.cpu_time / 1000000000.0:.1f}s"))
        bits = [bool(b) for b in list(v.affinity)[:maxcpu]]
        bits += [False] * (maxcpu - len(bits))
        if pc.flag("pretty"):
            ctl.print(kv("CPU Affinity:", f"{bitmap_format(bits)} (out of {maxcpu})"))
        else:
            ctl.print(kv("CPU Affinity:", "".join("y" if b else "-" for b in bits)))
        if n < len(vcpus) - 1:
            ctl.print("\n")
    return True
