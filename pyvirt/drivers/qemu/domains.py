"""Domain slots of the QEMU driver: lookups, lists, define/undefine, create, queries.

Errors and messages are libvirt 9.0's qemu driver's (qemu_driver.c), checked against a
private libvirtd: e.g. starting a running domain is OPERATION_INVALID from QEMU
"domain is already running", a virt type the emulator lacks is CONFIG_UNSUPPORTED.
"""
from __future__ import annotations

import copy
import os
import uuid as _uuid
from typing import TYPE_CHECKING, Any

from ...constants import (
    DomainCreateFlags,
    DomainShutoffReason,
    DomainState,
    DomainUndefineFlagsValues,
    DomainVcpuFlags,
    DomainXMLFlags,
    ErrorDomain,
    ErrorNumber,
)
from ...constants import DomainEventDefinedDetailType as Defined
from ...constants import DomainEventType as Ev
from ...constants import DomainEventUndefinedDetailType as Undefined
from ...errors import error, lookup
from ...types import DomainInfo, DomainStateReason, SecurityLabel
from ...xml.domain_format import format_domain
from ..domobj import DomainListSlots, DomainObj
from ..handles import DomainHandle, DomainRef
from ..util import check_flags, invalid, not_running
from .domdef import load_qemu_domain, raw_uuid
from .node import Proc, QemuNode

__all__ = ["DomainSlots"]

Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN
_XML_FLAGS = DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU | \
    DomainXMLFlags.MIGRATABLE
_UNDEFINE_FLAGS = DomainUndefineFlagsValues.MANAGED_SAVE | \
    DomainUndefineFlagsValues.SNAPSHOTS_METADATA | DomainUndefineFlagsValues.NVRAM | \
    DomainUndefineFlagsValues.KEEP_NVRAM | DomainUndefineFlagsValues.CHECKPOINTS_METADATA
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _uuid_str(raw: bytes) -> str:
    return str(_uuid.UUID(bytes=bytes(raw)))


