"""Domain objects and their registry: what every stateful driver keeps per domain.

Follows libvirt's virDomainObj: `def_` is the definition in effect (the live one while
running), `new_def` the persistent config to use at next boot when the domain runs;
state and reason are libvirt's (virDomainState + the per-state reason enums).
"""
from __future__ import annotations

import threading
import uuid as _uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from ..constants import ConnectListAllDomainsFlags as LF
from ..constants import DomainState, ErrorDomain, ErrorNumber
from ..errors import error, lookup
from .handles import DomainRef
from .util import check_flags, invalid, not_running

__all__ = ["DomainObj", "DomainObjList", "DomainListSlots"]


@dataclass(slots=True, eq=False)
class DomainObj:
    def_: Any                         # pyvirt.xml DomainDef in effect
    name: str
    raw_uuid: bytes
    id: int = -1
    state: DomainState = DomainState.SHUTOFF
    reason: int = 0
    persistent: bool = False
    autostart: bool = False
    new_def: Any = None               # the persistent config while running, else None
    has_managed_save: bool = False
    priv: Any = None                  # the driver's own per-domain data
    job: threading.Lock = field(default_factory=threading.Lock)
    # formatted XML per (flags, id); cleared by changed() whenever a definition changes
    xml_cache: dict[tuple[int, int], str] = field(default_factory=dict)

    def changed(self) -> None:
        """Say that def_/new_def (or what XMLDesc shows of them) changed."""
        self.xml_cache.clear()

    def xml(self, flags: int, make: Callable[[], str]) -> str:
        """XMLDesc output for flags, formatted once per change of the definitions."""
        key = (flags, self.id)
        text = self.xml_cache.get(key)
        if text is None:
            text = self.xml_cache[key] = make()
        return text

    @property
    def active(self) -> bool:
        return self.id >= 0

    def ref(self) -> DomainRef:
        return (self.name, self.raw_uuid, self.id)

    def persistent_def(self) -> Any:
        """The config a restart would use (libvirt: virDomainObjGetPersistentDef)."""
        return self.new_def if self.new_def is not None else self.def_

    def set_defs(self, def_: Any, new_def: Any) -> None:
        self.def_, self.new_def = def_, new_def
        self.xml_cache.clear()

    def set_state(self, state: DomainState, reason: int) -> None:
        self.state = state
        self.reason = reason

    def affected_defs(self, flags: int) -> tuple[Any, Any]:
        """(live definition or None, persistent one or None) that VIR_DOMAIN_AFFECT_LIVE
        (1) / _CONFIG (2) select, neither meaning whichever the domain's state says
        (libvirt's virDomainObjGetDefs, both flags allowed together)."""
        live, config = bool(flags & 1), bool(flags & 2)
        if not live and not config:
            live, config = self.active, not self.active
        if live and not self.active:
            raise not_running(ErrorDomain.DOMAIN)
        if config and not self.persistent:
            raise invalid(ErrorDomain.DOMAIN,
                          "transient domains do not have any persistent config")
        return (self.def_ if live else None), (self.persistent_def() if config else None)

    def affected_def(self, flags: int) -> tuple[Any, bool]:
        """(definition, whether it is the live one) for calls that read or change just
        one (libvirt's virDomainObjGetOneDefState): LIVE and CONFIG together refused."""
        if flags & 1 and flags & 2:     # VIR_EXCLUSIVE_FLAGS_RET: the bare sentence
            raise lookup(ErrorNumber.INVALID_ARG)(
                "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually "
                "exclusive", code=ErrorNumber.INVALID_ARG, domain=ErrorDomain.DOMAIN)
        live, pers = self.affected_defs(flags)
        return (live, True) if live is not None else (pers, False)


