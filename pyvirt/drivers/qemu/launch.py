"""Starting a domain's QEMU and tearing a run down: the steps around qemu-system.

`launch` does what libvirt's qemuProcessStart does, in order: checks (accelerator,
disk sources, CPU model), the live definition (aliases, RAM file), the monitor socket,
the process (paused, -S), the QMP handshake, runtime facts read back over QMP (pty
paths, the VNC port), an incoming migration stream for a restore, the watcher, the
status file.  When QEMU exits during any of it, the error carries what QEMU printed.
`finish` ends a run (libvirt's qemuProcessStop): monitor, files, ids, state, event.
"""
from __future__ import annotations

import copy
import logging
import os
import signal
import time
from collections.abc import Callable
from typing import Any

from ...constants import DomainPausedReason, DomainState, ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.domain_format import format_domain
from ...xml.domain_model import CharSource, DomainDef
from ..domobj import DomainObj
from ..util import name_tag
from .command import LaunchSpec, assign_aliases, build_argv, memory_backing
from .node import Proc, QemuNode
from .process import (
    INCOMING_FD,
    MONITOR_FD,
    MonitorSocket,
    kill_and_wait,
    pidfd_open,
    process_start_time,
    reap,
    socket_path_alias,
    spawn,
    start_error,
    wait_exit,
)
from .qmp import QMPClient, QMPError
from .state import Status

__all__ = ["finish", "has_balloon", "launch", "ram_regions", "refresh_balloon", "wait_incoming"]

log = logging.getLogger(__name__)
Q = ErrorDomain.QEMU
CONNECT_TIMEOUT = 30.0

_ENV_KEEP = ("LANG", "TZ")


def ram_regions(machine: str, mem_bytes: int) -> list[tuple[int, int, int]]:
    """Guest-physical RAM -> file offset, as QEMU's pc_memory_init lays it out, with the
    legacy VGA/ROM window 0xa0000-0x100000 left out (reads there go to QEMU, which shows
    what the guest sees: ROM or device memory)."""
    q35 = "q35" in machine
    if q35:
        lowmem = 0x80000000 if mem_bytes >= 0xB0000000 else min(mem_bytes, 0xB0000000)
    else:
        lowmem = 0xC0000000 if mem_bytes >= 0xE0000000 else min(mem_bytes, 0xE0000000)
    out = [(0, min(lowmem, 0xA0000), 0)]
    if lowmem > 0x100000:
        out.append((0x100000, lowmem - 0x100000, 0x100000))
    if mem_bytes > lowmem:
        out.append((1 << 32, mem_bytes - lowmem, lowmem))
    return out


def _ram_file(node: QemuNode, d: DomainDef, dom_id: int) -> str | None:
    mb = memory_backing(d)
    if mb.get("source") not in ("file", None) or mb.get("access") != "shared":
        return None
    if mb.get("hugepages"):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q, "hugepages are not supported")
    # tmpfs keeps guest RAM out of the page cache of a real disk (libvirt's
    # memory_backing_dir would be on disk); one directory per root
    tag = name_tag(node.layout.root)
    base = f"/dev/shm/pyvirt-{tag}" if os.path.isdir("/dev/shm") else \
        os.path.join(node.layout.run, "ram")
    os.makedirs(base, mode=0o700, exist_ok=True)
    return os.path.join(base, f"{d.uuid}-{dom_id}.ram")


def has_balloon(d: DomainDef) -> bool:
    mb = d.devices.memballoon
    return mb is not None and mb.model != "none"


def refresh_balloon(mon: QMPClient, live: DomainDef) -> None:
    """Set the live currentMemory from QEMU's balloon (qemuProcessRefreshBalloonState);
    without a balloon device the guest has all of its memory."""
    if not has_balloon(live):
        live.current_memory = live.memory
        return
    try:
        actual = int(mon.execute("query-balloon").get("actual", 0))
    except QMPError as exc:
        log.warning("%s: cannot read the balloon: %s", live.name, exc)
        return
    if actual > 0:
        live.current_memory = actual // 1024


def _setup_balloon(mon: QMPClient, live: DomainDef) -> None:
    """At start, ask for the configured currentMemory when it is below the maximum
    (qemuProcessSetupBalloon), then read back what the guest has."""
    want = live.current_memory or live.memory or 0
    if has_balloon(live) and want and live.memory and want < live.memory:
        try:
            mon.command("balloon", {"value": want * 1024})
        except QMPError as exc:
            log.warning("%s: cannot set the balloon target: %s", live.name, exc)
    refresh_balloon(mon, live)


