"""Storage pool and volume config XML (<pool>, <volume>): models, parsing, formatting.

Follows libvirt 9.0's storage_conf.c as seen through the test driver:
- sizes are bytes, read with unit suffixes (virStorageSize: default unit bytes,
  refused past 2^63-1) and written with unit='bytes';
- a pool's capacity/allocation/available are runtime values libvirt does not read on
  define; pyvirt reads them when they are well formed so its own output round-trips,
  and `pool_test_defaults` applies the test driver's 100 GiB / 0 / 100 GiB;
- a pool's <source> is always written, even empty; the target path is sanitised
  (virFileSanitizePath: '//' collapsed, trailing '/' dropped); permissions are written
  with the mode in octal ("0%o"), and owner/group of -1 omitted;
- a volume's allocation defaults to its capacity, its format to raw in file-based pools;
  `volume_defaults` gives it the path <pool path>/<name> and that path as key, as the
  test driver does.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from .ids import RandomBytes, new_uuid, parse_uuid
from .props import enum_attr, xml_error
from .safe import POOL, VOLUME, parse_document
from .text import RawElement, content, escape, raw
from .units import LLONG_MAX, parse_int, parse_llong, parse_ull, scale_integer

__all__ = [
    "POOL_TYPES",
    "TEST_POOL_CAPACITY",
    "VOLUME_TYPES",
    "Permissions",
    "StoragePoolDef",
    "StorageVolDef",
    "format_pool",
    "format_volume",
    "load_pool",
    "normalize_pool",
    "parse_pool",
    "parse_volume",
    "pool_from_element",
    "pool_test_defaults",
    "volume_defaults",
    "volume_from_element",
]

S = ErrorDomain.STORAGE
POOL_TYPES = frozenset(("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct",
                        "scsi", "mpath", "rbd", "sheepdog", "gluster", "zfs", "vstorage"))
_NO_TARGET_PATH = frozenset(("rbd", "sheepdog", "gluster", "iscsi-direct"))
_FILE_POOLS = frozenset(("dir", "fs", "netfs", "gluster", "vstorage"))
VOLUME_TYPES = frozenset(("file", "block", "dir", "network", "netdir", "ploop"))
VOLUME_FORMATS = frozenset((
    "none", "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
    "ploop", "cow", "qcow", "qcow2", "qed", "vmdk", "luks"))
_SOURCE_RANK = MappingProxyType({n: i for i, n in enumerate((
    "host", "device", "dir", "adapter", "name", "initiator", "auth", "vendor", "product",
    "format", "protocol"))})
TEST_POOL_CAPACITY = 100 * 1024 ** 3   # testStoragePoolObjSetDefaults: 100 GiB


@dataclass(slots=True)
class Permissions:
    mode: int | None = None
    owner: int | None = None
    group: int | None = None
    label: str | None = None


@dataclass(slots=True)
class StoragePoolDef:
    type: str
    name: str
    uuid: str | None = None
    capacity: int | None = None         # bytes
    allocation: int | None = None
    available: int | None = None
    source: list[RawElement] = field(default_factory=list)   # host, device, dir, format...
    target_path: str | None = None
    target_perms: Permissions | None = None
    extra: list[RawElement] = field(default_factory=list)    # features, refresh, ns


@dataclass(slots=True)
class StorageVolDef:
    name: str
    type: str = "file"
    key: str | None = None
    capacity: int = 0                   # bytes
    allocation: int | None = None
    target_path: str | None = None
    format: str | None = None
    target_perms: Permissions | None = None
    target_extra: list[RawElement] = field(default_factory=list)   # compat, features...
    backing_store: RawElement | None = None
    extra: list[RawElement] = field(default_factory=list)          # source


def _size(el: Any | None, what: str, malformed: str) -> int | None:
    """virStorageSize: a scaled size in bytes, None when the element is absent."""
    if el is None:
        return None
    text = content(el)
    if not text:
        return None
    v = parse_ull(text)
    if v is None:
        raise xml_error(S, malformed)
    return scale_integer(v, el.get("unit"), 1, LLONG_MAX)


def _lenient_size(el: Any | None) -> int | None:
    """A pool's runtime size: libvirt ignores these on define, so a bad one is no error."""
    try:
        return _size(el, "", "")
    except libvirtError:
        return None


def _sanitize_path(path: str) -> str:
    """virFileSanitizePath: collapse runs of '/', drop a trailing one (except '/')."""
    if "//" not in path and not (path.endswith("/") and path != "/"):
        return path
    keep_double = path.startswith("//") and not path.startswith("///")
    parts = [p for p in path.split("/") if p]
    out = "/".join(parts)
    if path.startswith("/"):
        out = ("//" if keep_double else "/") + out
    return out or "/"


