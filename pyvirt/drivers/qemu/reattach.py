"""Taking a root over: load its configs, reattach to running guests, autostart.

What libvirt's qemuStateInitialize + qemuProcessReconnect do when the daemon starts:
every live status file names a QEMU process (pid + start time, so a recycled pid is
never mistaken for it) and its monitor socket.  A guest whose QEMU still runs is
reattached: same id, its monitor reconnected, its state re-read from QEMU (the file is
a hint; QEMU is the truth), events flowing again.  A guest whose QEMU is gone is shut
off: SHUTOFF/CRASHED (libvirt's reason when the monitor cannot be reached again for a
QEMU started with -no-shutdown/-action), or SHUTOFF/SHUTDOWN when QEMU is found paused
in its "shutdown" state (the guest powered off while nobody watched) and is stopped.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Protocol

from ...constants import (
    DomainCrashedReason,
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
)
from ...xml.domain_normalize import DomainDefaults, load_domain
from ..domobj import DomainObj
from .domdef import load_qemu_domain, raw_uuid
from .launch import finish, refresh_balloon, terminate
from .node import Proc, QemuNode
from .process import alive, pidfd_open, socket_path_alias
from .qmp import QMPClient, QMPError
from .state import Status

__all__ = ["load_root"]

log = logging.getLogger(__name__)


class Engine(Protocol):
    def _on_event(self, o: DomainObj, p: Proc, msg: Any) -> None: ...

    def _on_exit(self, o: DomainObj, p: Proc) -> None: ...

    def _start(self, o: DomainObj, flags: int) -> None: ...


def load_root(node: QemuNode, engine: Engine) -> None:
    """Configs, then live guests, then autostart."""
    _load_configs(node)
    for st in node.layout.statuses():
        try:
            _reattach(node, engine, st)
        except Exception:
            log.exception("cannot reattach to domain %s", st.name)
    with node.lock:
        ids = [o.id for o in node.domains if o.active]
        if ids:
            node.last_id = max(node.last_id, max(ids))
        pending = [o for o in node.domains if o.persistent and not o.active and
                   node.layout.get_autostart(o.name)]
    for o in pending:
        o.autostart = True
        try:
            with node.job(o, "autostart"):
                if not o.active:
                    engine._start(o, 0)
        except Exception as exc:
            log.warning("cannot autostart domain %s: %s", o.name, exc)


def _load_configs(node: QemuNode) -> None:
    caps = None
    for path, xml in node.layout.configs():
        try:
            if caps is None:
                caps = node.caps()
            d = load_qemu_domain(xml, caps)
        except Exception as exc:
            log.warning("ignoring config %s: %s", path, exc)
            continue
        node.layout.fix_config_name(path, d.name)
        o = DomainObj(def_=d, name=d.name, raw_uuid=raw_uuid(d), persistent=True)
        o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
        o.has_managed_save = os.path.exists(node.layout.managed_save_path(d.name))
        o.autostart = node.layout.get_autostart(d.name)
        with node.lock:
            if o.raw_uuid not in node.domains.by_uuid and o.name not in node.domains.by_name:
                node.domains.add(o)
    node.layout.prune_autostart()


def _cleanup_dead(node: QemuNode, st: Status) -> None:
    node.remove_status(st.name)
    for p in (st.monitor, st.ram_path):
        if p:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def _reattach(node: QemuNode, engine: Engine, st: Status) -> None:
    live = load_domain(st.xml, DomainDefaults(arch="x86_64", emulator=node.emulator))
    raw = raw_uuid(live)
    with node.lock:
        o = node.domains.by_uuid.get(raw)
    if o is None:
        o = DomainObj(def_=live, name=live.name, raw_uuid=raw, persistent=False)
        o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
        with node.lock:
            node.domains.add(o)
    if not alive(st.pid, st.pid_start):
        # the guest died while nobody owned the root: libvirt reports it crashed
        _cleanup_dead(node, st)
        with node.lock:
            reason: int = DomainShutoffReason.SHUTDOWN \
                if st.state == DomainState.SHUTDOWN else DomainShutoffReason.CRASHED
            o.set_state(DomainState.SHUTOFF, reason)
            if not o.persistent:
                node.domains.remove(o)
        return
    try:
        pidfd = pidfd_open(st.pid)
    except ProcessLookupError:
        _cleanup_dead(node, st)
        with node.lock:
            o.set_state(DomainState.SHUTOFF, DomainShutoffReason.CRASHED)
            if not o.persistent:
                node.domains.remove(o)
        return
    mon = QMPClient(live.name)
    proc = Proc(pid=st.pid, pidfd=pidfd, pid_start=st.pid_start, monitor_path=st.monitor,
                log_path=st.log, mon=mon, child=st.child_of == os.getpid(), status=st,
                ram_path=st.ram_path,
                ram_regions=[(int(a), int(b), int(c)) for a, b, c in st.ram_regions],
                paused_shutdown=st.paused_shutdown)
    mon.on_event = lambda msg: engine._on_event(o, proc, msg)
    try:
        mon.connect(socket_path_alias(st.monitor, node.layout.run_fd), 10.0)
        run = mon.execute("query-status").get("status", "")
        refresh_balloon(mon, live)      # BALLOON_CHANGE events while nobody listened
    except (QMPError, OSError) as exc:
        log.warning("%s: QEMU pid %d runs but its monitor is gone (%s); stopping it",
                    st.name, st.pid, exc)
        mon.close()
        proc.being_destroyed = True
        terminate(proc, 3.0)
        os.close(pidfd)
        _cleanup_dead(node, st)
        with node.lock:
            o.set_state(DomainState.SHUTOFF, DomainShutoffReason.DAEMON)
            if not o.persistent:
                node.domains.remove(o)
        return
    with node.lock:
        if o.persistent:
            o.new_def = o.def_
        o.def_ = live
        o.persistent = o.persistent or st.persistent
        node.domains.set_id(o, st.id)
        o.priv = proc
        state, reason = _state_of(run, st)
        o.set_state(state, reason)
    node.watcher.add_monitor(mon, lambda: None)
    node.watcher.add_pidfd(pidfd, lambda: engine._on_exit(o, proc))
    if run == "shutdown" and not proc.paused_shutdown:
        # powered off while unwatched: finish the shutdown now
        proc.being_destroyed = True
        node.watcher.remove(pidfd)
        terminate(proc, 3.0)
        finish(node, o, proc, DomainShutoffReason.SHUTDOWN, None)
        return
    node.save_status(o)


def _state_of(run: str, st: Status) -> tuple[DomainState, int]:
    """Domain state from QEMU's run state, keeping the recorded reason when it agrees
    (qemuProcessUpdateState)."""
    if run == "running":
        if st.state == DomainState.RUNNING:
            return DomainState.RUNNING, st.reason
        return DomainState.RUNNING, DomainRunningReason.UNPAUSED
    if run == "guest-panicked":
        return DomainState.CRASHED, DomainCrashedReason.PANICKED
    if run == "shutdown":
        return DomainState.SHUTDOWN, 0
    if st.state == DomainState.PAUSED:
        return DomainState.PAUSED, st.reason
    return DomainState.PAUSED, DomainPausedReason.UNKNOWN
