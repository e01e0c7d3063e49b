"""One embedded root's driver state, shared by every connection a process opens on it.

A QemuNode owns the root (the flock in state.OwnerLock), the domain list, the event
callbacks, the watcher thread, the probed capabilities, and the per-run state of each
active domain (`Proc`, the domain object's `priv`).  Locking, as in libvirt's qemu
driver: `node.lock` guards the domain list and every field of every domain object and
is only ever held briefly, never across a QMP call; a domain's `job` lock serialises
the API calls that change or query one domain (calls on different domains run in
parallel); QMP clients have their own lock.  Order: job, then a QMP client, then
node.lock.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..._twins.abc import GuestRAM
from ...constants import DomainEventID, ErrorDomain, ErrorNumber
from ...errors import error
from ...events import EventState
from ...xml.domain_format import format_domain
from ..domobj import DomainObj, DomainObjList
from .caps import QemuCaps, default_emulator, load_caps
from .monitor import Watcher
from .process import kvm_usable
from .qmp import QMPClient
from .state import OwnerLock, RootLayout, Status, write_fast

__all__ = ["JOB_TIMEOUT", "Proc", "QemuNode"]

log = logging.getLogger(__name__)
Q = ErrorDomain.QEMU
JOB_TIMEOUT = 30.0      # libvirt's QEMU_JOB_WAIT_TIME
STATUS_DELAY = 0.05     # s: how long state changes gather before their status is written


class _Job:
    """The context manager node.job() returns (a class: cheaper than a generator on the
    hot paths: suspend, resume, monitor passthrough)."""

    __slots__ = ("lock", "what")

    def __init__(self, lock: threading.Lock, what: str) -> None:
        self.lock = lock
        self.what = what

    def __enter__(self) -> None:
        if not self.lock.acquire(timeout=JOB_TIMEOUT):
            raise error(ErrorNumber.OPERATION_TIMEOUT, Q, "cannot acquire state change lock"
                        + (f" for {self.what}" if self.what else ""))

    def __exit__(self, *exc: object) -> None:
        self.lock.release()


@dataclass(eq=False)
class Proc:
    """One run of one domain: its QEMU process and monitor (DomainObj.priv)."""

    pid: int
    pidfd: int
    pid_start: int | None
    monitor_path: str
    log_path: str
    mon: QMPClient
    child: bool                         # spawned by this process (we reap it)
    status: Status
    ram_path: str | None = None
    ram_regions: list[tuple[int, int, int]] = field(default_factory=list)
    ram: GuestRAM | None = None         # mapped on first memory peek
    paused_reason: int = 0              # what the next STOP means (priv->pausedReason)
    running_reason: int = 0             # what the next RESUME means (priv->runningReason)
    being_destroyed: bool = False
    fake_reboot: bool = False           # a SHUTDOWN is a reboot (virDomainReboot, ACPI)
    paused_shutdown: bool = False
    exited: threading.Event = field(default_factory=threading.Event)
    vcpu_gen: int = 0                   # bumped whenever vCPUs may run (RESUME, RESET)
    paging: tuple[int, int, int, bool] | None = None   # (vcpu_gen, cr3, mode, pse)
    stopped: bool = False               # the run has been finalised


class QemuNode:
    """The state of one embedded root in this process."""

    def __init__(self, uri: str, root: str) -> None:
        self.uri = uri
        self.layout = RootLayout(root)
        try:
            self.owner = OwnerLock(self.layout, uri)
        except BaseException:
            self.layout.close()
            raise
        self.lock = threading.RLock()
        self.domains = DomainObjList()
        self.events = EventState()
        self.emulator = default_emulator()
        self.kvm_ok, self.kvm_why = kvm_usable()
        self._caps: QemuCaps | None = None
        self._caps_lock = threading.Lock()
        self.last_id = self.layout.last_id()
        self.watcher = Watcher()
        self.closed = False
        self._dirty: dict[str, Proc] = {}
        self._dirty_event = threading.Event()
        self._status_lock = threading.Lock()
        self._writer = threading.Thread(target=self._status_writer, name="pyvirt-qemu-status",
                                        daemon=True)
        self._writer.start()
        self.engine: Any = None         # the QemuDriver that monitor events run on
        self.jobs: dict[bytes, Any] = {}    # raw UUID -> jobs.JobProgress of a save/restore

    # -- capabilities -------------------------------------------------------------------
    def caps(self) -> QemuCaps:
        with self._caps_lock:
            if self._caps is None:
                self._caps = load_caps(self.emulator, self.kvm_ok, self.layout.cache)
            return self._caps

    # -- ids, jobs, events --------------------------------------------------------------
    def new_id(self) -> int:
        with self.lock:
            used = set(self.domains.by_id)
            nid = self.last_id + 1
            while nid in used:
                nid += 1
            self.last_id = nid
            self.layout.save_last_id(nid)
            return nid

    def job(self, o: DomainObj, what: str = "") -> _Job:
        """Hold the domain's job lock (libvirt's qemuDomainObjBeginJob, 30 s wait):
        `with node.job(o, "suspend"): ...`."""
        return _Job(o.job, what)

    def lifecycle(self, o: DomainObj, event: int, detail: int) -> None:
        self.events.queue("domain", DomainEventID.LIFECYCLE, o.ref(), int(event), int(detail))

    def reboot_event(self, o: DomainObj) -> None:
        self.events.queue("domain", DomainEventID.REBOOT, o.ref())

    def save_status(self, o: DomainObj, *, sync: bool = False) -> None:
        """Record an active domain's live status (libvirt's qemuDomainSaveStatus).

        State changes (suspend, resume, events) are written by the status writer thread,
        coalesced: the QMP round trip of a suspend is ~0.2 ms and a file replace costs
        as much again, while the file only has to be right for the next owner, which
        re-reads the state from QEMU anyway.  Starting a domain writes synchronously:
        its status must exist before start() returns, so a new owner finds the guest."""
        p: Proc | None = o.priv
        if p is None or p.stopped:
            return
        with self.lock:
            st = p.status
            st.id, st.state, st.reason = o.id, int(o.state), int(o.reason)
            st.persistent = o.persistent
            st.paused_shutdown = p.paused_shutdown
            if not sync:
                self._dirty[o.name] = p
                self._dirty_event.set()
                return
            data = st.dump()
        self._write_status(st.name, data, p)

    def save_live_def(self, o: DomainObj) -> None:
        """The live definition of an active domain changed (balloon, vCPU hotplug):
        record it in the status file, so that a new owner reattaches with it."""
        with self.lock:
            p: Proc | None = o.priv
            o.changed()
            if p is None or p.stopped:
                return
            p.status.xml = format_domain(o.def_, live_id=o.id)
        self.save_status(o)

    def _write_status(self, name: str, data: bytes, p: Proc) -> None:
        with self._status_lock:
            if p.stopped:
                return
            try:
                write_fast(self.layout.status_path(name), data)
            except OSError as e:
                log.warning("cannot write status of %s: %s", name, e)

    def remove_status(self, name: str) -> None:
        """Drop a stopped run's status file (after Proc.stopped was set)."""
        with self.lock:
            self._dirty.pop(name, None)
        with self._status_lock:
            self.layout.remove_status(name)

    def _status_writer(self) -> None:
        while True:
            self._dirty_event.wait()
            if not self.closed:
                # let a burst of state changes settle: one write per domain per burst,
                # and no wakeups competing with the thread that is talking to QEMU
                time.sleep(STATUS_DELAY)
            with self.lock:
                self._dirty_event.clear()
                batch = [(name, p.status.dump(), p) for name, p in self._dirty.items()
                         if not p.stopped]
                self._dirty.clear()
            for name, data, p in batch:
                self._write_status(name, data, p)
            if self.closed:
                return

    def flush_status(self) -> None:
        """Write every pending status now (close, tests)."""
        with self.lock:
            batch = [(name, p.status.dump(), p) for name, p in self._dirty.items()
                     if not p.stopped]
            self._dirty.clear()
        for name, data, p in batch:
            self._write_status(name, data, p)

    # -- shutting down ------------------------------------------------------------------
    def close(self) -> None:
        """Release the root: guests keep running (a later owner reattaches)."""
        if self.closed:
            return
        self.closed = True
        self.watcher.close()
        self._dirty_event.set()
        self._writer.join(5)
        self.flush_status()
        with self.lock:
            objs = list(self.domains)
        for o in objs:
            p: Proc | None = o.priv
            if p is None:
                continue
            p.mon.close()
            if p.ram is not None:
                p.ram.close()
            try:
                os.close(p.pidfd)
            except OSError:
                pass
        self.events.close()
        self.owner.release()
        self.layout.close()

    def info(self) -> dict[str, Any]:
        return {"root": self.layout.root, "kvm": self.kvm_ok, "emulator": self.emulator}