def _perms(el: Any) -> Permissions | None:
    """<permissions>; None when it says nothing (libvirt's all -1 / NULL)."""
    p = Permissions()
    for c in el:
        t = c.tag
        if t == "mode":
            text = content(c)
            m = parse_int(text, 8)
            if m is None or m & ~0o777 or m < 0:
                raise xml_error(S, "malformed octal mode")
            p.mode = m
        elif t in ("owner", "group"):
            v = parse_llong(content(c))
            if v is None or v < -1 or v > 0xFFFFFFFF:
                raise xml_error(S, f"malformed {t} element")
            setattr(p, t, None if v == -1 else v)
        elif t == "label":
            p.label = content(c) or None
    return _perms_or_none(p)


def _perms_or_none(p: Permissions | None) -> Permissions | None:
    if p is None or (p.mode is None and p.owner is None and p.group is None and not p.label):
        return None
    return p


def _format_perms(p: Permissions | None, indent: str) -> str:
    if p is None or (p.mode is None and p.owner is None and p.group is None and not p.label):
        return ""
    i2 = indent + "  "
    s = f"{indent}<permissions>\n"
    if p.mode is not None:
        s += f"{i2}<mode>0{p.mode:o}</mode>\n"
    if p.owner is not None:
        s += f"{i2}<owner>{p.owner}</owner>\n"
    if p.group is not None:
        s += f"{i2}<group>{p.group}</group>\n"
    if p.label:
        s += f"{i2}<label>{escape(p.label)}</label>\n"
    return s + f"{indent}</permissions>\n"


# --- pools -----------------------------------------------------------------------------

def parse_pool(xml: str | bytes) -> StoragePoolDef:
    """Parse storage pool XML text (pure: no UUID is made up)."""
    return pool_from_element(parse_document(xml, POOL))


def pool_from_element(root: Any) -> StoragePoolDef:
    ptype = enum_attr(root, "type", POOL_TYPES, required=True)
    assert ptype is not None
    first: dict[str, Any] = {}
    extra: list[RawElement] = []
    for c in root:
        t = c.tag
        if t in ("name", "uuid", "capacity", "allocation", "available", "source", "target"):
            first.setdefault(t, c)
        elif t in ("features", "refresh") or (isinstance(t, str) and t[0] == "{"):
            extra.append(raw(c))
    el = first.get("name")
    name = content(el) if el is not None else ""
    if not name:
        raise xml_error(S, "missing pool source name element")
    if "/" in name:
        raise xml_error(S, f"name {name} cannot contain '/'")
    p = StoragePoolDef(ptype, name, extra=extra)
    el = first.get("uuid")
    if el is not None and content(el):
        p.uuid = parse_uuid(content(el))
        if p.uuid is None:
            raise xml_error(S, "malformed uuid element")
    p.capacity = _lenient_size(first.get("capacity"))
    p.allocation = _lenient_size(first.get("allocation"))
    p.available = _lenient_size(first.get("available"))
    src = first.get("source")
    if src is not None:
        p.source = sorted((raw(c) for c in src if isinstance(c.tag, str)),
                          key=lambda r: _SOURCE_RANK.get(r.tag, 99))
    if ptype == "fs" and not any(r.tag == "device" for r in p.source):
        raise xml_error(S, "missing storage pool source device name")
    if ptype == "netfs":
        if not any(r.tag == "host" for r in p.source):
            raise xml_error(S, "missing storage pool source host name")
        if not any(r.tag == "dir" for r in p.source):
            raise xml_error(S, "missing storage pool source path")
    if ptype == "disk" and not any(r.tag == "format" for r in p.source):
        p.source.append(RawElement("format", "<format type='unknown'/>"))
    tgt = first.get("target")
    if tgt is not None:
        for c in tgt:
            if c.tag == "path" and p.target_path is None:
                p.target_path = _sanitize_path(content(c)) if content(c) else None
            elif c.tag == "permissions" and p.target_perms is None:
                p.target_perms = _perms(c)
    if p.target_path is None and ptype not in _NO_TARGET_PATH:
        raise xml_error(S, "missing storage pool target path")
    return p


def pool_test_defaults(p: StoragePoolDef) -> None:
    """testStoragePoolObjSetDefaults: 100 GiB capacity, nothing allocated, all available."""
    p.capacity = TEST_POOL_CAPACITY
    p.allocation = 0
    p.available = TEST_POOL_CAPACITY


def load_pool(xml: str | bytes, rand: RandomBytes = os.urandom) -> StoragePoolDef:
    """Parse a pool as the test driver's storagePoolDefineXML does (UUID, sizes)."""
    p = parse_pool(xml)
    if p.uuid is None:
        p.uuid = new_uuid(rand)
    pool_test_defaults(p)
    return p


def normalize_pool(p: StoragePoolDef, rand: RandomBytes = os.urandom) -> StoragePoolDef:
    """A copy of `p` with a UUID and the test driver's sizes."""
    p = copy.deepcopy(p)
    if p.uuid is None:
        p.uuid = new_uuid(rand)
    p.target_perms = _perms_or_none(p.target_perms)
    pool_test_defaults(p)
    return p


