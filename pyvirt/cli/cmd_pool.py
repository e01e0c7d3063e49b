"""Storage pool commands: pool-list, pool-info, pool-dumpxml, pool-define, pool-create,
pool-start, pool-destroy, pool-undefine, pool-refresh, pool-autostart, pool-build,
pool-delete, pool-uuid, pool-name."""
from __future__ import annotations

from ..errors import libvirtError
from .control import BY_NAME, BY_UUID, Control
from .fmt import Table, format_capacity, kv
from .names import pool_state
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand
from .xmlout import dump_xml

_POOL = "pool"
POOL_OPT = data_opt("pool", "pool name or uuid")
_BUILD_OPTS = [bool_opt("build", "build the pool as normal"),
               bool_opt("no-overwrite", "do not overwrite any existing data"),
               bool_opt("overwrite", "overwrite any existing data")]

# virConnectListAllStoragePoolsFlags
_INACTIVE, _ACTIVE, _PERSISTENT, _TRANSIENT, _AUTOSTART, _NO_AUTOSTART = 1, 2, 4, 8, 16, 32
_TYPE_FLAGS = {"dir": 64, "fs": 128, "netfs": 256, "logical": 512, "disk": 1024,
               "iscsi": 2048, "scsi": 4096, "mpath": 8192, "rbd": 16384, "sheepdog": 32768,
               "gluster": 65536, "zfs": 131072, "vstorage": 262144, "iscsi-direct": 524288}
_RUNNING, _DEGRADED = 2, 3


def _build_flags(ctl: Control, pc: ParsedCommand) -> int:
    """--build/--overwrite/--no-overwrite as virStoragePoolCreateFlags."""
    ctl.exclusive(pc, "overwrite", "no-overwrite")
    return ((1 if pc.flag("build") else 0) | (2 if pc.flag("overwrite") else 0)
            | (4 if pc.flag("no-overwrite") else 0))


@command("pool-autostart", group=_POOL, help="autostart a pool",
         desc="Configure a pool to be automatically started at boot.",
         opts=[POOL_OPT, bool_opt("disable", "disable autostarting")])
