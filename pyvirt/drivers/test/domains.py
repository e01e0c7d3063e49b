"""The test driver's domain slots: libvirt's test-driver state machine, errors and events.

Behaviour, error codes and messages follow libvirt 9.0's src/test/test_driver.c as seen
through libvirt-python (tests/diff compares the two on the same scenarios).
"""
from __future__ import annotations

import copy
import uuid as _uuid
from typing import Any, Callable

from ...constants import DomainEventDefinedDetailType as Defined
from ...constants import DomainEventID
from ...constants import DomainEventStartedDetailType as Started
from ...constants import DomainEventStoppedDetailType as Stopped
from ...constants import DomainEventType as Ev
from ...constants import DomainEventUndefinedDetailType as Undefined
from ...constants import (DomainMemoryModFlags, DomainPausedReason, DomainRunningReason,
                          DomainShutoffReason, DomainState, DomainUndefineFlagsValues,
                          DomainVcpuFlags, DomainXMLFlags, ErrorDomain, ErrorNumber, VcpuState)
from ...errors import error, libvirtError
from ...types import DomainInfo, DomainStateReason, SecurityLabel, VcpuInfo
from ...xml.domain_format import format_domain
from ...xml.domain_normalize import load_domain
from ..domobj import DomainListSlots, DomainObj
from ..handles import DomainHandle, DomainRef
from ..util import check_flags, invalid, not_running
from . import saveimage
from .node import TestNode, now_ns

T = ErrorDomain.TEST
D = ErrorDomain.DOMAIN
MAX_VCPUS = 32          # testConnectGetMaxVcpus
# flags the test driver accepts, per call (virCheckFlags in test_driver.c)
_XML_FLAGS = DomainXMLFlags.SECURE | DomainXMLFlags.INACTIVE | DomainXMLFlags.UPDATE_CPU | \
    DomainXMLFlags.MIGRATABLE
_UNDEFINE_FLAGS = DomainUndefineFlagsValues.MANAGED_SAVE | \
    DomainUndefineFlagsValues.SNAPSHOTS_METADATA | DomainUndefineFlagsValues.NVRAM | \
    DomainUndefineFlagsValues.KEEP_NVRAM | DomainUndefineFlagsValues.CHECKPOINTS_METADATA
_MEM_FLAGS = DomainMemoryModFlags.LIVE | DomainMemoryModFlags.CONFIG | DomainMemoryModFlags.MAXIMUM
_VCPU_FLAGS = DomainVcpuFlags.LIVE | DomainVcpuFlags.CONFIG | DomainVcpuFlags.MAXIMUM | \
    DomainVcpuFlags.GUEST | DomainVcpuFlags.HOTPLUGGABLE
_START_VALIDATE = 16    # VIR_DOMAIN_START_VALIDATE
_DEFINE_VALIDATE = 1    # VIR_DOMAIN_DEFINE_VALIDATE


def _no_domain(detail: str | None = None) -> libvirtError:
    return error(ErrorNumber.NO_DOMAIN, T, detail)


def _uuid_str(raw: bytes) -> str:
    return str(_uuid.UUID(bytes=bytes(raw)))


