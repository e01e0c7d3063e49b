"""Memory sizing slots of the QEMU driver: setMemory through the virtio balloon,
setMaxMemory, and the balloon state that the live currentMemory follows.

As libvirt 9.0's qemuDomainSetMemoryFlags (errors checked against a private libvirtd):
the live change is QMP `balloon`, which only asks the guest to give memory back; the
live definition's currentMemory follows what the guest has actually done, reported by
QEMU's BALLOON_CHANGE event (and read with query-balloon when a run starts or is
reattached), so a guest without a balloon driver keeps all of its memory and
currentMemory says so.  The maximum memory of a running domain cannot change.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..._twins.abc import QmpMessage
from ...constants import DomainEventID, DomainMemoryModFlags, ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.domain_model import DomainDef
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import check_flags, invalid
from .lifecycle import monitor_error
from .node import Proc, QemuNode
from .qmp import ExecuteError, QMPError

__all__ = ["BalloonSlots"]

Q = ErrorDomain.QEMU
_MEM_FLAGS = DomainMemoryModFlags.LIVE | DomainMemoryModFlags.CONFIG | \
    DomainMemoryModFlags.MAXIMUM
# QMP error classes of `balloon` that mean "no balloon to drive" (qemuMonitorJSONSetBalloon)
_NO_BALLOON = ("DeviceNotActive", "KVMMissingCap")


class BalloonSlots:
    """domain_set_memory / domain_set_max_memory and BALLOON_CHANGE, for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...
        def _save_config(self, o: DomainObj, d: DomainDef) -> None: ...

    def domain_set_memory(self, dom: DomainHandle, memory: int, flags: int) -> None:
        check_flags(flags, _MEM_FLAGS, "qemuDomainSetMemoryFlags", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
        with node.job(o, "set memory"):
            with node.lock:
                live, pers = o.affected_defs(flags)
                p: Proc | None = o.priv if live is not None else None
                if flags & DomainMemoryModFlags.MAXIMUM:
                    self._set_max_memory_locked(o, live, pers, memory)
                    return
                # the lower of the two maximums bounds a change of both
                limit = min(int(d.memory or 0) for d in (live, pers) if d is not None)
                if memory > limit:
                    raise error(ErrorNumber.INVALID_ARG, Q,
                                "cannot set memory higher than max memory")
            if p is not None:
                self._balloon(p, memory)
            if pers is not None:
                with node.lock:
                    pers.current_memory = memory
                    self._save_config(o, pers)

    def _set_max_memory_locked(self, o: DomainObj, live: DomainDef | None, pers: DomainDef | None,
                        memory: int) -> None:
        if live is not None:
            raise invalid(Q, "cannot resize the maximum memory on an active domain")
        assert pers is not None
        if pers.max_memory and pers.max_memory < memory:
            raise invalid(Q, "cannot set initial memory size greater than the maximum "
                          "memory size")
        pers.memory = memory
        if (pers.current_memory or memory) > memory:
            pers.current_memory = memory
        self._save_config(o, pers)

    def domain_set_max_memory(self, dom: DomainHandle, memory: int) -> None:
        # libvirt's qemuDomainSetMaxMemory: setMemoryFlags(MAXIMUM), i.e. the current
        # definition: a running domain refuses it
        self.domain_set_memory(dom, memory, DomainMemoryModFlags.MAXIMUM)

    def _balloon(self, p: Proc, kib: int) -> None:
        try:
            p.mon.command("balloon", {"value": kib * 1024})
        except ExecuteError as exc:
            if exc.error_class in _NO_BALLOON:
                raise invalid(Q, "Unable to change memory of active domain without the "
                              "balloon device and guest OS balloon driver") from None
            raise monitor_error(exc, "balloon") from None
        except QMPError as exc:
            raise monitor_error(exc, "balloon") from None

    # -- QMP events ---------------------------------------------------------------------
    def _ev_balloon_change(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        """The guest gave memory back or took it (qemuProcessHandleBalloonChange)."""
        data: dict[str, Any] = json.loads(msg.line).get("data", {})
        try:
            kib = int(data["actual"]) // 1024
        except (KeyError, TypeError, ValueError):
            return
        node = self.node
        with node.lock:
            if p.stopped or o.priv is not p:
                return
            o.def_.current_memory = kib
            node.events.queue("domain", DomainEventID.BALLOON_CHANGE, o.ref(), kib)
        node.save_live_def(o)