def cmd_pool_autostart(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    name = ctl.opt_required(pc, "pool")
    on = not pc.flag("disable")
    verb = "mark" if on else "unmark"
    with ctl.failing(f"failed to {verb} pool {name} as autostarted"):
        pool.set_autostart(on)
    ctl.print_extra(f"Pool {name} {verb}ed as autostarted\n")
    return True


@command("pool-build", group=_POOL, help="build a pool", desc="Build a given pool.",
         opts=[POOL_OPT, bool_opt("no-overwrite", "do not overwrite any existing data"),
               bool_opt("overwrite", "overwrite any existing data")])
def cmd_pool_build(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    name = ctl.opt_required(pc, "pool")
    # virStoragePoolBuildFlags; virsh leaves the pair's consistency to the driver
    flags = (4 if pc.flag("no-overwrite") else 0) | (8 if pc.flag("overwrite") else 0)
    with ctl.failing(f"Failed to build pool {name}"):
        pool.build(flags)
    ctl.print_extra(f"Pool {name} built\n")
    return True


@command("pool-create", group=_POOL, help="create a pool from an XML file",
         desc="Create a pool.",
         opts=[data_opt("file", "file containing an XML pool description"), *_BUILD_OPTS])
def cmd_pool_create(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _build_flags(ctl, pc)
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    with ctl.failing(f"Failed to create pool from {path}"):
        pool = ctl.c.create_storage_pool(xml, flags)
    ctl.print_extra(f"Pool {pool.name} created from {path}\n")
    return True


@command("pool-define", group=_POOL,
         help="define an inactive persistent storage pool or modify an existing persistent "
              "one from an XML file",
         desc="Define or modify a persistent storage pool.",
         opts=[data_opt("file", "file containing an XML pool description"),
               bool_opt("validate", "validate the XML against the schema")])
def cmd_pool_define(ctl: Control, pc: ParsedCommand) -> bool:
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    with ctl.failing(f"Failed to define pool from {path}"):
        pool = ctl.c.define_storage_pool(xml, 1 if pc.flag("validate") else 0)
    ctl.print_extra(f"Pool {pool.name} defined from {path}\n")
    return True


def _simple(verb: str, past: str, method: str, *args: int) -> object:
    """A handler for the commands that look a pool up and call one method on it."""

    def handler(ctl: Control, pc: ParsedCommand) -> bool:
        pool = ctl.pool(pc)
        name = ctl.opt_required(pc, "pool")
        with ctl.failing(f"Failed to {verb} pool {name}"):
            getattr(pool, method)(*args)
        ctl.print_extra(f"Pool {name} {past}\n")
        return True

    return handler


command("pool-delete", group=_POOL, help="delete a pool", desc="Delete a given pool.",
        opts=[POOL_OPT])(_simple("delete", "deleted", "delete", 0))  # type: ignore[arg-type]
command("pool-destroy", group=_POOL, help="destroy (stop) a pool",
        desc="Forcefully stop a given pool. Raw data in the pool is untouched",
        opts=[POOL_OPT])(_simple("destroy", "destroyed", "destroy"))  # type: ignore[arg-type]
command("pool-refresh", group=_POOL, help="refresh a pool", desc="Refresh a given pool.",
        opts=[POOL_OPT])(_simple("refresh", "refreshed", "refresh", 0))  # type: ignore[arg-type]
command("pool-undefine", group=_POOL, help="undefine an inactive pool",
        desc="Undefine the configuration for an inactive pool.",
        opts=[POOL_OPT])(_simple("undefine", "has been undefined", "undefine"))  # type: ignore[arg-type]


@command("pool-dumpxml", group=_POOL, help="pool information in XML",
         desc="Output the pool information as an XML dump to stdout.",
         opts=[POOL_OPT, bool_opt("inactive", "show inactive defined XML"),
               string_opt("xpath", "xpath expression to filter the XML document",
                          named_only=True),
               bool_opt("wrap", "wrap xpath results in an common root element")])
def cmd_pool_dumpxml(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    xml = ctl.call(pool.xml_desc, 1 if pc.flag("inactive") else 0)
    return dump_xml(ctl, xml, pc.string("xpath") or None, pc.flag("wrap"))


def _sizes(info: object, as_bytes: bool) -> tuple[str, str, str]:
    values = (info.capacity, info.allocation, info.available)  # type: ignore[attr-defined]
    if as_bytes:
        return tuple(str(v) for v in values)  # type: ignore[return-value]
    return tuple(format_capacity(v) for v in values)  # type: ignore[return-value]


@command("pool-info", group=_POOL, help="storage pool information",
         desc="Returns basic information about the storage pool.",
         opts=[POOL_OPT, bool_opt("bytes", "Return pool info in bytes")])
def cmd_pool_info(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    ctl.print(kv("Name:", pool.name))
    ctl.print(kv("UUID:", pool.uuid_string))
    try:
        info = pool.info()
    except libvirtError as e:
        ctl.save_error(e)
        return False
    ctl.print(kv("State:", pool_state(info.state)))
    try:
        persistent = "yes" if pool.is_persistent() else "no"
    except libvirtError:
        persistent = "unknown"
    ctl.print(kv("Persistent:", persistent))
    try:
        autostart = "yes" if pool.autostart() else "no"
    except libvirtError:
        autostart = "no autostart"
    ctl.print(kv("Autostart:", autostart))
    if int(info.state) in (_RUNNING, _DEGRADED):
        cap, alloc, avail = _sizes(info, pc.flag("bytes"))
        ctl.print(kv("Capacity:", cap))
        ctl.print(kv("Allocation:", alloc))
        ctl.print(kv("Available:", avail))
    return True


@command("pool-list", group=_POOL, help="list pools", desc="Returns list of pools.", opts=[
    bool_opt("inactive", "list inactive pools"),
    bool_opt("all", "list inactive & active pools"),
    bool_opt("transient", "list transient pools"),
    bool_opt("persistent", "list persistent pools"),
    bool_opt("autostart", "list pools with autostart enabled"),
    bool_opt("no-autostart", "list pools with autostart disabled"),
    string_opt("type", "only list pool of specified type(s) (if supported)"),
    bool_opt("details", "display extended details for pools"),
    bool_opt("uuid", "list UUID of active pools only"),
    bool_opt("name", "list name of active pools only")])
def cmd_pool_list(ctl: Control, pc: ParsedCommand) -> bool:
    details, opt_uuid, opt_name = pc.flag("details"), pc.flag("uuid"), pc.flag("name")
    ctl.exclusive(pc, "details", "uuid")
    ctl.exclusive(pc, "details", "name")
    flags = _ACTIVE
    if pc.flag("inactive"):
        flags = _INACTIVE
    if pc.flag("all"):
        flags = _ACTIVE | _INACTIVE
    for name, bit in (("persistent", _PERSISTENT), ("transient", _TRANSIENT),
                      ("autostart", _AUTOSTART), ("no-autostart", _NO_AUTOSTART)):
        if pc.flag(name):
            flags |= bit
    kinds = ctl.opt_string(pc, "type")
    if kinds is not None:
        for kind in kinds.split(","):
            if kind not in _TYPE_FLAGS:
                raise ctl.fail(f"Invalid pool type '{kind}'")
            flags |= _TYPE_FLAGS[kind]
    try:
        pools = sorted(ctl.c.list_all_storage_pools(flags), key=lambda p: p.name.casefold())
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("Failed to list pools") from None
    if opt_uuid or opt_name:
        for pool in pools:
            line = ""
            if opt_uuid:
                line += f"{pool.uuid_string:<36}" + (" " if opt_name else "")
            if opt_name:
                line += f"{pool.name:<20}"
            ctl.print(line + "\n")
        return True
    columns = ["Name", "State", "Autostart"]
    if details:
        columns += ["Persistent", "Capacity", "Allocation", "Available"]
    table = Table(*columns)
    for pool in pools:
        try:
            autostart = "yes" if pool.autostart() else "no"
        except libvirtError:
            autostart = "no autostart"
        row = [pool.name]
        try:
            info = pool.info()
        except libvirtError as e:
            ctl.save_error(e)
            ctl.error("Could not retrieve pool information")
            row += ["unknown", autostart]
            if details:
                row += ["unknown"] * 4
            table.add(*row)
            continue
        if details:
            try:
                persistent = "yes" if pool.is_persistent() else "no"
            except libvirtError:
                persistent = "unknown"
            if int(info.state) in (_RUNNING, _DEGRADED):
                sizes = list(_sizes(info, False))
            else:
                sizes = ["-", "-", "-"]
            row += [pool_state(info.state), autostart, persistent, *sizes]
        else:
            row += ["active" if ctl.call(pool.is_active) else "inactive", autostart]
        table.add(*row)
    ctl.print(table.render(header=not ctl.quiet))
    return True


@command("pool-name", group=_POOL, help="convert a pool UUID to pool name",
         opts=[data_opt("pool", "pool name or uuid")])
def cmd_pool_name(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc, by=BY_UUID)
    ctl.print(f"{pool.name}\n")
    return True


@command("pool-start", group=_POOL, help="start a (previously defined) inactive pool",
         desc="Start a pool.", opts=[POOL_OPT, *_BUILD_OPTS])
def cmd_pool_start(ctl: Control, pc: ParsedCommand) -> bool:
    flags = _build_flags(ctl, pc)
    pool = ctl.pool(pc)
    name = ctl.opt_required(pc, "pool")
    with ctl.failing(f"Failed to start pool {name}"):
        pool.create(flags)
    ctl.print_extra(f"Pool {name} started\n")
    return True


@command("pool-uuid", group=_POOL, help="convert a pool name to pool UUID",
         opts=[data_opt("pool", "pool name or uuid")])
def cmd_pool_uuid(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc, by=BY_NAME)
    ctl.print(f"{pool.uuid_string}\n")
    return True
