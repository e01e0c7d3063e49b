"""Virtual network commands: net-list, net-info, net-dumpxml, net-define, net-undefine,
net-start, net-destroy, net-create, net-autostart, net-uuid, net-name."""
from __future__ import annotations

from ..errors import libvirtError
from .control import BY_NAME, BY_UUID, Control
from .fmt import Table, kv
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand
from .xmlout import dump_xml

_NET = "network"
NETWORK_OPT = data_opt("network", "network name or uuid")
FILE_OPT = data_opt("file", "file containing an XML network description")
VALIDATE_OPT = bool_opt("validate", "validate the XML against the schema")

# virConnectListAllNetworksFlags
_INACTIVE, _ACTIVE, _PERSISTENT, _TRANSIENT, _AUTOSTART, _NO_AUTOSTART = 1, 2, 4, 8, 16, 32


@command("net-autostart", group=_NET, help="autostart a network",
         desc="Configure a network to be automatically started at boot.",
         opts=[NETWORK_OPT, bool_opt("disable", "disable autostarting")])
def cmd_net_autostart(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    name = ctl.opt_required(pc, "network")
    on = not pc.flag("disable")
    verb = "mark" if on else "unmark"
    with ctl.failing(f"failed to {verb} network {name} as autostarted"):
        net.set_autostart(on)
    ctl.print_extra(f"Network {name} {verb}ed as autostarted\n")
    return True


@command("net-create", group=_NET, help="create a network from an XML file",
         desc="Create a network.", opts=[FILE_OPT, VALIDATE_OPT])
def cmd_net_create(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    with ctl.failing(f"Failed to create network from {path}"):
        net = ctl.c.create_network(xml, 1 if pc.flag("validate") else 0)
    ctl.print_extra(f"Network {net.name} created from {path}\n")
    return True


@command("net-define", group=_NET,
         help="define an inactive persistent virtual network or modify an existing "
              "persistent one from an XML file",
         desc="Define or modify a persistent virtual network.", opts=[FILE_OPT, VALIDATE_OPT])
def cmd_net_define(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    with ctl.failing(f"Failed to define network from {path}"):
        net = ctl.c.define_network(xml, 1 if pc.flag("validate") else 0)
    ctl.print_extra(f"Network {net.name} defined from {path}\n")
    return True


@command("net-destroy", group=_NET, help="destroy (stop) a network",
         desc="Forcefully stop a given network.", opts=[NETWORK_OPT])
def cmd_net_destroy(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    name = ctl.opt_required(pc, "network")
    with ctl.failing(f"Failed to destroy network {name}"):
        net.destroy()
    ctl.print_extra(f"Network {name} destroyed\n")
    return True


@command("net-dumpxml", group=_NET, help="network information in XML",
         desc="Output the network information as an XML dump to stdout.",
         opts=[NETWORK_OPT, bool_opt("inactive", "show inactive defined XML"),
               string_opt("xpath", "xpath expression to filter the XML document",
                          named_only=True),
               bool_opt("wrap", "wrap xpath results in an common root element")])
def cmd_net_dumpxml(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    xml = ctl.call(net.xml_desc, 1 if pc.flag("inactive") else 0)
    return dump_xml(ctl, xml, pc.string("xpath") or None, pc.flag("wrap"))


@command("net-info", group=_NET, help="network information",
         desc="Returns basic information about the network", opts=[NETWORK_OPT])
def cmd_net_info(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    ctl.print(kv("Name:", net.name))
    ctl.print(kv("UUID:", net.uuid_string))
    try:
        ctl.print(kv("Active:", "yes" if net.is_active() else "no"))
    except libvirtError:
        pass
    try:
        persistent = "yes" if net.is_persistent() else "no"
    except libvirtError:
        persistent = "unknown"
    ctl.print(kv("Persistent:", persistent))
    try:
        autostart = "yes" if net.autostart() else "no"
    except libvirtError:
        autostart = "no autostart"
    ctl.print(kv("Autostart:", autostart))
    try:
        bridge = net.bridge_name()
    except libvirtError as e:
        ctl.save_error(e)
    else:
        if bridge:
            ctl.print(kv("Bridge:", bridge))
    return True


@command("net-list", group=_NET, help="list networks", desc="Returns list of networks.", opts=[
    bool_opt("inactive", "list inactive networks"),
    bool_opt("all", "list inactive & active networks"),
    bool_opt("persistent", "list persistent networks"),
    bool_opt("transient", "list transient networks"),
    bool_opt("autostart", "list networks with autostart enabled"),
    bool_opt("no-autostart", "list networks with autostart disabled"),
    bool_opt("uuid", "list uuid's only"),
    bool_opt("name", "list network names only"),
    bool_opt("table", "list table (default)")])
def cmd_net_list(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _ACTIVE
    if pc.flag("inactive"):
        flags = _INACTIVE
    if pc.flag("all"):
        flags = _ACTIVE | _INACTIVE
    for name, bit in (("persistent", _PERSISTENT), ("transient", _TRANSIENT),
                      ("autostart", _AUTOSTART), ("no-autostart", _NO_AUTOSTART)):
        if pc.flag(name):
            flags |= bit
    opt_table, opt_uuid, opt_name = pc.flag("table"), pc.flag("uuid"), pc.flag("name")
    if opt_table + opt_uuid + opt_name > 1:
        raise ctl.fail("Only one argument from --table, --name and --uuid may be specified.")
    try:
        nets = sorted(ctl.c.list_all_networks(flags), key=lambda n: n.name.casefold())
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("Failed to list networks") from None
    if opt_uuid:
        for net in nets:
            ctl.print(f"{net.uuid_string}\n")
        return True
    if opt_name:
        for net in nets:
            ctl.print(f"{net.name}\n")
        return True
    table = Table("Name", "State", "Autostart", "Persistent")
    for net in nets:
        try:
            autostart = "yes" if net.autostart() else "no"
        except libvirtError:
            autostart = "no autostart"
        table.add(net.name, "active" if ctl.call(net.is_active) else "inactive", autostart,
                  "yes" if ctl.call(net.is_persistent) else "no")
    ctl.print(table.render(header=not ctl.quiet))
    return True


@command("net-name", group=_NET, help="convert a network UUID to network name",
         opts=[data_opt("network", "network uuid")])
def cmd_net_name(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc, by=BY_UUID)
    ctl.print(f"{net.name}\n")
    return True


@command("net-start", group=_NET, help="start a (previously defined) inactive network",
         desc="Start a network.", opts=[NETWORK_OPT])
def cmd_net_start(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    name = ctl.opt_required(pc, "network")
    with ctl.failing(f"Failed to start network {name}"):
        net.create()
    ctl.print_extra(f"Network {name} started\n")
    return True


@command("net-undefine", group=_NET, help="undefine a persistent network",
         desc="Undefine the configuration for a persistent network.", opts=[NETWORK_OPT])
def cmd_net_undefine(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc)
    name = ctl.opt_required(pc, "network")
    with ctl.failing(f"Failed to undefine network {name}"):
        net.undefine()
    ctl.print_extra(f"Network {name} has been undefined\n")
    return True


@command("net-uuid", group=_NET, help="convert a network name to network UUID",
         opts=[data_opt("network", "network name")])
def cmd_net_uuid(ctl: Control, pc: ParsedCommand) -> bool:
    net = ctl.network(pc, by=BY_NAME)
    ctl.print(f"{net.uuid_string}\n")
    return True
