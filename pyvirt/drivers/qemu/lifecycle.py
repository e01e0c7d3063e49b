"""Lifecycle slots of the QEMU driver and the monitor events that move a domain's state.

States, reasons, events and their order are libvirt 9.0's, as observed from a real
libvirtd (pyvirt.testing.peers.PrivateLibvirtd runs one):
    create          RESUMED/UNPAUSED, STARTED/BOOTED             RUNNING/BOOTED
    create paused   STARTED/BOOTED, SUSPENDED/PAUSED             PAUSED/USER
    suspend         SUSPENDED/PAUSED                             PAUSED/USER
    resume          RESUMED/UNPAUSED                             RUNNING/UNPAUSED
    destroy         SHUTDOWN/HOST, STOPPED/DESTROYED             SHUTOFF/DESTROYED
    guest poweroff  SHUTDOWN/GUEST, STOPPED/SHUTDOWN             SHUTOFF/SHUTDOWN
    QEMU died       STOPPED/FAILED                               SHUTOFF/CRASHED
    RESET (QMP)     REBOOT                                       (unchanged)
Handlers run on whichever thread reads the QMP socket (the caller of a command, or
the watcher); they take node.lock only, never a job, and hand work that needs the
monitor (a fake reboot, killing QEMU after a guest shutdown) to a task thread.
"""
from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from ..._twins.abc import QmpMessage
from ...constants import (
    DomainCrashedReason,
    DomainCreateFlags,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutdownReason,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
)
from ...constants import DomainEventCrashedDetailType as Crashed
from ...constants import DomainEventResumedDetailType as Resumed
from ...constants import DomainEventShutdownDetailType as ShutdownEv
from ...constants import DomainEventStartedDetailType as Started
from ...constants import DomainEventStoppedDetailType as Stopped
from ...constants import DomainEventSuspendedDetailType as Suspended
from ...constants import DomainEventType as Ev
from ...errors import error
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import check_flags, not_running
from .launch import finish, launch, signal_term, terminate
from .node import Proc, QemuNode
from .qmp import Disconnected, ExecuteError, QMPError

__all__ = ["LifecycleSlots", "monitor_error"]

log = logging.getLogger(__name__)
Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN

_PAUSED_EVENT = {DomainPausedReason.USER: Suspended.PAUSED,
                 DomainPausedReason.MIGRATION: Suspended.MIGRATED,
                 DomainPausedReason.SAVE: Suspended.PAUSED,
                 DomainPausedReason.IOERROR: Suspended.IOERROR,
                 DomainPausedReason.WATCHDOG: Suspended.WATCHDOG,
                 DomainPausedReason.FROM_SNAPSHOT: Suspended.FROM_SNAPSHOT}
_RESUMED_EVENT = {DomainRunningReason.MIGRATED: Resumed.MIGRATED,
                  DomainRunningReason.RESTORED: Resumed.FROM_SNAPSHOT,
                  DomainRunningReason.FROM_SNAPSHOT: Resumed.FROM_SNAPSHOT}


def monitor_error(exc: QMPError, what: str) -> Exception:
    """A QMP failure at the driver boundary (STYLE.md 8)."""
    if isinstance(exc, ExecuteError):
        return error(ErrorNumber.INTERNAL_ERROR, Q, f"unable to execute QEMU command "
                     f"'{what}': {exc.desc}")
    if isinstance(exc, Disconnected):
        return error(ErrorNumber.OPERATION_FAILED, Q, f"domain is no longer running ({exc})")
    return error(ErrorNumber.OPERATION_FAILED, Q, f"QEMU monitor: {exc}")


