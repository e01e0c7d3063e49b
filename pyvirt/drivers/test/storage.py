"""The test driver's storage pools and volumes (in memory, as libvirt's test driver)."""
from __future__ import annotations

import uuid as _uuid

from ...constants import (ConnectListAllStoragePoolsFlags as PF, ErrorDomain, ErrorNumber,
                          StoragePoolState, StorageVolType, StorageXMLFlags)
from ...errors import error, libvirtError
from ...types import StoragePoolInfo, StorageVolInfo
from ...xml.storage import (format_pool, format_volume, load_pool, parse_volume,
                            volume_defaults)
from ..handles import StoragePoolHandle, StoragePoolRef, StorageVolHandle, StorageVolRef
from ..util import check_flags, invalid
from .node import PoolObj, TestNode, VolObj

T = ErrorDomain.TEST
S = ErrorDomain.STORAGE


def add_pool(node: TestNode, xml: str, active: bool = True) -> PoolObj:
    p = load_pool(xml)
    obj = PoolObj(def_=p, name=p.name, raw_uuid=_uuid.UUID(p.uuid).bytes, active=active)
    node.pools[obj.name] = obj
    return obj


def _no_pool(detail: str) -> libvirtError:
    return error(ErrorNumber.NO_STORAGE_POOL, T, detail)


def _no_vol(detail: str) -> libvirtError:
    return error(ErrorNumber.NO_STORAGE_VOL, T, detail)


def _not_active(p: PoolObj) -> libvirtError:
    return invalid(T, f"storage pool '{p.name}' is not active")


def _still_active(p: PoolObj) -> libvirtError:
    return invalid(T, f"storage pool '{p.name}' is active")


