"""Host and hypervisor commands: nodeinfo, capabilities, domcapabilities, freecell,
hostname, maxvcpus, sysinfo, uri, version."""
from __future__ import annotations

from ..errors import libvirtError
from .cmd_domain import unsupported
from .control import Control
from .options import bool_opt, command, int_opt, string_opt
from .parser import ParsedCommand
from .xmlout import parse_xml

_HOST = "host"


def _version(number: int) -> str:
    return f"{number // 1000000}.{number // 1000 % 1000}.{number % 1000}"


@command("capabilities", group=_HOST, help="capabilities",
         desc="Returns capabilities of hypervisor/driver.")
def cmd_capabilities(ctl: Control, pc: ParsedCommand) -> bool:
    with ctl.failing("failed to get capabilities"):
        caps = ctl.c.get_capabilities()
    ctl.print(f"{caps}\n")
    return True


@command("domcapabilities", group=_HOST, help="domain capabilities",
         desc="Returns capabilities of emulator with respect to host and libvirt.",
         opts=[string_opt("virttype", "virtualization type (/domain/@type)"),
               string_opt("emulatorbin", "path to emulator binary (/domain/devices/emulator)"),
               string_opt("arch", "domain architecture (/domain/os/type/@arch)"),
               string_opt("machine", "machine type (/domain/os/type/@machine)")])
def cmd_domcapabilities(ctl: Control, pc: ParsedCommand) -> bool:
    virttype = ctl.opt_string(pc, "virttype")
    emulatorbin = ctl.opt_string(pc, "emulatorbin")
    arch = ctl.opt_string(pc, "arch")
    machine = ctl.opt_string(pc, "machine")
    with ctl.failing("failed to get emulator capabilities"):
        caps = ctl.c.get_domain_capabilities(emulatorbin, arch, machine, virttype, 0)
    ctl.print(f"{caps}\n")
    return True


@command("freecell", group=_HOST, help="NUMA free memory",
         desc="display available free memory for the NUMA cell.",
         opts=[int_opt("cellno", "NUMA cell number"),
               bool_opt("all", "show free memory for all NUMA cells")])
def cmd_freecell(ctl: Control, pc: ParsedCommand) -> bool:
    show_all, has_cell = pc.flag("all"), pc.has("cellno")
    ctl.exclusive_var(show_all, "all", has_cell, "cellno")
    cell = ctl.opt_int(pc, "cellno") if has_cell else None
    c = ctl.c
    if show_all:
        try:
            caps = c.get_capabilities()
        except libvirtError as e:
            ctl.save_error(e)
            raise ctl.fail("unable to get node capabilities") from None
        root = parse_xml(caps)
        ids = []
        for node in root.xpath("/capabilities/host/topology/cells/cell"):
            text = node.get("id") or ""
            if not text.isdigit():
                raise ctl.fail("conversion from string failed")
            ids.append(int(text))
        total = 0
        frees = []
        for ident in ids:
            try:
                cells = c.get_cells_free_memory(ident, 1)
            except libvirtError as e:
                ctl.save_error(e)
                cells = []
            if len(cells) != 1:
                raise ctl.fail(f"failed to get free memory for NUMA node number: {ident}")
            frees.append(int(cells[0]))
        for ident, free in zip(ids, frees):
            ctl.print(f"{ident:5d}: {free // 1024:10d} KiB\n")
            total += free
        ctl.print_extra("--------------------\n")
        ctl.print_extra(f"{'Total':>5}: {total // 1024:10d} KiB\n")
    elif cell is not None:
        cells = ctl.call(c.get_cells_free_memory, cell, 1)
        if len(cells) != 1:
            return False
        ctl.print(f"{cell}: {int(cells[0]) // 1024} KiB\n")
    else:
        memory = ctl.call(c.get_free_memory)
        if memory == 0:
            return False
        ctl.print(f"Total: {memory // 1024} KiB\n")
    return True