class DomainSlots(DomainListSlots):
    """Hypervisor-table slots about domains, for TestDriver."""

    node: TestNode
    LIST_ALL_FUNC, LIST_ALL_ORIGIN = "testConnectListAllDomains", T

    # -- finding ------------------------------------------------------------------------
    def _obj(self, dom: DomainHandle) -> DomainObj:
        o = self.node.domains.by_uuid.get(dom.raw_uuid)
        if o is None:
            raise _no_domain(f"no domain with matching uuid '{_uuid_str(dom.raw_uuid)}' "
                             f"({dom.name})")
        return o

    def _event(self, o: DomainObj, event: int, detail: int,
               ref: DomainRef | None = None) -> None:
        self.node.events.queue("domain", DomainEventID.LIFECYCLE, ref or o.ref(), event, detail)

    def domain_lookup_by_name(self, name: str) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_name.get(name)
            if o is None:
                raise _no_domain()
            return (o.name, o.raw_uuid, o.id)

    def domain_lookup_by_id(self, id: int) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_id.get(id)
            if o is None:
                raise _no_domain()
            return (o.name, o.raw_uuid, o.id)

    def domain_lookup_by_uuid(self, uuid: bytes) -> DomainRef:
        with self.node.lock:
            o = self.node.domains.by_uuid.get(bytes(uuid))
            if o is None:
                raise _no_domain()
            return (o.name, o.raw_uuid, o.id)

    # -- defining -----------------------------------------------------------------------
    def domain_define_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, _DEFINE_VALIDATE, "testDomainDefineXMLFlags", T)
        d = load_domain(xml)
        raw = _uuid.UUID(d.uuid).bytes
        with self.node.lock:
            o = self.node.domains.check_add(d.name, raw, live=False)
            if o is None:
                o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=True)
                o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
                self.node.domains.add(o)
                detail = Defined.ADDED
            else:
                detail = Defined.UPDATED if o.persistent else Defined.ADDED
                o.persistent = True
                if o.active:
                    o.set_defs(o.def_, d)
                else:
                    o.set_defs(d, None)
            self._event(o, Ev.DEFINED, detail)
            return o.ref()

    def domain_create_xml(self, xml: str, flags: int) -> DomainRef:
        check_flags(flags, _START_VALIDATE, "testDomainCreateXML", T)
        d = load_domain(xml)
        raw = _uuid.UUID(d.uuid).bytes
        with self.node.lock:
            o = self.node.domains.check_add(d.name, raw, live=True)
            if o is None:
                o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=False)
                self.node.domains.add(o)
            else:       # an inactive persistent domain starts with this config
                o.set_defs(d, o.def_)
            self._start(o, DomainRunningReason.BOOTED)
            self._event(o, Ev.STARTED, Started.BOOTED)
            return o.ref()

    def domain_undefine(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, _UNDEFINE_FLAGS, "testDomainUndefineFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            if o.has_managed_save:
                if not flags & DomainUndefineFlagsValues.MANAGED_SAVE:
                    raise invalid(T, "Refusing to undefine while domain managed save image "
                                  "exists")
                o.has_managed_save = False
            self._event(o, Ev.UNDEFINED, Undefined.REMOVED)
            if o.active:
                o.persistent = False
                o.set_defs(o.def_, None)
            else:
                self.node.domains.remove(o)

    def domain_rename(self, dom: DomainHandle, new_name: str, flags: int) -> None:
        check_flags(flags, 0, "testDomainRename", T)
        with self.node.lock:
            o = self._obj(dom)
            if o.active:
                raise invalid(T, "cannot rename active domain")
            if not o.persistent:
                raise invalid(T, "cannot rename a transient domain")
            if new_name in self.node.domains.by_name:
                raise invalid(D, f"domain with name '{new_name}' already exists")
            self._event(o, Ev.UNDEFINED, Undefined.RENAMED)
            renamed = copy.copy(o.def_)
            renamed.name = new_name
            o.set_defs(renamed, o.new_def)
            self.node.domains.rename(o, new_name)
            dom.name = new_name
            self._event(o, Ev.DEFINED, Defined.RENAMED)

    # -- lifecycle ----------------------------------------------------------------------
    def _start(self, o: DomainObj, reason: int) -> None:
        if o.persistent and o.new_def is None:
            o.set_defs(copy.deepcopy(o.def_), o.def_)
        self.node.domains.set_id(o, self.node.new_id())
        o.set_state(DomainState.RUNNING, reason)

    def _stop(self, o: DomainObj, reason: int) -> DomainRef:
        """Shut the domain off; returns the ref its STOPPED event carries: a transient
        domain is dropped with its live definition, so the event keeps its last ID (as
        libvirt's testDomainShutdownState leaves it)."""
        ref = (o.name, o.raw_uuid, -1 if o.persistent else o.id)
        self.node.domains.set_id(o, -1)
        o.set_state(DomainState.SHUTOFF, reason)
        if not o.persistent:
            self.node.domains.remove(o)
        elif o.new_def is not None:
            o.set_defs(o.new_def, None)
        return ref

    def _running_obj(self, dom: DomainHandle) -> DomainObj:
        o = self._obj(dom)
        if not o.active:
            raise not_running(D)
        return o

    def domain_create(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "testDomainCreateWithFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            if o.active:
                raise error(ErrorNumber.INTERNAL_ERROR, T, f"Domain '{o.name}' is already running")
            # the test driver drops a managed save image and boots afresh
            o.has_managed_save = False
            self._start(o, DomainRunningReason.BOOTED)
            dom.id = o.id
            self._event(o, Ev.STARTED, Started.BOOTED)

    def domain_shutdown(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "testDomainShutdownFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            if o.state == DomainState.SHUTOFF:
                raise error(ErrorNumber.INTERNAL_ERROR, T, f"domain '{o.name}' not running")
            ref = self._stop(o, DomainShutoffReason.SHUTDOWN)
            dom.id = -1
            self._event(o, Ev.STOPPED, Stopped.SHUTDOWN, ref)

    def domain_reboot(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0x1F, "testDomainReboot", T)
        with self.node.lock:
            o = self._running_obj(dom)
            action = o.def_.on_reboot or "restart"
            if action in ("destroy", "preserve"):
                ref = self._stop(o, DomainShutoffReason.SHUTDOWN)
                dom.id = -1
                self._event(o, Ev.STOPPED, Stopped.SHUTDOWN, ref)
            else:
                o.set_state(DomainState.RUNNING, DomainRunningReason.BOOTED)

    def domain_reset(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "testDomainReset", T)
        with self.node.lock:
            self._running_obj(dom)

    def domain_destroy(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 1, "testDomainDestroyFlags", T)
        with self.node.lock:
            o = self._running_obj(dom)
            ref = self._stop(o, DomainShutoffReason.DESTROYED)
            dom.id = -1
            self._event(o, Ev.STOPPED, Stopped.DESTROYED, ref)

    def domain_suspend(self, dom: DomainHandle) -> None:
        with self.node.lock:
            o = self._obj(dom)
            if o.state != DomainState.RUNNING:
                raise error(ErrorNumber.INTERNAL_ERROR, T, f"domain '{o.name}' not running")
            o.set_state(DomainState.PAUSED, DomainPausedReason.USER)
            self._event(o, Ev.SUSPENDED, 0)

    def domain_resume(self, dom: DomainHandle) -> None:
        with self.node.lock:
            o = self._obj(dom)
            if o.state != DomainState.PAUSED:
                raise error(ErrorNumber.INTERNAL_ERROR, T, f"domain '{o.name}' not paused")
            o.set_state(DomainState.RUNNING, DomainRunningReason.UNPAUSED)
            self._event(o, Ev.RESUMED, 0)

    # -- save / restore -----------------------------------------------------------------
    def domain_save(self, dom: DomainHandle, path: str, dxml: str | None, flags: int) -> None:
        check_flags(flags, 7, "testDomainSaveFlags", T)
        with self.node.lock:
            o = self._running_obj(dom)
            d = o.def_
            if dxml is not None:
                d = load_domain(dxml)
                if d.uuid != o.def_.uuid or d.name != o.name:
                    raise invalid(T, "the save image's XML must describe the same domain")
            saveimage.write(path, format_domain(d, secure=True, inactive=True), o.name, int(o.state))
            ref = self._stop(o, DomainShutoffReason.SAVED)
            dom.id = -1
            self._event(o, Ev.STOPPED, Stopped.SAVED, ref)

    def domain_restore(self, path: str, dxml: str | None, flags: int) -> None:
        check_flags(flags, 7, "testDomainRestoreFlags", T)
        xml, _state = saveimage.read(path)
        d = load_domain(dxml if dxml is not None else xml)
        raw = _uuid.UUID(d.uuid).bytes
        with self.node.lock:
            o = self.node.domains.check_add(d.name, raw, live=True)
            if o is None:
                o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=False)
                self.node.domains.add(o)
            self._start(o, DomainRunningReason.RESTORED)
            self._event(o, Ev.STARTED, Started.RESTORED)
            if flags & 4:   # VIR_DOMAIN_SAVE_PAUSED
                o.set_state(DomainState.PAUSED, DomainPausedReason.USER)
                self._event(o, Ev.SUSPENDED, 0)

    def domain_managed_save(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 7, "testDomainManagedSave", T)
        with self.node.lock:
            o = self._running_obj(dom)
            if not o.persistent:
                raise invalid(T, "cannot do managed save for transient domain")
            o.has_managed_save = True
            ref = self._stop(o, DomainShutoffReason.SAVED)
            dom.id = -1
            self._event(o, Ev.STOPPED, Stopped.SAVED, ref)

    def domain_has_managed_save_image(self, dom: DomainHandle, flags: int) -> bool:
        check_flags(flags, 0, "testDomainHasManagedSaveImage", T)
        with self.node.lock:
            return self._obj(dom).has_managed_save

    def domain_managed_save_remove(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "testDomainManagedSaveRemove", T)
        with self.node.lock:
            self._obj(dom).has_managed_save = False

    # -- queries ------------------------------------------------------------------------
    def domain_get_info(self, dom: DomainHandle) -> DomainInfo:
        with self.node.lock:
            o = self._obj(dom)
            d = o.def_
            return DomainInfo(o.state, d.memory, d.current_memory or d.memory,
                              d.vcpu_current or d.vcpu, now_ns())

    def domain_get_state(self, dom: DomainHandle, flags: int) -> DomainStateReason:
        check_flags(flags, 0, "testDomainGetState", T)
        with self.node.lock:
            o = self._obj(dom)
            return DomainStateReason(o.state, o.reason)

    def domain_get_xml_desc(self, dom: DomainHandle, flags: int) -> str:
        check_flags(flags, _XML_FLAGS, "testDomainGetXMLDesc", T)
        with self.node.lock:
            o = self._obj(dom)
            secure = bool(flags & DomainXMLFlags.SECURE)
            if flags & DomainXMLFlags.INACTIVE:
                return o.xml(flags, lambda: format_domain(o.persistent_def(), inactive=True,
                                                          secure=secure))
            return o.xml(flags, lambda: format_domain(o.def_, secure=secure,
                                                      live_id=o.id if o.active else None))

    def domain_get_os_type(self, dom: DomainHandle) -> str:
        with self.node.lock:
            self._obj(dom)
        return "linux"      # testDomainGetOSType answers "linux" whatever the XML says

    def domain_get_max_memory(self, dom: DomainHandle) -> int:
        with self.node.lock:
            return int(self._obj(dom).def_.memory)

    def domain_is_active(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self._obj(dom).active

    def domain_is_persistent(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self._obj(dom).persistent

    def domain_is_updated(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            self._obj(dom)
            return False

    def domain_get_autostart(self, dom: DomainHandle) -> bool:
        with self.node.lock:
            return self._obj(dom).autostart

    def domain_set_autostart(self, dom: DomainHandle, autostart: bool) -> None:
        with self.node.lock:
            # libvirt's test driver lets a transient domain be marked autostart
            self._obj(dom).autostart = autostart

    def domain_get_security_label(self, dom: DomainHandle) -> SecurityLabel:
        with self.node.lock:
            active = self._obj(dom).active
        # only a running domain has a label (testDomainGetSecurityLabel)
        return SecurityLabel("libvirt-test", True) if active else SecurityLabel("", False)

    def domain_get_messages(self, dom: DomainHandle, flags: int) -> list[str]:
        check_flags(flags, 3, "testDomainGetMessages", T)
        with self.node.lock:
            self._obj(dom)
        return []

    def domain_snapshot_num(self, dom: DomainHandle, flags: int) -> int:
        with self.node.lock:
            self._obj(dom)
        return 0

    def domain_memory_peek(self, dom: DomainHandle, start: int, size: int, flags: int) -> bytes:
        check_flags(flags, 3, "testDomainMemoryPeek", T)
        with self.node.lock:
            self._running_obj(dom)
        # the test driver's memory is a ramp: byte i holds (start + i) mod 256
        return bytes((start + i) & 0xFF for i in range(size))

    # -- tuning -------------------------------------------------------------------------
    def domain_set_memory(self, dom: DomainHandle, memory: int, flags: int) -> None:
        check_flags(flags, _MEM_FLAGS, "testDomainSetMemoryFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            d, live = o.affected_def(flags)
            o.changed()
            if flags & DomainMemoryModFlags.MAXIMUM:
                if live:
                    raise invalid(T, "cannot resize the maximum memory on an active domain")
                d.memory = memory
                if (d.current_memory or memory) > memory:
                    d.current_memory = memory
                return
            if memory > d.memory:
                raise error(ErrorNumber.INVALID_ARG, T, "cannot set memory higher than max memory")
            d.current_memory = memory

    def domain_set_max_memory(self, dom: DomainHandle, memory: int) -> None:
        self.domain_set_memory(dom, memory, DomainMemoryModFlags.MAXIMUM)

    def domain_set_vcpus(self, dom: DomainHandle, nvcpus: int, flags: int) -> None:
        check_flags(flags, _VCPU_FLAGS, "testDomainSetVcpusFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            d, live = o.affected_def(flags & 3)
            o.changed()
            if nvcpus > MAX_VCPUS:
                raise error(ErrorNumber.INVALID_ARG, T,
                            f"requested cpu amount exceeds maximum supported amount "
                            f"({nvcpus} > {MAX_VCPUS})")
            if flags & DomainVcpuFlags.MAXIMUM:
                if live:
                    raise error(ErrorNumber.INVALID_ARG, T,
                                "cannot change maximum vcpus on a live domain")
                d.vcpu = nvcpus
                if (d.vcpu_current or nvcpus) > nvcpus:
                    d.vcpu_current = None
                return
            if nvcpus > d.vcpu:
                raise error(ErrorNumber.INVALID_ARG, T,
                            f"requested cpu amount exceeds maximum ({nvcpus} > {d.vcpu})")
            d.vcpu_current = None if nvcpus == d.vcpu else nvcpus

    def domain_get_vcpus_flags(self, dom: DomainHandle, flags: int) -> int:
        check_flags(flags, _VCPU_FLAGS, "testDomainGetVcpusFlags", T)
        with self.node.lock:
            o = self._obj(dom)
            d, _ = o.affected_def(flags & 3)
            if flags & DomainVcpuFlags.MAXIMUM:
                return int(d.vcpu)
            return int(d.vcpu_current or d.vcpu)

    def domain_get_max_vcpus(self, dom: DomainHandle) -> int:
        return self.domain_get_vcpus_flags(dom, DomainVcpuFlags.LIVE | DomainVcpuFlags.MAXIMUM)

    def domain_get_vcpus(self, dom: DomainHandle) -> list[VcpuInfo]:
        with self.node.lock:
            o = self._obj(dom)
            if not o.active:
                raise invalid(T, "cannot list vcpus for an inactive domain")
            n = o.def_.vcpu_current or o.def_.vcpu
            last_cpu = self.node.info.cpus - 1
        # libvirt's test driver: every vCPU on the last host CPU, CPU time from the clock
        cpu_time = now_ns() // 10000
        return [VcpuInfo(i, VcpuState.RUNNING, cpu_time, last_cpu, [True] * 8) for i in range(n)]

    # -- events -------------------------------------------------------------------------
    def connect_domain_event_register_any(self, dom: DomainHandle | None, event_id: int,
                                          callback: Callable[..., Any], opaque: Any) -> int:
        return self.node.events.register(self, "domain", event_id,
                                         None if dom is None else bytes(dom.raw_uuid), callback)

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        self.node.events.deregister(self, callback_id)