class StorageSlots:
    """Storage-table slots for TestDriver."""

    node: TestNode

    # -- pools ----------------------------------------------------------------------------
    def _pool(self, pool: StoragePoolHandle) -> PoolObj:
        for p in self.node.pools.values():
            if p.raw_uuid == pool.raw_uuid:
                return p
        raise _no_pool(f"no storage pool with matching uuid "
                       f"'{_uuid.UUID(bytes=bytes(pool.raw_uuid))}' ({pool.name})")

    def _active_pool(self, pool: StoragePoolHandle) -> PoolObj:
        p = self._pool(pool)
        if not p.active:
            raise _not_active(p)
        return p

    def connect_list_storage_pools(self) -> list[str]:
        with self.node.lock:
            return sorted(p.name for p in self.node.pools.values() if p.active)

    def connect_num_of_storage_pools(self) -> int:
        return len(self.connect_list_storage_pools())

    def connect_list_defined_storage_pools(self) -> list[str]:
        with self.node.lock:
            return sorted(p.name for p in self.node.pools.values() if not p.active)

    def connect_num_of_defined_storage_pools(self) -> int:
        return len(self.connect_list_defined_storage_pools())

    def connect_list_all_storage_pools(self, flags: int) -> list[StoragePoolRef]:
        check_flags(flags, 0x7FFFF, "testConnectListAllStoragePools", T)
        out = []
        with self.node.lock:
            for p in self.node.pools.values():
                if flags & (PF.ACTIVE | PF.INACTIVE) and not (
                        flags & PF.ACTIVE and p.active or flags & PF.INACTIVE and not p.active):
                    continue
                if flags & (PF.PERSISTENT | PF.TRANSIENT) and not (
                        flags & PF.PERSISTENT and p.persistent or
                        flags & PF.TRANSIENT and not p.persistent):
                    continue
                if flags & (PF.AUTOSTART | PF.NO_AUTOSTART) and not (
                        flags & PF.AUTOSTART and p.autostart or
                        flags & PF.NO_AUTOSTART and not p.autostart):
                    continue
                type_bits = flags & ~0x3F
                if type_bits and not type_bits & _POOL_TYPE_FLAGS.get(p.def_.type, 0):
                    continue
                out.append((p.name, p.raw_uuid))
        return out

    def storage_pool_lookup_by_name(self, name: str) -> StoragePoolRef:
        with self.node.lock:
            p = self.node.pools.get(name)
            if p is None:
                raise _no_pool(f"no storage pool with matching name '{name}'")
            return (p.name, p.raw_uuid)

    def storage_pool_lookup_by_uuid(self, uuid: bytes) -> StoragePoolRef:
        with self.node.lock:
            for p in self.node.pools.values():
                if p.raw_uuid == bytes(uuid):
                    return (p.name, p.raw_uuid)
        raise _no_pool(f"no storage pool with matching uuid '{_uuid.UUID(bytes=bytes(uuid))}'")

    def _add_pool(self, xml: str, *, active: bool, persistent: bool) -> PoolObj:
        p = load_pool(xml)
        raw = _uuid.UUID(p.uuid).bytes
        with self.node.lock:
            old = self.node.pools.get(p.name)
            for o in self.node.pools.values():
                if o.raw_uuid == raw and o.name != p.name:
                    raise error(ErrorNumber.OPERATION_FAILED, S,
                                f"pool '{o.name}' is already defined with uuid {p.uuid}")
            if old is not None:
                if old.raw_uuid != raw:
                    raise error(ErrorNumber.OPERATION_FAILED, S,
                                f"pool '{p.name}' already exists with uuid "
                                f"{_uuid.UUID(bytes=old.raw_uuid)}")
                if active and old.active:
                    raise invalid(S, f"storage pool '{p.name}' is already active")
                old.def_ = p
                old.persistent = old.persistent or persistent
                old.active = old.active or active
                return old
            obj = PoolObj(def_=p, name=p.name, raw_uuid=raw, active=active,
                          persistent=persistent)
            self.node.pools[obj.name] = obj
            return obj

    def storage_pool_define_xml(self, xml: str, flags: int) -> StoragePoolRef:
        check_flags(flags, 1, "testStoragePoolDefineXML", T)
        p = self._add_pool(xml, active=False, persistent=True)
        return (p.name, p.raw_uuid)

    def storage_pool_create_xml(self, xml: str, flags: int) -> StoragePoolRef:
        check_flags(flags, 7, "testStoragePoolCreateXML", T)
        p = self._add_pool(xml, active=True, persistent=False)
        return (p.name, p.raw_uuid)

    def storage_pool_create(self, pool: StoragePoolHandle, flags: int) -> None:
        check_flags(flags, 7, "testStoragePoolCreate", T)
        with self.node.lock:
            p = self._pool(pool)
            if p.active:
                raise invalid(T, f"storage pool '{p.name}' is already active")
            p.active = True

    def storage_pool_build(self, pool: StoragePoolHandle, flags: int) -> None:
        check_flags(flags, 0, "testStoragePoolBuild", T)
        with self.node.lock:
            p = self._pool(pool)
            if p.active:
                raise _still_active(p)

    def storage_pool_destroy(self, pool: StoragePoolHandle) -> None:
        with self.node.lock:
            p = self._active_pool(pool)
            p.active = False
            if not p.persistent:
                del self.node.pools[p.name]

    def storage_pool_delete(self, pool: StoragePoolHandle, flags: int) -> None:
        check_flags(flags, 1, "testStoragePoolDelete", T)
        with self.node.lock:
            p = self._pool(pool)
            if p.active:
                raise _still_active(p)

    def storage_pool_undefine(self, pool: StoragePoolHandle) -> None:
        with self.node.lock:
            p = self._pool(pool)
            if p.active:
                raise _still_active(p)
            del self.node.pools[p.name]

    def storage_pool_refresh(self, pool: StoragePoolHandle, flags: int) -> None:
        check_flags(flags, 0, "testStoragePoolRefresh", T)
        with self.node.lock:
            self._active_pool(pool)

    def storage_pool_get_info(self, pool: StoragePoolHandle) -> StoragePoolInfo:
        with self.node.lock:
            p = self._pool(pool)
            d = p.def_
            if not p.active:   # an inactive pool reports its whole capacity as free
                return StoragePoolInfo(StoragePoolState.INACTIVE, d.capacity, 0, d.capacity)
            return StoragePoolInfo(StoragePoolState.RUNNING, d.capacity, d.allocation,
                                   d.available)

    def storage_pool_get_xml_desc(self, pool: StoragePoolHandle, flags: int) -> str:
        check_flags(flags, StorageXMLFlags.INACTIVE, "testStoragePoolGetXMLDesc", T)
        with self.node.lock:
            return format_pool(self._pool(pool).def_)

    def storage_pool_is_active(self, pool: StoragePoolHandle) -> bool:
        with self.node.lock:
            return self._pool(pool).active

    def storage_pool_is_persistent(self, pool: StoragePoolHandle) -> bool:
        with self.node.lock:
            return self._pool(pool).persistent

    def storage_pool_get_autostart(self, pool: StoragePoolHandle) -> bool:
        with self.node.lock:
            return self._pool(pool).autostart

    def storage_pool_set_autostart(self, pool: StoragePoolHandle, autostart: bool) -> None:
        with self.node.lock:
            p = self._pool(pool)
            if not p.persistent:
                raise error(ErrorNumber.INVALID_ARG, T, "pool has no config file")
            p.autostart = autostart

    # -- volumes (libvirt 9.0's test driver has no resize or wipe: those slots stay empty)
    # ------------------------------------------------------------------------
    def storage_pool_num_of_volumes(self, pool: StoragePoolHandle) -> int:
        with self.node.lock:
            return len(self._active_pool(pool).volumes)

    def storage_pool_list_volumes(self, pool: StoragePoolHandle) -> list[str]:
        with self.node.lock:
            return sorted(self._active_pool(pool).volumes)

    def storage_pool_list_all_volumes(self, pool: StoragePoolHandle,
                                      flags: int) -> list[StorageVolRef]:
        check_flags(flags, 0, "testStoragePoolListAllVolumes", T)
        with self.node.lock:
            p = self._active_pool(pool)
            return [(p.name, v.name, v.key) for v in p.volumes.values()]

    def _vol(self, vol: StorageVolHandle) -> tuple[PoolObj, VolObj]:
        p = self.node.pools.get(vol.pool_name)
        if p is None:
            raise _no_pool(f"no storage pool with matching name '{vol.pool_name}'")
        if not p.active:
            raise _not_active(p)
        v = p.volumes.get(vol.name)
        if v is None:
            raise _no_vol(f"no storage vol with matching name '{vol.name}'")
        return p, v

    def storage_vol_lookup_by_name(self, pool: StoragePoolHandle, name: str) -> StorageVolRef:
        with self.node.lock:
            p = self._active_pool(pool)
            v = p.volumes.get(name)
            if v is None:
                raise _no_vol(f"no storage vol with matching name '{name}'")
            return (p.name, v.name, v.key)

    def _find_vol(self, match: str, what: str) -> StorageVolRef:
        with self.node.lock:
            for p in self.node.pools.values():
                if not p.active:
                    continue
                for v in p.volumes.values():
                    if getattr(v, what) == match:
                        return (p.name, v.name, v.key)
        raise _no_vol(f"no storage vol with matching {what} '{match}'")

    def storage_vol_lookup_by_key(self, key: str) -> StorageVolRef:
        return self._find_vol(key, "key")

    def storage_vol_lookup_by_path(self, path: str) -> StorageVolRef:
        return self._find_vol(path, "path")

    def _create_vol(self, pool: StoragePoolHandle, xml: str,
                    source: StorageVolHandle | None) -> StorageVolRef:
        with self.node.lock:
            p = self._active_pool(pool)
            v = parse_volume(xml, p.def_.type)
            volume_defaults(v, p.def_)
            if v.name in p.volumes:
                raise error(ErrorNumber.OPERATION_FAILED, T, "storage vol already exists")
            if source is not None:
                _, src = self._vol(source)
                if v.capacity < src.def_.capacity:
                    v.capacity = src.def_.capacity
            alloc = v.capacity if v.allocation is None else v.allocation
            d = p.def_
            if alloc > d.available:
                raise error(ErrorNumber.OPERATION_FAILED, T,
                            f"Not enough free space in pool for volume '{v.name}'")
            v.allocation = alloc
            d.allocation += alloc
            d.available -= alloc
            obj = VolObj(def_=v, name=v.name, key=v.key or "", path=v.target_path or "")
            p.volumes[v.name] = obj
            return (p.name, obj.name, obj.key)

    def storage_vol_create_xml(self, pool: StoragePoolHandle, xml: str,
                               flags: int) -> StorageVolRef:
        check_flags(flags, 3, "testStorageVolCreateXML", T)
        return self._create_vol(pool, xml, None)

    def storage_vol_create_xml_from(self, pool: StoragePoolHandle, xml: str,
                                    clonevol: StorageVolHandle, flags: int) -> StorageVolRef:
        check_flags(flags, 3, "testStorageVolCreateXMLFrom", T)
        return self._create_vol(pool, xml, clonevol)

    def storage_vol_delete(self, vol: StorageVolHandle, flags: int) -> None:
        check_flags(flags, 3, "testStorageVolDelete", T)
        with self.node.lock:
            p, v = self._vol(vol)
            alloc = v.def_.allocation or 0
            p.def_.allocation -= alloc
            p.def_.available += alloc
            del p.volumes[v.name]

    def storage_vol_get_info(self, vol: StorageVolHandle) -> StorageVolInfo:
        with self.node.lock:
            _, v = self._vol(vol)
            d = v.def_
            return StorageVolInfo(StorageVolType.FILE, d.capacity,
                                  d.capacity if d.allocation is None else d.allocation)

    def storage_vol_get_xml_desc(self, vol: StorageVolHandle, flags: int) -> str:
        check_flags(flags, 0, "testStorageVolGetXMLDesc", T)
        with self.node.lock:
            return format_volume(self._vol(vol)[1].def_)

    def storage_vol_get_path(self, vol: StorageVolHandle) -> str:
        with self.node.lock:
            return self._vol(vol)[1].path

    def storage_pool_lookup_by_volume(self, vol: StorageVolHandle) -> StoragePoolRef:
        with self.node.lock:
            p, _ = self._vol(vol)
            return (p.name, p.raw_uuid)


# VIR_CONNECT_LIST_STORAGE_POOLS_<TYPE> bits, by pool type
_POOL_TYPE_FLAGS = {"dir": PF.DIR, "fs": PF.FS, "netfs": PF.NETFS, "logical": PF.LOGICAL,
                    "disk": PF.DISK, "iscsi": PF.ISCSI, "scsi": PF.SCSI, "mpath": PF.MPATH,
                    "rbd": PF.RBD, "sheepdog": PF.SHEEPDOG, "gluster": PF.GLUSTER,
                    "zfs": PF.ZFS, "vstorage": PF.VSTORAGE, "iscsi-direct": PF.ISCSI_DIRECT}