@command("hostname", group=_HOST, help="print the hypervisor hostname")
def cmd_hostname(ctl: Control, pc: ParsedCommand) -> bool:
    with ctl.failing("failed to get hostname"):
        name = ctl.c.get_hostname()
    ctl.print(f"{name}\n")
    return True


@command("maxvcpus", group=_HOST, help="connection vcpu maximum",
         desc="Show maximum number of virtual CPUs for guests on this connection.",
         opts=[string_opt("type", "domain type")])
def cmd_maxvcpus(ctl: Control, pc: ParsedCommand) -> bool:
    kind = ctl.opt_string(pc, "type")
    vcpus = -1
    try:
        caps = ctl.c.get_domain_capabilities(None, None, None, kind, 0)
    except libvirtError:
        ctl.reset_error()
    else:
        text = str(parse_xml(caps).xpath("string(//vcpu[1]/@max)"))
        if text.isdigit():
            vcpus = int(text)
    if vcpus < 0:
        vcpus = int(ctl.call(ctl.c.get_max_vcpus, kind))
    ctl.print(f"{vcpus}\n")
    return True


@command("nodeinfo", group=_HOST, help="node information",
         desc="Returns basic information about the node.")
def cmd_nodeinfo(ctl: Control, pc: ParsedCommand) -> bool:
    with ctl.failing("failed to get node information"):
        info = ctl.c.get_node_info()
    ctl.print(f"{'CPU model:':<20} {info.model}\n")
    ctl.print(f"{'CPU(s):':<20} {info.cpus}\n")
    if info.mhz:
        ctl.print(f"{'CPU frequency:':<20} {info.mhz} MHz\n")
    ctl.print(f"{'CPU socket(s):':<20} {info.sockets}\n")
    ctl.print(f"{'Core(s) per socket:':<20} {info.cores}\n")
    ctl.print(f"{'Thread(s) per core:':<20} {info.threads}\n")
    ctl.print(f"{'NUMA cell(s):':<20} {info.nodes}\n")
    ctl.print(f"{'Memory size:':<20} {info.memory} KiB\n")
    return True


@command("sysinfo", group=_HOST, help="print the hypervisor sysinfo",
         desc="output an XML string for the hypervisor sysinfo, if available")
def cmd_sysinfo(ctl: Control, pc: ParsedCommand) -> bool:
    # pyvirt has no virConnectGetSysinfo yet
    ctl.save_error(unsupported("virConnectGetSysinfo"))
    raise ctl.fail("failed to get sysinfo")


@command("uri", group=_HOST, help="print the hypervisor canonical URI")
def cmd_uri(ctl: Control, pc: ParsedCommand) -> bool:
    with ctl.failing("failed to get URI"):
        uri = ctl.c.get_uri()
    ctl.print(f"{uri}\n")
    return True


@command("version", group=_HOST, help="show version",
         desc="Display the system version information.",
         opts=[bool_opt("daemon", "report daemon version too")])
def cmd_version(ctl: Control, pc: ParsedCommand) -> bool:
    import pyvirt
    lib = pyvirt.get_version()
    c = ctl.c
    ctl.print(f"Compiled against library: libvirt {_version(lib)}\n")
    with ctl.failing("failed to get hypervisor type"):
        hv_type = c.get_type()
    ctl.print(f"Using library: libvirt {_version(lib)}\n")
    ctl.print(f"Using API: {hv_type} {_version(lib)}\n")
    with ctl.failing("failed to get the hypervisor version"):
        hv_version = c.get_version()
    if hv_version == 0:
        ctl.print(f"Cannot extract running {hv_type} hypervisor version\n")
    else:
        ctl.print(f"Running hypervisor: {hv_type} {_version(hv_version)}\n")
    if pc.flag("daemon"):
        try:
            daemon = c.get_lib_version()
        except libvirtError as e:
            ctl.save_error(e)
            ctl.error("failed to get the daemon version")
        else:
            ctl.print(f"Running against daemon: {_version(daemon)}\n")
    return True