def proc_stat(pid: int, tid: int = 0) -> tuple[int, int]:
    """(utime + stime in ns, host CPU it last ran on) of a process, or of one of its
    threads (libvirt's virProcessGetStatInfo reads the same /proc fields)."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return 0, 0
    rest = data[data.rfind(b")") + 2:].split()     # fields from the 3rd (state) on
    try:
        return (int(rest[11]) + int(rest[12])) * (1_000_000_000 // _CLK_TCK), int(rest[36])
    except (IndexError, ValueError):
        return 0, 0


def cpu_time_ns(pid: int) -> int:
    """CPU time of the whole QEMU process, in ns."""
    return proc_stat(pid)[0]


class DomainSlots(DomainListSlots):
    """Hypervisor-table slots about domains, for QemuDriver."""

    node: QemuNode
    LIST_ALL_FUNC, LIST_ALL_ORIGIN, LIST_ALL_FLAGS = "qemuConnectListAllDomains", Q, 0x3FFF

    if TYPE_CHECKING:
        def _start(self, o: DomainObj, flags: int, *, restored: bool = False,
                   incoming_fd: int | None = None, was_running: bool = True,
                   base: Any = None) -> None: ...

    if TYPE_CHECKING:
        def _restore_managed(self, o: DomainObj, flags: int) -> bool: ...

    # -- finding ------------------------------------------------------------------------
    def _obj(self, dom: DomainHandle) -> DomainObj:
        o = self.node.domains.by_uuid.get(bytes(dom.raw_uuid))
        if o is None:
            raise error(ErrorNumber.NO_DOMAIN, Q,
                        f"no domain with matching uuid '{_uuid_str(dom.raw_uuid)}' ({dom.name})")
        return o

    def domain_lookup_by_name(self, name: str) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_name.get(name)
            if o is None:
                raise error(ErrorNumber.NO_DOMAIN, Q, f"no domain with matching name '{name}'")
            return o.ref()

    def domain_lookup_by_id(self, id: int) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_id.get(id)
            if o is None:
                raise error(ErrorNumber.NO_DOMAIN, Q, f"no domain with matching id {id}")
            return o.ref()

    def domain_lookup_by_uuid(self, uuid: bytes) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_uuid.get(bytes(uuid))
            if o is None:
                raise error(ErrorNumber.NO_DOMAIN, Q,
                            f"no domain with matching uuid '{_uuid_str(uuid)}'")
            return o.ref()

    # -- defining -----------------------------------------------------------------------
    def _save_config(self, o: DomainObj, d: Any) -> None:
        """Store `d` as the persistent config of `o` (node.lock held)."""
        self.node.layout.write_config(o.name, format_domain(d, inactive=True, secure=True))
        o.changed()

    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, 1, "qemuDomainDefineXMLFlags", Q)
        node = self.node
        d = load_qemu_domain(xml, node.caps())
        raw = raw_uuid(d)
        with node.lock:
            o = node.domains.check_add(d.name, raw, live=False)
            node.layout.write_config(d.name, format_domain(d, inactive=True, secure=True))
            if o is None:
                o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=True)
                o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
                node.domains.add(o)
                detail = Defined.ADDED
            else:
                detail = Defined.UPDATED if o.persistent else Defined.ADDED
                o.persistent = True
                if o.active:
                    o.new_def = d
                    node.save_status(o)
                else:
                    o.def_ = d
            node.lifecycle(o, Ev.DEFINED, detail)
            return o.ref()

    def domain_undefine(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, _UNDEFINE_FLAGS, "qemuDomainUndefineFlags", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
            if not o.persistent:
                raise invalid(Q, "cannot undefine transient domain")
            save = node.layout.managed_save_path(o.name)
            if os.path.exists(save):
                if not flags & DomainUndefineFlagsValues.MANAGED_SAVE:
                    raise invalid(Q, "Refusing to undefine while domain managed save image "
                                  "exists")
                os.unlink(save)
                o.has_managed_save = False
            node.layout.remove_config(o.name)
            node.lifecycle(o, Ev.UNDEFINED, Undefined.REMOVED)
            if o.active:
                o.persistent = False
                o.new_def = None
                node.save_status(o)
            else:
                node.domains.remove(o)

    def domain_rename(self, dom: DomainHandle, new_name: str, flags: int) -> None:
        """qemuDomainRename: inactive persistent domains only; the config moves to the
        new name in one step (see RootLayout.rename_config)."""
        check_flags(flags, 0, "qemuDomainRename", Q)
        if not new_name:    # libvirt's public entry point checks this (virDomainRename)
            raise lookup(ErrorNumber.INVALID_ARG)(
                "string new_name in virDomainRename must not be empty",
                code=ErrorNumber.INVALID_ARG, domain=D)
        node = self.node
        with node.lock:
            o = self._obj(dom)
        with node.job(o, "rename"), node.lock:
            if o.active:
                raise invalid(Q, "cannot rename active domain")
            if not o.persistent:
                raise invalid(Q, "cannot rename a transient domain")
            if os.path.exists(node.layout.managed_save_path(o.name)):
                raise invalid(Q, "domain with a managed saved state can't be renamed")
            if new_name == o.name:
                raise invalid(D, "Can't rename domain to itself")
            if new_name in node.domains.by_name:
                raise invalid(D, f"domain with name '{new_name}' already exists")
            if "/" in new_name:
                raise error(ErrorNumber.XML_ERROR, Q, f"name {new_name} cannot contain '/'")
            old_name = o.name
            renamed = copy.copy(o.def_)
            renamed.name = new_name
            node.layout.rename_config(old_name, new_name,
                                      format_domain(renamed, inactive=True, secure=True))
            node.lifecycle(o, Ev.UNDEFINED, Undefined.RENAMED)
            o.def_ = renamed
            node.domains.rename(o, new_name)
            dom.name = new_name
            node.lifecycle(o, Ev.DEFINED, Defined.RENAMED)

    def domain_create_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_AUTODESTROY |
                    DomainCreateFlags.START_VALIDATE, "qemuDomainCreateXML", Q)
        node = self.node
        d = load_qemu_domain(xml, node.caps())
        raw = raw_uuid(d)
        with node.lock:
            o = node.domains.check_add(d.name, raw, live=True)
            added = o is None
            if o is None:
                o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=False)
                o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
                node.domains.add(o)
        try:
            with node.job(o, "create"):
                if o.active:
                    raise invalid(Q, f"domain '{d.name}' is already active")
                if not added:
                    o.new_def = o.def_
                    o.def_ = d
                    base_swap = True
                else:
                    base_swap = False
                try:
                    self._start(o, flags & DomainCreateFlags.START_PAUSED)
                except BaseException:
                    if base_swap and not o.active:
                        o.def_, o.new_def = o.new_def, None
                    raise
        except BaseException:
            if added:
                with node.lock:
                    if not o.active:
                        node.domains.remove(o)
            raise
        return o.ref()

    def domain_create(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, DomainCreateFlags.START_PAUSED | DomainCreateFlags.START_AUTODESTROY |
                    DomainCreateFlags.START_BYPASS_CACHE | DomainCreateFlags.START_FORCE_BOOT |
                    DomainCreateFlags.START_VALIDATE | DomainCreateFlags.START_RESET_NVRAM,
                    "qemuDomainCreateWithFlags", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
        with node.job(o, "start"):
            if o.active:
                raise invalid(Q, "domain is already running")
            if not flags & DomainCreateFlags.START_FORCE_BOOT and \
                    self._restore_managed(o, flags):
                pass
            else:
                save = node.layout.managed_save_path(o.name)
                if flags & DomainCreateFlags.START_FORCE_BOOT and os.path.exists(save):
                    os.unlink(save)
                    o.has_managed_save = False
                self._start(o, flags & DomainCreateFlags.START_PAUSED)
            dom.id = o.id

    # -- queries ------------------------------------------------------------------------
    def domain_get_info(self, dom: DomainHandle) -> DomainInfo:
        with self.node.lock:
            o = self._obj(dom)
            d = o.def_
            p: Proc | None = o.priv
            pid = p.pid if p is not None else 0
            state = o.state
        cpu = cpu_time_ns(pid) if pid else 0
        # current memory: the live currentMemory, which follows the balloon (balloon.py)
        return DomainInfo(state, d.memory or 0, d.current_memory or d.memory or 0,
                          d.vcpu_current or d.vcpu or 1, cpu)

    def domain_get_state(self, dom: DomainHandle, flags: int) -> DomainStateReason:
        check_flags(flags, 0, "qemuDomainGetState", Q)
        with self.node.lock:
            o = self._obj(dom)
            return DomainStateReason(o.state, o.reason)

    def domain_get_xml_desc(self, dom: DomainHandle, flags: int) -> str:
        check_flags(flags, _XML_FLAGS, "qemuDomainGetXMLDesc", Q)
        with self.node.lock:
            o = self._obj(dom)
            secure = bool(flags & DomainXMLFlags.SECURE)
            if flags & DomainXMLFlags.INACTIVE:
                return format_domain(o.persistent_def(), inactive=True, secure=secure)
            return format_domain(o.def_, secure=secure, live_id=o.id if o.active else None)

    def domain_get_os_type(self, dom: DomainHandle) -> str:
        with self.node.lock:
            return str(self._obj(dom).def_.os.type or "hvm")

    def domain_get_max_memory(self, dom: DomainHandle) -> int:
        with self.node.lock:
            return int(self._obj(dom).def_.memory or 0)

    def domain_get_max_vcpus(self, dom: DomainHandle) -> int:
        with self.node.lock:
            o = self._obj(dom)
            if not o.active:
                raise not_running(D)
            return int(o.def_.vcpu or 1)

    def domain_get_vcpus_flags(self, dom: DomainHandle, flags: int) -> int:
        """qemuDomainGetVcpusFlags: one definition (virDomainObjGetOneDef); GUEST asks
        the guest agent, which pyvirt does not drive."""
        check_flags(flags, DomainVcpuFlags.LIVE | DomainVcpuFlags.CONFIG |
                    DomainVcpuFlags.MAXIMUM | DomainVcpuFlags.GUEST,
                    "qemuDomainGetVcpusFlags", Q)
        with self.node.lock:
            d, live = self._obj(dom).affected_def(flags)
            if flags & DomainVcpuFlags.GUEST:
                if not live:
                    raise error(ErrorNumber.INVALID_ARG, Q, "vCPU count provided by the "
                                "guest agent can only be requested for live domains")
                raise error(ErrorNumber.ARGUMENT_UNSUPPORTED, Q,
                            "QEMU guest agent is not configured")
            if flags & DomainVcpuFlags.MAXIMUM:
                return int(d.vcpu or 1)
            return int(d.vcpu_current or d.vcpu or 1)

    def domain_is_active(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self._obj(dom).active

    def domain_is_persistent(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self._obj(dom).persistent

    def domain_is_updated(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            o = self._obj(dom)
            return o.active and o.new_def is not None and \
                format_domain(o.new_def, inactive=True) != format_domain(o.def_, inactive=True)

    def domain_get_autostart(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self.node.layout.get_autostart(self._obj(dom).name)

    def domain_set_autostart(self, dom: DomainHandle, autostart: bool) -> None:
        with self.node.lock:
            o = self._obj(dom)
            if not o.persistent:
                raise invalid(Q, "cannot set autostart for transient domain")
            self.node.layout.set_autostart(o.name, autostart)
            o.autostart = autostart

    def domain_get_security_label(self, dom: DomainHandle) -> SecurityLabel:
        with self.node.lock:
            self._obj(dom)
        return SecurityLabel("", False)

    def domain_get_messages(self, dom: DomainHandle, flags: int) -> list[str]:
        check_flags(flags, 3, "qemuDomainGetMessages", Q)
        with self.node.lock:
            self._obj(dom)
        return []

    def domain_snapshot_num(self, dom: DomainHandle, flags: int) -> int:
        with self.node.lock:
            self._obj(dom)
        return 0

