"""Storage volume commands: vol-list, vol-info, vol-dumpxml, vol-create, vol-create-as,
vol-delete, vol-path, vol-key, vol-name, vol-pool, vol-wipe, vol-resize."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import libvirtError
from .cmd_domain import unsupported
from .control import BY_UUID, Control
from .fmt import ScaleError, Table, format_capacity, kv, scale_integer
from .names import vol_type
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand
from .xmlout import dump_xml

if TYPE_CHECKING:
    from .._api import StoragePool

_VOL = "volume"
VOL_OPT = data_opt("vol", "vol name, key or path")
POOL_NAMED = string_opt("pool", "pool name or uuid")
_WIPE_ALGORITHMS = ("zero", "nnsa", "dod", "bsi", "gutmann", "schneier", "pfitzner7",
                    "pfitzner33", "random", "trim")
_ULLONG_MAX = 2**64 - 1


def _size(ctl: Control, text: str) -> int:
    """A volume size in bytes ('10M', '1500'); 'Malformed size' otherwise (virshVolSize)."""
    try:
        return scale_integer(text, 1, _ULLONG_MAX)
    except ScaleError as e:
        ctl.save_scale_error(e)
        raise ctl.fail(f"Malformed size {text}") from None


def _lookup_in(ctl: Control, pool: StoragePool, text: str) -> Any:
    """A volume by name in `pool`, else by key, else by path; None if none matches."""
    for fn, arg in ((pool.lookup_volume_by_name, text), (ctl.c.lookup_storage_vol_by_key, text),
                    (ctl.c.lookup_storage_vol_by_path, text)):
        try:
            return fn(arg)
        except libvirtError:
            continue
    return None


@command("vol-create-as", group=_VOL, help="create a volume from a set of args",
         desc="Create a vol.",
         opts=[data_opt("pool", "pool name"), data_opt("name", "name of the volume"),
               data_opt("capacity", "size of the vol, as scaled integer (default bytes)"),
               string_opt("allocation", "initial allocation size, as scaled integer "
                                        "(default bytes)"),
               string_opt("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
               string_opt("backing-vol", "the backing volume if taking a snapshot"),
               string_opt("backing-vol-format", "format of backing volume if taking a snapshot"),
               bool_opt("prealloc-metadata", "preallocate metadata (for qcow2 instead of full "
                                             "allocation)"),
               bool_opt("print-xml", "print XML document, but don't define/create")])
def cmd_vol_create_as(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    name = ctl.opt_required(pc, "name")
    capacity = _size(ctl, ctl.opt_required(pc, "capacity"))
    allocation_text = pc.string("allocation") or None
    allocation = _size(ctl, allocation_text) if allocation_text is not None else None
    fmt = ctl.opt_string(pc, "format")
    backing = ctl.opt_string(pc, "backing-vol")
    backing_fmt = ctl.opt_string(pc, "backing-vol-format")
    lines = ["<volume>", f"  <name>{name}</name>", f"  <capacity>{capacity}</capacity>"]
    if allocation is not None:
        lines.append(f"  <allocation>{allocation}</allocation>")
    if fmt is not None:
        lines += ["  <target>", f"    <format type='{fmt}'/>", "  </target>"]
    if backing is not None:
        snap = _lookup_in(ctl, pool, backing)
        if snap is None:
            ctl.reset_error()
            raise ctl.fail(f"failed to get vol '{backing}'")
        lines += ["  <backingStore>", f"    <path>{ctl.call(snap.path)}</path>"]
        if backing_fmt is not None:
            lines.append(f"    <format type='{backing_fmt}'/>")
        lines.append("  </backingStore>")
    lines.append("</volume>")
    xml = "\n".join(lines) + "\n"
    if pc.flag("print-xml"):
        ctl.print(xml)
        return True
    flags = 1 if pc.flag("prealloc-metadata") else 0   # VIR_STORAGE_VOL_CREATE_PREALLOC_METADATA
    with ctl.failing(f"Failed to create vol {name}"):
        pool.create_volume(xml, flags)
    ctl.print_extra(f"Vol {name} created\n")
    return True


@command("vol-create", group=_VOL, help="create a vol from an XML file", desc="Create a vol.",
         opts=[data_opt("pool", "pool name"),
               data_opt("file", "file containing an XML vol description"),
               bool_opt("prealloc-metadata", "preallocate metadata (for qcow2 instead of full "
                                             "allocation)"),
               bool_opt("validate", "validate the XML against the schema")])
def cmd_vol_create(ctl: Control, pc: ParsedCommand) -> bool:
    flags = (1 if pc.flag("prealloc-metadata") else 0) | (4 if pc.flag("validate") else 0)
    pool = ctl.pool(pc)
    path = ctl.opt_required(pc, "file")
    xml = ctl.read_file(path)
    with ctl.failing(f"Failed to create vol from {path}"):
        vol = pool.create_volume(xml, flags)
    ctl.print_extra(f"Vol {vol.name} created from {path}\n")
    return True


@command("vol-delete", group=_VOL, help="delete a vol", desc="Delete a given vol.",
         opts=[VOL_OPT, POOL_NAMED,
               bool_opt("delete-snapshots", "delete snapshots associated with volume (must be "
                                            "supported by storage driver)")])
def cmd_vol_delete(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    name = ctl.opt_required(pc, "vol")
    with ctl.failing(f"Failed to delete vol {name}"):
        vol.delete(2 if pc.flag("delete-snapshots") else 0)  # DELETE_WITH_SNAPSHOTS
    ctl.print_extra(f"Vol {name} deleted\n")
    return True


@command("vol-dumpxml", group=_VOL, help="vol information in XML",
         desc="Output the vol information as an XML dump to stdout.",
         opts=[VOL_OPT, POOL_NAMED,
               string_opt("xpath", "xpath expression to filter the XML document",
                          named_only=True),
               bool_opt("wrap", "wrap xpath results in an common root element")])
def cmd_vol_dumpxml(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    xml = ctl.call(vol.xml_desc, 0)
    return dump_xml(ctl, xml, pc.string("xpath") or None, pc.flag("wrap"))


@command("vol-info", group=_VOL, help="storage vol information",
         desc="Returns basic information about the storage vol.",
         opts=[VOL_OPT, POOL_NAMED,
               bool_opt("bytes", "sizes are represented in bytes rather than pretty units"),
               bool_opt("physical", "return the physical size of the volume in allocation "
                                    "field")])
def cmd_vol_info(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    ctl.print(kv("Name:", vol.name))
    if pc.flag("physical"):
        # pyvirt has StorageVol.info() but not virStorageVolGetInfoFlags yet
        ctl.save_error(unsupported("virStorageVolGetInfoFlags"))
        return False
    info = ctl.call(vol.info)
    ctl.print(kv("Type:", vol_type(info.type)))
    if pc.flag("bytes"):
        ctl.print(kv("Capacity:", f"{info.capacity} bytes"))
        ctl.print(kv("Allocation:", f"{info.allocation} bytes"))
    else:
        ctl.print(kv("Capacity:", format_capacity(info.capacity)))
        ctl.print(kv("Allocation:", format_capacity(info.allocation)))
    return True


@command("vol-key", group=_VOL, help="returns the volume key for a given volume name or path",
         opts=[data_opt("vol", "volume name or path"), POOL_NAMED])
def cmd_vol_key(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    ctl.print(f"{vol.key}\n")
    return True


@command("vol-list", group=_VOL, help="list vols", desc="Returns list of vols by pool.",
         opts=[data_opt("pool", "pool name or uuid"),
               bool_opt("details", "display extended details for volumes")])
def cmd_vol_list(ctl: Control, pc: ParsedCommand) -> bool:
    pool = ctl.pool(pc)
    try:
        vols = sorted(pool.list_all_volumes(0), key=lambda v: v.name.casefold())
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("Failed to list storage volumes") from None
    details = pc.flag("details")
    table = Table("Name", "Path", "Type", "Capacity", "Allocation") if details \
        else Table("Name", "Path")
    for vol in vols:
        path = ctl.call(vol.path)
        if not details:
            table.add(vol.name, path)
            continue
        try:
            info = vol.info()
        except libvirtError:
            table.add(vol.name, path, "unknown", "unknown", "unknown")
            continue
        table.add(vol.name, path, vol_type(info.type), format_capacity(info.capacity),
                  format_capacity(info.allocation))
    ctl.print(table.render(header=not ctl.quiet))
    return True


@command("vol-name", group=_VOL, help="returns the volume name for a given volume key or path",
         opts=[data_opt("vol", "volume key or path")])
def cmd_vol_name(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc, pooloptname=None, by=BY_UUID)
    ctl.print(f"{vol.name}\n")
    return True


@command("vol-path", group=_VOL, help="returns the volume path for a given volume name or key",
         opts=[data_opt("vol", "volume name or key"), POOL_NAMED])
def cmd_vol_path(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    ctl.print(f"{ctl.call(vol.path)}\n")
    return True


@command("vol-pool", group=_VOL, help="returns the storage pool for a given volume key or path",
         opts=[data_opt("vol", "volume key or path"),
               bool_opt("uuid", "return the pool uuid rather than pool name")])
def cmd_vol_pool(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc, pooloptname=None, by=BY_UUID)
    try:
        pool = vol.pool()
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("failed to get parent pool") from None
    ctl.print(f"{pool.uuid_string if pc.flag('uuid') else pool.name}\n")
    return True


@command("vol-resize", group=_VOL, help="resize a vol",
         desc="Resizes a storage volume. This is safe only for storage volumes not in use by "
              "an active guest.\nSee blockresize for live resizing.",
         opts=[VOL_OPT,
               data_opt("capacity", "new capacity for the vol, as scaled integer (default bytes)"),
               POOL_NAMED,
               bool_opt("allocate", "allocate the new capacity, rather than leaving it sparse"),
               bool_opt("delta", "use capacity as a delta to current size, rather than the "
                                 "new size"),
               bool_opt("shrink", "allow the resize to shrink the volume")])
def cmd_vol_resize(ctl: Control, pc: ParsedCommand) -> bool:
    flags = ((1 if pc.flag("allocate") else 0) | (2 if pc.flag("delta") else 0)
             | (4 if pc.flag("shrink") else 0))
    vol = ctl.vol(pc)
    text = ctl.opt_required(pc, "capacity").lstrip(" \t\n\v\f\r")
    if text.startswith("-"):
        # the API wants a positive size; a negative one is shorthand for --shrink
        if not pc.flag("shrink"):
            raise ctl.fail("negative size requires --shrink")
        text = text[1:]
    capacity = _size(ctl, text)
    how = "by" if pc.flag("delta") else "to"
    with ctl.failing(f"Failed to change size of volume '{vol.name}' {how} {text}"):
        vol.resize(capacity, flags)
    ctl.print_extra(f"Size of volume '{vol.name}' successfully changed {how} {text}\n")
    return True


@command("vol-wipe", group=_VOL, help="wipe a vol",
         desc="Ensure data previously on a volume is not accessible to future reads",
         opts=[VOL_OPT, POOL_NAMED,
               string_opt("algorithm", "perform selected wiping algorithm")])
def cmd_vol_wipe(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    name = ctl.opt_required(pc, "vol")
    algorithm = ctl.opt_string(pc, "algorithm")
    if algorithm is not None and algorithm not in _WIPE_ALGORITHMS:
        raise ctl.fail(f"Unsupported algorithm '{algorithm}'")
    if algorithm not in (None, "zero"):
        # only the zero pattern maps onto virStorageVolWipe, all pyvirt has
        ctl.save_error(unsupported("virStorageVolWipePattern"))
        raise ctl.fail(f"Failed to wipe vol {name}")
    with ctl.failing(f"Failed to wipe vol {name}"):
        vol.wipe(0)
    ctl.print_extra(f"Vol {name} wiped\n")
    return True