def format_pool(p: StoragePoolDef, *, inactive: bool = False) -> str:
    """Pool XML for `p` in libvirt's layout (virStoragePoolDefFormatBuf)."""
    out = [f"<pool type='{p.type}'>\n", f"  <name>{escape(p.name)}</name>\n"]
    a = out.append
    if p.uuid:
        a(f"  <uuid>{p.uuid}</uuid>\n")
    a(f"  <capacity unit='bytes'>{p.capacity or 0}</capacity>\n")
    a(f"  <allocation unit='bytes'>{p.allocation or 0}</allocation>\n")
    a(f"  <available unit='bytes'>{p.available or 0}</available>\n")
    for r in p.extra:
        if r.tag == "features":
            a(r.format("  "))
    a("  <source>\n")
    for r in p.source:
        a(r.format("    "))
    a("  </source>\n")
    if p.target_path is not None or p.target_perms is not None:
        a("  <target>\n")
        if p.target_path is not None:
            a(f"    <path>{escape(p.target_path)}</path>\n")
        a(_format_perms(p.target_perms, "    "))
        a("  </target>\n")
    for r in p.extra:
        if r.tag != "features":
            a(r.format("  "))
    a("</pool>\n")
    return "".join(out)


# --- volumes ---------------------------------------------------------------------------

def parse_volume(xml: str | bytes, pool_type: str = "dir") -> StorageVolDef:
    """Parse storage volume XML text for a pool of `pool_type` (pure)."""
    return volume_from_element(parse_document(xml, VOLUME), pool_type)


def volume_from_element(root: Any, pool_type: str = "dir") -> StorageVolDef:
    first: dict[str, Any] = {}
    extra: list[RawElement] = []
    for c in root:
        t = c.tag
        if t in ("name", "key", "capacity", "allocation", "target", "backingStore"):
            first.setdefault(t, c)
        elif t == "source":
            extra.append(raw(c))
    el = first.get("name")
    name = content(el) if el is not None else ""
    if not name:
        raise xml_error(S, "missing volume name element")
    vtype = root.get("type")
    if vtype is not None and vtype not in VOLUME_TYPES:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, S, f"unknown volume type '{vtype}'")
    v = StorageVolDef(name, vtype or "file", extra=extra)
    el = first.get("key")
    if el is not None:
        v.key = content(el) or None
    cap = _size(first.get("capacity"), "capacity", "malformed capacity element")
    if cap is None:
        raise xml_error(S, "missing capacity element")
    v.capacity = cap
    # libvirt 9.0 reports a bad allocation with the capacity message (sic)
    alloc = _size(first.get("allocation"), "allocation", "malformed capacity element")
    v.allocation = cap if alloc is None else alloc
    tgt = first.get("target")
    if tgt is not None:
        for c in tgt:
            t = c.tag
            if t == "path" and v.target_path is None:
                v.target_path = content(c) or None
            elif t == "format" and v.format is None:
                fmt = c.get("type")
                if fmt is not None and pool_type in _FILE_POOLS and fmt not in VOLUME_FORMATS:
                    raise error(ErrorNumber.CONFIG_UNSUPPORTED, S,
                                f"unknown volume format type {fmt}")
                v.format = fmt
            elif t == "permissions" and v.target_perms is None:
                v.target_perms = _perms(c)
            elif isinstance(t, str) and t not in ("path", "format", "permissions"):
                v.target_extra.append(raw(c))
    if v.format is None and pool_type in _FILE_POOLS:
        v.format = "raw"
    el = first.get("backingStore")
    if el is not None:
        v.backing_store = raw(el)
    return v


def volume_defaults(v: StorageVolDef, pool: StoragePoolDef) -> None:
    """The test driver's volume placement: <pool path>/<name>, keyed by that path."""
    if v.target_path is None:
        v.target_path = f"{pool.target_path}/{v.name}"
    if v.key is None:
        v.key = v.target_path


def format_volume(v: StorageVolDef) -> str:
    """Volume XML for `v` in libvirt's layout (virStorageVolDefFormat)."""
    out = [f"<volume type='{v.type}'>\n", f"  <name>{escape(v.name)}</name>\n"]
    a = out.append
    if v.key:
        a(f"  <key>{escape(v.key)}</key>\n")
    for r in v.extra:
        a(r.format("  "))
    a(f"  <capacity unit='bytes'>{v.capacity}</capacity>\n")
    alloc = v.capacity if v.allocation is None else v.allocation
    a(f"  <allocation unit='bytes'>{alloc}</allocation>\n")
    a("  <target>\n")
    if v.target_path:
        a(f"    <path>{escape(v.target_path)}</path>\n")
    if v.format:
        a(f"    <format type='{escape(v.format)}'/>\n")
    a(_format_perms(v.target_perms, "    "))
    for r in v.target_extra:
        a(r.format("    "))
    a("  </target>\n")
    if v.backing_store is not None:
        a(v.backing_store.format("  "))
    a("</volume>\n")
    return "".join(out)
