"""Removing a domain's storage volumes along with it (undefine --storage/--remove-all-storage)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import libvirtError
from .control import Control
from .xmlout import parse_xml

if TYPE_CHECKING:
    from .._api import Domain

__all__ = ["UndefineVolume", "collect_volumes", "remove_volumes"]


@dataclass
class UndefineVolume:
    vol: Any
    source: str
    target: str


def _split(text: str) -> list[str]:
    """vshStringToArray: ',' separates, ',,' is a literal comma."""
    return [p.replace("\0", ",") for p in text.replace(",,", "\0").split(",")]


def collect_volumes(ctl: Control, dom: Domain, running: bool, vol_string: str | None,
                    remove_all: bool) -> list[UndefineVolume]:
    """The volumes backing the domain's disks that the user asked to remove."""
    if running:
        raise ctl.fail("Storage volume deletion is supported only on stopped domains")
    if vol_string and remove_all:
        raise ctl.fail("Specified both --storage and --remove-all-storage")
    xml = ctl.call(dom.xml_desc, 0)
    root = parse_xml(xml)
    wanted: list[str | None] | None = list(_split(vol_string)) if vol_string else None
    found: list[UndefineVolume] = []
    for disk in root.xpath("./devices/disk"):
        target = str(disk.xpath("string(./target/@dev)"))
        source = str(disk.xpath("string(./source/@file|./source/@dir|./source/@name|"
                                "./source/@dev|./source/@volume)"))
        if not source:
            continue
        pool = str(disk.xpath("string(./source/@pool)")) or None
        if wanted is not None:
            for i, item in enumerate(wanted):
                if item is not None and item in (target, source):
                    wanted[i] = None
                    break
            else:
                continue
        vol = None
        if pool:
            try:
                storage_pool = ctl.c.lookup_storage_pool_by_name(pool)
            except libvirtError:
                ctl.error(f"Storage pool '{pool}' for volume '{target}' not found.")
                continue
            try:
                vol = storage_pool.lookup_volume_by_name(source)
            except libvirtError:
                vol = None
        else:
            try:
                vol = ctl.c.lookup_storage_vol_by_path(source)
            except libvirtError:
                vol = None
        if vol is None:
            ctl.error(f"Storage volume '{target}'({source}) is not managed by libvirt. "
                      "Remove it manually.\n")
            continue
        found.append(UndefineVolume(vol, source, target))
    missing = [item for item in (wanted or []) if item is not None]
    for item in missing:
        ctl.error(f"Volume '{item}' was not found in domain's definition.\n")
    if missing:
        raise ctl.fail()
    return found


def remove_volumes(ctl: Control, vols: list[UndefineVolume], wipe: bool,
                   with_snapshots: bool) -> bool:
    ok = True
    flags = 2 if with_snapshots else 0   # VIR_STORAGE_VOL_DELETE_WITH_SNAPSHOTS
    for v in vols:
        if wipe:
            ctl.print_extra(f"Wiping volume '{v.target}'({v.source}) ... ")
            ctl.flush()
            try:
                v.vol.wipe(0)
            except libvirtError as e:
                ctl.save_error(e)
                ctl.error("Failed! Volume not removed.")
                ok = False
                continue
            ctl.print_extra("Done.\n")
        try:
            v.vol.delete(flags)
        except libvirtError as e:
            ctl.save_error(e)
            ctl.error(f"Failed to remove storage volume '{v.target}'({v.source})")
            ok = False
        else:
            ctl.print_extra(f"Volume '{v.target}'({v.source}) removed.\n")
    return ok