class LifecycleSlots:
    """Start, stop, pause and the event state machine, for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...  # DomainSlots

        def _ev_balloon_change(self, o: DomainObj, p: Proc,
                               msg: QmpMessage) -> None: ...  # BalloonSlots

    def _obj_active(self, dom: DomainHandle) -> tuple[DomainObj, Proc]:
        o = self._obj(dom)
        p: Proc | None = o.priv
        if p is None:
            raise not_running(D)
        return o, p

    def _mon(self, p: Proc, cmd: str, args: dict[str, Any] | None = None) -> None:
        try:
            p.mon.command(cmd, args)
        except QMPError as exc:
            raise monitor_error(exc, cmd) from None

    # -- QMP events ---------------------------------------------------------------------
    def _on_event(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        name = msg.event
        handler = _HANDLERS.get(name or "")
        if handler is not None:
            handler(self, o, p, msg)

    def _ev_stop(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        node = self.node
        with node.lock:
            if p.stopped or o.priv is not p:
                return
            reason, p.paused_reason = p.paused_reason or DomainPausedReason.UNKNOWN, 0
            if o.state == DomainState.RUNNING and not p.paused_shutdown:
                o.set_state(DomainState.PAUSED, reason)
                node.lifecycle(o, Ev.SUSPENDED, _PAUSED_EVENT.get(reason, Suspended.PAUSED))
                node.save_status(o)

    def _ev_resume(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        node = self.node
        with node.lock:
            if p.stopped or o.priv is not p:
                return
            reason = p.running_reason or DomainRunningReason.UNPAUSED
            p.running_reason = 0
            p.vcpu_gen += 1
            if o.state != DomainState.RUNNING:
                o.set_state(DomainState.RUNNING, reason)
                node.lifecycle(o, Ev.RESUMED, _RESUMED_EVENT.get(reason, Resumed.UNPAUSED))
                node.save_status(o)

    def _ev_shutdown(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        node = self.node
        data = json.loads(msg.line).get("data", {})
        with node.lock:
            if p.stopped or o.priv is not p or o.state == DomainState.SHUTDOWN:
                return
            if p.fake_reboot or (o.def_.on_poweroff == "restart" and not p.being_destroyed):
                p.paused_shutdown = True
                node.watcher.call_soon(lambda: self._fake_reboot(o, p))
                return
            o.set_state(DomainState.SHUTDOWN, DomainShutdownReason.UNKNOWN)
            guest = data.get("guest")
            detail = ShutdownEv.FINISHED if guest is None else \
                ShutdownEv.GUEST if guest else ShutdownEv.HOST
            node.lifecycle(o, Ev.SHUTDOWN, detail)
            node.save_status(o)
            if not p.being_destroyed:
                signal_term(p)      # qemuProcessShutdownOrReboot: kill, do not wait

    def _ev_reset(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        node = self.node
        with node.lock:
            if p.stopped or o.priv is not p:
                return
            p.vcpu_gen += 1
            if o.state == DomainState.PAUSED and o.reason == DomainPausedReason.STARTING_UP:
                return
            node.reboot_event(o)
            p.fake_reboot = False

    def _ev_panicked(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        node = self.node
        with node.lock:
            if p.stopped or o.priv is not p:
                return
            o.set_state(DomainState.CRASHED, DomainCrashedReason.PANICKED)
            node.lifecycle(o, Ev.CRASHED, Crashed.PANICKED)
            node.save_status(o)
            action = o.def_.on_crash or "destroy"
        if action in ("destroy", "coredump-destroy"):
            node.watcher.call_soon(lambda: self._crash_destroy(o, p))
        elif action in ("restart", "rename-restart", "coredump-restart"):
            with node.lock:
                p.paused_shutdown = True
            node.watcher.call_soon(lambda: self._fake_reboot(o, p))

    def _ev_powerdown(self, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
        log.debug("%s: ACPI power button pressed", o.name)

    # -- tasks the handlers start -------------------------------------------------------
    def _fake_reboot(self, o: DomainObj, p: Proc) -> None:
        """system_reset + cont after a guest shutdown (libvirt's qemuProcessFakeReboot)."""
        node = self.node
        try:
            with node.job(o, "fake reboot"):
                if o.priv is not p or p.stopped:
                    return
                p.mon.command("system_reset")
                with node.lock:
                    crashed = o.state == DomainState.CRASHED
                    p.running_reason = DomainRunningReason.CRASHED if crashed else \
                        DomainRunningReason.BOOTED
                    if crashed:
                        o.set_state(DomainState.PAUSED, DomainPausedReason.CRASHED)
                p.mon.command("cont")
                with node.lock:
                    p.paused_shutdown = False
                    p.fake_reboot = False
                    node.save_status(o)
        except Exception as exc:    # as libvirt: a failed fake reboot kills the domain
            log.warning("%s: fake reboot failed (%s); stopping it", o.name, exc)
            signal_term(p)

    def _crash_destroy(self, o: DomainObj, p: Proc) -> None:
        node = self.node
        with node.job(o, "crash"):
            if o.priv is not p or p.stopped:
                return
            p.being_destroyed = True
            node.watcher.remove(p.pidfd)
            terminate(p, 3.0)
            finish(node, o, p, DomainShutoffReason.CRASHED, Ev.STOPPED, Stopped.CRASHED)

    def _on_exit(self, o: DomainObj, p: Proc) -> None:
        """The watcher saw QEMU exit.  Unless an API call is stopping it, finish the
        run with libvirt's reasons (processMonitorEOFEvent)."""
        p.exited.set()
        if p.being_destroyed or p.stopped:
            return
        if o.job.acquire(blocking=False):
            try:
                self._exited_locked(o, p)
            finally:
                o.job.release()
        else:
            node = self.node

            def later() -> None:
                with node.job(o, "exit"):
                    self._exited_locked(o, p)
            node.watcher.call_soon(later)

    def _exited_locked(self, o: DomainObj, p: Proc) -> None:
        if o.priv is not p or p.stopped or p.being_destroyed:
            return
        p.mon.pump(blocking=True)       # the last events (SHUTDOWN) come first
        with self.node.lock:
            state = o.state
        if state == DomainState.SHUTDOWN:
            finish(self.node, o, p, DomainShutoffReason.SHUTDOWN, Ev.STOPPED, Stopped.SHUTDOWN)
        elif state == DomainState.CRASHED:
            finish(self.node, o, p, DomainShutoffReason.CRASHED, Ev.STOPPED, Stopped.CRASHED)
        else:
            finish(self.node, o, p, DomainShutoffReason.CRASHED, Ev.STOPPED, Stopped.FAILED)

    # -- starting -----------------------------------------------------------------------
    def _start(self, o: DomainObj, flags: int, *, restored: bool = False,
               incoming_fd: int | None = None, was_running: bool = True,
               base: Any = None) -> None:
        """Launch, then run or stay paused; events in libvirt's order (module doc)."""
        node = self.node
        if base is None:
            base = o.persistent_def() if o.persistent else o.def_
        p = launch(node, o, base, self._on_event, self._on_exit, incoming_fd)
        paused = bool(flags & DomainCreateFlags.START_PAUSED) or not was_running
        started = Started.RESTORED if restored else Started.BOOTED
        if paused:
            with node.lock:
                if restored:
                    o.set_state(DomainState.PAUSED, DomainPausedReason.MIGRATION
                                if not was_running else DomainPausedReason.USER)
                else:
                    o.set_state(DomainState.PAUSED, DomainPausedReason.USER)
                node.lifecycle(o, Ev.STARTED, started)
                node.lifecycle(o, Ev.SUSPENDED,
                               Suspended.RESTORED if restored else Suspended.PAUSED)
            node.save_status(o, sync=True)
            return
        if restored:
            node.lifecycle(o, Ev.STARTED, started)
        p.running_reason = DomainRunningReason.RESTORED if restored else \
            DomainRunningReason.BOOTED
        try:
            p.mon.command("cont")
        except QMPError as exc:
            p.being_destroyed = True
            node.watcher.remove(p.pidfd)
            terminate(p, 1.0)
            finish(node, o, p, DomainShutoffReason.FAILED, None)
            raise monitor_error(exc, "cont") from None
        with node.lock:
            if o.state != DomainState.RUNNING:     # no RESUME seen (should not happen)
                o.set_state(DomainState.RUNNING, p.running_reason or DomainRunningReason.BOOTED)
            if not restored:
                node.lifecycle(o, Ev.STARTED, started)
        node.save_status(o, sync=True)      # a new owner must find it running

    # -- stopping -----------------------------------------------------------------------
    def domain_destroy(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 3, "qemuDomainDestroyFlags", Q)
        node = self.node
        with node.lock:
            o, p = self._obj_active(dom)
            p.being_destroyed = True
        # kill first, so that a job stuck talking to QEMU gives up (libvirt's
        # qemuProcessBeginStopJob), then take the job
        node.watcher.remove(p.pidfd)
        node.watcher.remove_monitor(p.mon)
        signal_term(p)
        with node.job(o, "destroy"):
            if o.priv is not p or p.stopped:
                dom.id = -1
                return
            graceful = bool(flags & 1)
            if not terminate(p, 10.0 if graceful else 3.0, force=not graceful):
                p.being_destroyed = False
                node.watcher.add_pidfd(p.pidfd, lambda: self._on_exit(o, p))
                raise error(ErrorNumber.OPERATION_FAILED, Q,
                            f"failed to kill qemu process with SIGTERM (pid {p.pid})")
            p.mon.pump(blocking=True)   # SHUTDOWN/HOST, as libvirt reports it
            finish(node, o, p, DomainShutoffReason.DESTROYED, Ev.STOPPED, Stopped.DESTROYED)
        dom.id = -1

    def domain_shutdown(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0x1F, "qemuDomainShutdownFlags", Q)
        node = self.node
        o = self._obj(dom)
        with node.job(o, "shutdown"):
            with node.lock:
                if o.state != DomainState.RUNNING or o.priv is None:
                    raise error(ErrorNumber.OPERATION_INVALID, Q, "domain is not running")
                p: Proc = o.priv
            if flags and not flags & 1:
                if flags & 2:
                    raise error(ErrorNumber.ARGUMENT_UNSUPPORTED, Q,
                                "QEMU guest agent is not configured")
                raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                            "shutdown mode is not supported: use ACPI")
            self._mon(p, "system_powerdown")

    def domain_reboot(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0x1F, "qemuDomainReboot", Q)
        node = self.node
        o = self._obj(dom)
        with node.job(o, "reboot"):
            with node.lock:
                if o.state != DomainState.RUNNING or o.priv is None:
                    raise error(ErrorNumber.OPERATION_INVALID, Q, "domain is not running")
                p: Proc = o.priv
            if flags and not flags & 1:
                raise error(ErrorNumber.ARGUMENT_UNSUPPORTED, Q,
                            "QEMU guest agent is not configured")
            # ACPI power button now, system_reset + cont once the guest has powered off
            p.fake_reboot = True
            try:
                self._mon(p, "system_powerdown")
            except BaseException:
                p.fake_reboot = False
                raise

    def domain_reset(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "qemuDomainReset", Q)
        node = self.node
        o = self._obj(dom)
        with node.job(o, "reset"):
            with node.lock:
                o, p = self._obj_active(dom)
            self._mon(p, "system_reset")
            with node.lock:
                p.paused_shutdown = False
                if o.state == DomainState.CRASHED:
                    o.set_state(DomainState.PAUSED, DomainPausedReason.CRASHED)

    def domain_suspend(self, dom: DomainHandle) -> None:
        node = self.node
        o = self._obj(dom)
        with node.job(o, "suspend"):
            with node.lock:
                o, p = self._obj_active(dom)
                if o.state == DomainState.PMSUSPENDED:
                    raise error(ErrorNumber.OPERATION_INVALID, Q,
                                "domain is pmsuspended")
                if o.state == DomainState.PAUSED:
                    return
                p.paused_reason = DomainPausedReason.USER
            self._mon(p, "stop")
            with node.lock:     # the STOP event came before the reply; belt and braces
                if int(o.state) == DomainState.RUNNING and not p.stopped:
                    o.set_state(DomainState.PAUSED, DomainPausedReason.USER)
                    node.lifecycle(o, Ev.SUSPENDED, Suspended.PAUSED)
                    node.save_status(o)

    def domain_resume(self, dom: DomainHandle) -> None:
        node = self.node
        o = self._obj(dom)
        with node.job(o, "resume"):
            with node.lock:
                o, p = self._obj_active(dom)
                if o.state == DomainState.PMSUSPENDED:
                    raise error(ErrorNumber.OPERATION_INVALID, Q, "domain is pmsuspended")
                if o.state == DomainState.CRASHED:
                    raise error(ErrorNumber.OPERATION_INVALID, Q, "domain is crashed")
                if o.state == DomainState.RUNNING:
                    return
                p.running_reason = DomainRunningReason.UNPAUSED
            self._mon(p, "cont")
            with node.lock:     # (the RESUME event has usually done this already)
                if int(o.state) != DomainState.RUNNING and not p.stopped:
                    o.set_state(DomainState.RUNNING, DomainRunningReason.UNPAUSED)
                    node.lifecycle(o, Ev.RESUMED, Resumed.UNPAUSED)
                    node.save_status(o)


def _balloon_change(self: LifecycleSlots, o: DomainObj, p: Proc, msg: QmpMessage) -> None:
    self._ev_balloon_change(o, p, msg)     # BalloonSlots, mixed into QemuDriver


_HANDLERS = {
    "STOP": LifecycleSlots._ev_stop,
    "RESUME": LifecycleSlots._ev_resume,
    "SHUTDOWN": LifecycleSlots._ev_shutdown,
    "RESET": LifecycleSlots._ev_reset,
    "GUEST_PANICKED": LifecycleSlots._ev_panicked,
    "POWERDOWN": LifecycleSlots._ev_powerdown,
    "BALLOON_CHANGE": _balloon_change,
}