def _check_sources(d: DomainDef) -> None:
    """Disk sources must be there (libvirt: virStorageSourceAccess on start)."""
    for dk in d.devices.disks:
        if not dk.source:
            continue
        mode = os.R_OK if dk.readonly or dk.device == "cdrom" else os.R_OK | os.W_OK
        if not os.access(dk.source, mode):
            err = "No such file or directory" if not os.path.exists(dk.source) else \
                "Permission denied"
            raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.STORAGE,
                        f"Cannot access storage file '{dk.source}': {err}")


def _accel(node: QemuNode, d: DomainDef) -> str:
    if d.type == "kvm":
        if not node.kvm_ok:
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "Domain requires KVM, but it is not available. Check that "
                        "virtualization is enabled in the host BIOS, and host configuration "
                        f"is setup to load the kvm modules. ({node.kvm_why})")
        return "kvm"
    return "tcg"


def _check_cpu(node: QemuNode, d: DomainDef, accel: str) -> None:
    cpu = d.cpu
    if cpu is None or cpu.mode != "custom" or not cpu.model:
        return
    names = {c["name"] for c in node.caps().cpus.get(accel, node.caps().cpus["tcg"])}
    if cpu.model not in names:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.CPU,
                    f"Unknown CPU model {cpu.model}")