class DomainObjList:
    """Domains indexed by UUID, name and (while running) ID. Not locked: callers hold
    their driver's lock around every use."""

    def __init__(self) -> None:
        self.by_uuid: dict[bytes, DomainObj] = {}
        self.by_name: dict[str, DomainObj] = {}
        self.by_id: dict[int, DomainObj] = {}

    def __len__(self) -> int:
        return len(self.by_uuid)

    def __iter__(self) -> Iterator[DomainObj]:
        return iter(list(self.by_uuid.values()))

    def add(self, obj: DomainObj) -> None:
        self.by_uuid[obj.raw_uuid] = obj
        self.by_name[obj.name] = obj
        if obj.id >= 0:
            self.by_id[obj.id] = obj

    def remove(self, obj: DomainObj) -> None:
        self.by_uuid.pop(obj.raw_uuid, None)
        if self.by_name.get(obj.name) is obj:
            del self.by_name[obj.name]
        if obj.id >= 0 and self.by_id.get(obj.id) is obj:
            del self.by_id[obj.id]

    def rename(self, obj: DomainObj, new_name: str) -> None:
        if self.by_name.get(obj.name) is obj:
            del self.by_name[obj.name]
        obj.name = new_name
        obj.changed()
        self.by_name[new_name] = obj

    def set_id(self, obj: DomainObj, new_id: int) -> None:
        if obj.id >= 0 and self.by_id.get(obj.id) is obj:
            del self.by_id[obj.id]
        obj.id = new_id
        if new_id >= 0:
            self.by_id[new_id] = obj

    def check_add(self, name: str, raw: bytes, *, live: bool) -> DomainObj | None:
        """The existing object a new definition (name, raw UUID) replaces, or None when it is
        new; refuses clashes as libvirt's virDomainObjListAdd does (from VIR_FROM_DOMAIN,
        whichever driver asks). live: the definition is to start now."""
        same = self.by_uuid.get(raw)
        if same is not None:
            if same.name != name:
                raise error(ErrorNumber.OPERATION_FAILED, ErrorDomain.DOMAIN,
                            f"domain '{same.name}' is already defined with uuid "
                            f"{_uuid.UUID(bytes=bytes(raw))}")
            if live and same.active:
                raise invalid(ErrorDomain.DOMAIN, f"domain '{name}' is already active")
            return same
        other = self.by_name.get(name)
        if other is not None:
            raise error(ErrorNumber.OPERATION_FAILED, ErrorDomain.DOMAIN,
                        f"domain '{name}' already exists with uuid "
                        f"{_uuid.UUID(bytes=bytes(other.raw_uuid))}")
        return None

    def active_ids(self) -> list[int]:
        return sorted(self.by_id)

    def inactive_names(self) -> list[str]:
        return sorted(o.name for o in self.by_uuid.values() if o.id < 0)

    def filter(self, flags: int) -> list[DomainObj]:
        """The domains virConnectListAllDomains returns for these filter flags."""
        out = []
        for o in self.by_uuid.values():
            if flags and not _matches(o, flags):
                continue
            out.append(o)
        return out


class DomainListSlots:
    """The listing slots of a driver that keeps its domains in a DomainObjList
    (`self.node.domains`, guarded by `self.node.lock`)."""

    node: Any
    #: the driver function libvirt names in "unsupported flags" errors, its origin, and
    #: the virConnectListAllDomains filter flags the driver supports
    LIST_ALL_FUNC = ""
    LIST_ALL_ORIGIN: int = ErrorDomain.NONE
    LIST_ALL_FLAGS = 0xFFFF

    def connect_list_domains(self) -> list[int]:
        with self.node.lock:
            return self.node.domains.active_ids()  # type: ignore[no-any-return]

    def connect_num_of_domains(self) -> int:
        with self.node.lock:
            return len(self.node.domains.by_id)

    def connect_list_defined_domains(self) -> list[str]:
        with self.node.lock:
            return self.node.domains.inactive_names()  # type: ignore[no-any-return]

    def connect_num_of_defined_domains(self) -> int:
        with self.node.lock:
            return len(self.node.domains) - len(self.node.domains.by_id)

    def connect_list_all_domains(self, flags: int) -> list[DomainRef]:
        check_flags(flags, self.LIST_ALL_FLAGS, self.LIST_ALL_FUNC, self.LIST_ALL_ORIGIN)
        with self.node.lock:
            return [o.ref() for o in self.node.domains.filter(flags)]


def _matches(o: DomainObj, f: int) -> bool:
    # Each group of flags is a filter only when one of its flags is set (libvirt's
    # virDomainObjListFilter): within a group the flags are alternatives.
    active = o.id >= 0
    if f & (LF.ACTIVE | LF.INACTIVE) and not (f & LF.ACTIVE and active or
                                              f & LF.INACTIVE and not active):
        return False
    if f & (LF.PERSISTENT | LF.TRANSIENT) and not (f & LF.PERSISTENT and o.persistent or
                                                   f & LF.TRANSIENT and not o.persistent):
        return False
    if f & (LF.RUNNING | LF.PAUSED | LF.SHUTOFF | LF.OTHER):
        s = o.state
        ok = (f & LF.RUNNING and s == DomainState.RUNNING or
              f & LF.PAUSED and s == DomainState.PAUSED or
              f & LF.SHUTOFF and s == DomainState.SHUTOFF or
              f & LF.OTHER and s not in (DomainState.RUNNING, DomainState.PAUSED,
                                         DomainState.SHUTOFF))
        if not ok:
            return False
    if f & (LF.MANAGEDSAVE | LF.NO_MANAGEDSAVE) and not (
            f & LF.MANAGEDSAVE and o.has_managed_save or
            f & LF.NO_MANAGEDSAVE and not o.has_managed_save):
        return False
    if f & (LF.AUTOSTART | LF.NO_AUTOSTART) and not (f & LF.AUTOSTART and o.autostart or
                                                     f & LF.NO_AUTOSTART and not o.autostart):
        return False
    if f & LF.HAS_SNAPSHOT:   # no driver here keeps snapshots yet
        return False
    return True
