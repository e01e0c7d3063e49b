"""QemuDriver: one connection's hypervisor table for an embedded QEMU root."""
from __future__ import annotations

from collections.abc import Callable

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ..base import HypervisorDriver
from ..handles import DomainHandle
from ..util import check_flags, not_running
from .balloon import BalloonSlots
from .console import ConsoleSlots
from .domains import DomainSlots
from .host import HostSlots
from .jobs import JobSlots
from .lifecycle import LifecycleSlots, monitor_error
from .memory import MemorySlots
from .node import QemuNode
from .qmp import ProtocolError, QMPError
from .saverestore import SaveSlots
from .vcpus import VcpuSlots

__all__ = ["QemuDriver"]

Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN
_HMP = 1    # VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP


class QemuDriver(HostSlots, DomainSlots, LifecycleSlots, SaveSlots, JobSlots, MemorySlots,
                 BalloonSlots, VcpuSlots, ConsoleSlots, HypervisorDriver):
    """The QEMU driver's slots for one connection (the node behind it may be shared)."""

    name = "QEMU"

    def __init__(self, node: QemuNode, release: Callable[[QemuNode], None] | None) -> None:
        self.node = node
        self._release = release

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            self.node.events.remove_owner(self)
            release(self.node)

    # -- events -------------------------------------------------------------------------
    def connect_domain_event_register_any(self, dom: DomainHandle | None, event_id: int,
                                          callback: Callable[..., object],
                                          opaque: object) -> int:
        return self.node.events.register(self, "domain", event_id,
                                         None if dom is None else bytes(dom.raw_uuid),
                                         callback)  # type: ignore[arg-type]

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        self.node.events.deregister(self, callback_id)

    # -- QEMU monitor passthrough (libvirt_qemu.qemuMonitorCommand) ---------------------
    def domain_qemu_monitor_command(self, dom: DomainHandle, cmd: str, flags: int) -> str:
        check_flags(flags, _HMP, "qemuDomainQemuMonitorCommand", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
            if o.priv is None:
                raise not_running(D)
        with node.job(o, "monitor command"):
            p = o.priv
            if p is None:
                raise not_running(D)
            try:
                if flags & _HMP:
                    out = p.mon.execute("human-monitor-command", {"command-line": cmd})
                    return str(out)
                reply: str = p.mon.execute_text(cmd)
                return reply
            except ProtocolError as exc:
                raise error(ErrorNumber.INTERNAL_ERROR, Q,
                            f"cannot parse json {cmd}: {exc}") from None
            except QMPError as exc:
                raise monitor_error(exc, cmd) from None