def _env() -> dict[str, str]:
    env = {"LC_ALL": "C", "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    for k in _ENV_KEEP:
        if k in os.environ:
            env[k] = os.environ[k]
    return env


def launch(node: QemuNode, o: DomainObj, base: DomainDef,
           on_event: Callable[[DomainObj, Proc, Any], None],
           on_exit: Callable[[DomainObj, Proc], None],
           incoming_fd: int | None = None) -> Proc:
    """Start QEMU for `o` (its job held, inactive) from definition `base`; on return
    `o` is active and paused (PAUSED/STARTING_UP, or the caller sets another state)
    with its live definition in `o.def_`."""
    caps = node.caps()
    accel = _accel(node, base)
    live = copy.deepcopy(base)
    _check_cpu(node, live, accel)
    _check_sources(live)
    dom_id = node.new_id()
    assign_aliases(live)
    ram_path = _ram_file(node, live, dom_id)
    if ram_path is not None:
        try:
            os.unlink(ram_path)
        except FileNotFoundError:
            pass
    lay = node.layout
    mon_path = lay.monitor_path(dom_id)
    log_path = lay.log_path(live.name)
    spec = LaunchSpec(emulator=live.devices.emulator or caps.emulator, accel=accel,
                      machine=live.os.machine or caps.canonical_machine(None) or "pc",
                      monitor_fd=MONITOR_FD, ram_path=ram_path)
    argv = build_argv(live, spec)
    if incoming_fd is not None:
        argv[-2:-2] = ["-incoming", f"fd:{INCOMING_FD}"]
    header = (f"{time.strftime('%Y-%m-%d %H:%M:%S')}: starting up pyvirt, qemu version "
              f"{caps.version // 1000000}.{caps.version // 1000 % 1000}."
              f"{caps.version % 1000}\n" + " ".join(argv) + "\n").encode()
    with open(log_path, "ab") as f:
        f.write(header)
        offset = f.tell()
    mon = MonitorSocket(mon_path, lay.run_fd)
    fds = {MONITOR_FD: mon.fileno()}
    if incoming_fd is not None:
        fds[INCOMING_FD] = incoming_fd
    try:
        pid = spawn(argv, log_path, fds, _env())
    finally:
        mon.close()
    pidfd = pidfd_open(pid)
    status = Status(name=live.name, uuid=live.uuid or "", id=dom_id, pid=pid,
                    pid_start=process_start_time(pid), monitor=mon_path,
                    state=int(DomainState.PAUSED), reason=int(DomainPausedReason.STARTING_UP),
                    persistent=o.persistent, xml="", log=log_path, ram_path=ram_path,
                    child_of=os.getpid())
    proc = Proc(pid=pid, pidfd=pidfd, pid_start=status.pid_start, monitor_path=mon_path,
                log_path=log_path, mon=QMPClient(live.name), child=True, status=status,
                ram_path=ram_path)
    proc.mon.on_event = lambda msg: on_event(o, proc, msg)
    if ram_path is not None:
        proc.ram_regions = ram_regions(spec.machine, (live.memory or 0) * 1024)
        status.ram_regions = [list(r) for r in proc.ram_regions]
    try:
        try:
            proc.mon.connect(socket_path_alias(mon_path, lay.run_fd), CONNECT_TIMEOUT)
        except (QMPError, OSError) as exc:
            # QEMU that refuses its configuration exits; give it a moment to, so that
            # the error carries its own message rather than a dropped connection
            exited = wait_exit(pidfd, 2.0)
            kill_and_wait(pid, pidfd, 1.0)
            if exited:
                raise start_error(log_path, offset,
                                  "process exited while connecting to monitor") from None
            raise error(ErrorNumber.INTERNAL_ERROR, Q,
                        f"cannot talk to QEMU's monitor: {exc}") from None
        _runtime_facts(proc.mon, live)
        if incoming_fd is not None:
            wait_incoming(proc, log_path, offset)
            refresh_balloon(proc.mon, live)     # the balloon came with the stream
        else:
            _setup_balloon(proc.mon, live)
    except BaseException:
        proc.mon.close()
        kill_and_wait(pid, pidfd, 1.0)
        os.close(pidfd)
        _remove_files(proc)
        raise
    with node.lock:
        if o.persistent and o.new_def is None:
            o.new_def = o.def_
        o.def_ = live
        node.domains.set_id(o, dom_id)
        o.set_state(DomainState.PAUSED, DomainPausedReason.STARTING_UP)
        o.priv = proc
        status.xml = format_domain(live, live_id=dom_id)
    node.watcher.add_monitor(proc.mon, lambda: None)
    node.watcher.add_pidfd(pidfd, lambda: on_exit(o, proc))
    node.save_status(o, sync=True)
    return proc


def _runtime_facts(mon: QMPClient, live: DomainDef) -> None:
    """Read back what QEMU chose at start: pty paths, the VNC port (libvirt's
    qemuProcessRefreshChardevs / qemuProcessGraphicsSetupListen)."""
    chardevs = [c for c in (live.devices.serials + live.devices.parallels +
                            live.devices.consoles + live.devices.channels) if c.type == "pty"]
    if chardevs:
        ptys = {c["label"]: c["filename"] for c in mon.execute("query-chardev")}
        for ch in chardevs:
            fn = ptys.get(f"char{ch.alias}", "")
            if fn.startswith("pty:"):
                path = fn[4:]
                ch.tty = path
                ch.sources = [CharSource((("path", path),))]
    for g in live.devices.graphics:
        if g.type == "vnc" and (g.autoport or g.port <= 0) and not any(
                li.type == "socket" for li in g.listens):
            info = mon.execute("query-vnc")
            if info.get("service"):
                g.port = int(info["service"])
        if g.passwd:
            mon.command("set_password", {"protocol": "vnc", "password": g.passwd})


def wait_incoming(proc: Proc, log_path: str, offset: int, timeout: float = 600.0) -> None:
    """Wait until QEMU has loaded an incoming migration stream (a restore): its run
    state leaves 'inmigrate'.  A stream QEMU cannot load makes it exit; the error then
    carries what it printed."""
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            run = proc.mon.execute("query-status").get("status")
        except QMPError:
            raise start_error(log_path, offset, "cannot restore the domain's memory") from None
        if run != "inmigrate":
            return
        if time.monotonic() > deadline:
            raise error(ErrorNumber.OPERATION_TIMEOUT, Q, "restoring the domain's memory")
        time.sleep(delay)
        delay = min(delay * 2, 0.01)


def _remove_files(proc: Proc) -> None:
    for p in (proc.monitor_path, proc.ram_path):
        if p:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass


def finish(node: QemuNode, o: DomainObj, proc: Proc, reason: int, event: int | None,
           detail: int = 0) -> None:
    """End the run `proc` of `o` (it has exited or is being abandoned): close the
    monitor, drop the run's files, put `o` in SHUTOFF/reason and queue the event."""
    node.watcher.remove_monitor(proc.mon)
    node.watcher.remove(proc.pidfd)
    proc.mon.close()
    reap(proc.pid)
    if proc.ram is not None:
        proc.ram.close()
    _remove_files(proc)
    with node.lock:
        if proc.stopped:
            return
        proc.stopped = True
        try:
            os.close(proc.pidfd)
        except OSError:
            pass
        node.remove_status(o.name)
        node.domains.set_id(o, -1)
        o.set_state(DomainState.SHUTOFF, reason)
        o.priv = None
        if o.new_def is not None:
            o.def_, o.new_def = o.new_def, None
        if event is not None:
            node.lifecycle(o, event, detail)
        if not o.persistent:
            node.domains.remove(o)


def terminate(proc: Proc, graceful: float = 3.0, force: bool = True) -> bool:
    """Stop the process: SIGTERM, then SIGKILL after `graceful` s (libvirt's
    qemuProcessKill); True once it has exited."""
    if proc.exited.is_set():
        reap(proc.pid)
        return True
    done = kill_and_wait(proc.pid, proc.pidfd, graceful, force=force)
    if done:
        proc.exited.set()
    return done


def signal_term(proc: Proc) -> None:
    try:
        signal.pidfd_send_signal(proc.pidfd, signal.SIGTERM)
    except (ProcessLookupError, OSError):
        pass

