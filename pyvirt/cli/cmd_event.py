"""The `event` command: list domain event types, or wait for events and print them the
way virsh does ("event 'lifecycle' for domain 'test': Suspended Paused")."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import libvirtError
from .control import Control
from .loop import INTERRUPT, TIMEOUT, Waiter, ensure_running
from .names import event_detail, event_name
from .options import bool_opt, command, int_opt, string_opt
from .parser import ParsedCommand

__all__ = ["EVENT_NAMES", "format_event"]


def _pick(table: tuple[str, ...], i: int, default: str) -> str:
    return table[i] if 0 <= int(i) < len(table) else default


def _params(params: Any) -> str:
    """Typed parameters as '\\tfield: value' lines (virTypedParameterToString)."""
    items = params.items() if isinstance(params, dict) else list(params or [])
    out = []
    for field, value in items:
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, float):
            text = f"{value:f}"
        else:
            text = str(value)
        out.append(f"\t{field}: {text}\n")
    return "".join(out)


def _nullstr(value: Any) -> str:
    return "(null)" if value is None else str(value)


_WATCHDOG = ("none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi")
_IO_ACTION = ("none", "pause", "report")
_GRAPHICS_PHASE = ("connect", "initialize", "disconnect")
_GRAPHICS_FAMILY = ("IPv4", "IPv6", "unix")
_JOB_TYPE = ("Unknown job", "Block Pull", "Block Copy", "Block Commit", "Active Block Commit",
             "Backup")
_JOB_STATUS = ("completed", "failed", "canceled", "ready")
_DISK_CHANGE = ("changed", "dropped")
_AGENT_STATE = ("unknown", "connected", "disconnected")
_AGENT_REASON = ("unknown", "domain started", "channel event")
_METADATA = ("description", "title", "element")
_MF_RECIPIENT = ("hypervisor", "guest")
_MF_ACTION = ("ignore", "inject", "fatal", "reset")


def _addr(addr: Any) -> str:
    """A graphics address as 'IPv4 node service' (a dict or a 3-item sequence)."""
    if isinstance(addr, dict):
        family, node, service = addr.get("family"), addr.get("node"), addr.get("service")
    else:
        family, node, service = addr
    return f"{_pick(_GRAPHICS_FAMILY, int(family or 0), 'unknown')} {node} {service}"


def format_event(name: str, dom: str, *f: Any) -> str:
    """The text virsh prints for event `name` about domain `dom` with callback fields `f`."""
    head = f"event '{name}' for domain '{dom}'"
    if name == "lifecycle":
        return f"{head}: {event_name(f[0])} {event_detail(f[0], f[1])}\n"
    if name in ("reboot", "control-error", "pm-wakeup", "pm-suspend", "pm-suspend-disk"):
        return f"{head}\n"
    if name == "rtc-change":
        return f"{head}: {int(f[0])}\n"
    if name == "watchdog":
        return f"{head}: {_pick(_WATCHDOG, f[0], 'unknown')}\n"
    if name == "io-error":
        return f"{head}: {f[0]} ({f[1]}) {_pick(_IO_ACTION, f[2], 'unknown')}\n"
    if name == "io-error-reason":
        return f"{head}: {f[0]} ({f[1]}) {_pick(_IO_ACTION, f[2], 'unknown')} due to {f[3]}\n"
    if name == "graphics":
        phase, local, remote, scheme, subject = f[:5]
        text = (f"{head}: {_pick(_GRAPHICS_PHASE, phase, 'unknown')} local[{_addr(local)}] "
                f"remote[{_addr(remote)}] {scheme}\n")
        for kind, ident in subject or []:
            text += f"\t{kind}={ident}\n"
        return text
    if name in ("block-job", "block-job-2"):
        return (f"{head}: {_pick(_JOB_TYPE, f[1], 'Unknown job')} for {f[0]} "
                f"{_pick(_JOB_STATUS, f[2], 'unknown')}\n")
    if name == "disk-change":
        return (f"event 'disk-change' for domain '{dom}' disk {f[2]}: {_nullstr(f[0])} -> "
                f"{_nullstr(f[1])}: {_pick(_DISK_CHANGE, f[3], 'unknown')}\n")
    if name == "tray-change":
        state = _pick(("opened", "closed"), f[1], "unknown")
        return f"event 'tray-change' for domain '{dom}' disk {f[0]}: {state}\n"
    if name == "balloon-change":
        return f"{head}: {int(f[0])}KiB\n"
    if name in ("device-removed", "device-added", "device-removal-failed"):
        return f"{head}: {f[0]}\n"
    if name in ("tunable", "job-completed"):
        return f"{head}:\n{_params(f[0])}"
    if name == "agent-lifecycle":
        return (f"{head}: state: '{_pick(_AGENT_STATE, f[0], 'unsupported value')}' "
                f"reason: '{_pick(_AGENT_REASON, f[1], 'unsupported value')}'\n")
    if name == "migration-iteration":
        return f"{head}: iteration: '{int(f[0])}'\n"
    if name == "metadata-change":
        return (f"{head}: type {_pick(_METADATA, f[0], 'unsupported value')}, "
                f"uri {_nullstr(f[1])}\n")
    if name == "block-threshold":
        return f"{head}: dev: {f[0]}({_nullstr(f[1])}) {int(f[2])} {int(f[3])}\n"
    if name == "memory-failure":
        flags = int(f[2])
        return (f"{head}:\nrecipient: {_pick(_MF_RECIPIENT, f[0], 'unsupported value')}\n"
                f"action: {_pick(_MF_ACTION, f[1], 'unsupported value')}\n"
                f"flags:\n\taction required: {1 if flags & 1 else 0}\n"
                f"\trecursive: {1 if flags & 2 else 0}\n")
    if name == "memory-device-size-change":
        return f"{head}:\nalias: {f[0]}\nsize: {int(f[1])}\n"
    return f"{head}\n"


# virDomainEventID order: the position is the event ID (libvirt 9.0 knows 27)
EVENT_NAMES = (
    "lifecycle", "reboot", "rtc-change", "watchdog", "io-error", "graphics",
    "io-error-reason", "control-error", "block-job", "disk-change", "tray-change",
    "pm-wakeup", "pm-suspend", "balloon-change", "pm-suspend-disk", "device-removed",
    "block-job-2", "tunable", "agent-lifecycle", "device-added", "migration-iteration",
    "job-completed", "device-removal-failed", "metadata-change", "block-threshold",
    "memory-failure", "memory-device-size-change")


def _timestamp() -> str:
    """'2023-01-31 12:34:56.789+0000' (virTimeStringNowRaw, UTC)."""
    now = time.time()
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now)) + \
        f".{int(now * 1000) % 1000:03d}+0000"


class _Printer:
    """Prints events as they arrive; in one-shot mode only the first, then ends the wait."""

    def __init__(self, ctl: Control, loop: bool, timestamp: bool, waiter: Waiter) -> None:
        self.ctl, self.loop, self.timestamp, self.waiter = ctl, loop, timestamp, waiter
        self.count = 0
        self.closed = False   # set once the summary is printed: later events are dropped
        self.lock = threading.Lock()

    def callback(self, name: str) -> Callable[..., None]:
        def cb(conn: Any, dom: Any, *fields: Any) -> None:
            fields = fields[:-1]  # the last one is the opaque value
            with self.lock:
                if self.closed or (not self.loop and self.count):
                    return
                text = format_event(name, dom.name, *fields)
                if self.timestamp:
                    text = f"{_timestamp()}: {text}"
                self.ctl.print(text)
                self.ctl.flush()
                self.count += 1
                if not self.loop:
                    self.waiter.done()
        return cb


@command("event", group="events", help="Domain Events",
         desc="List event types, or wait for domain events to occur",
         opts=[string_opt("domain", "filter by domain name, id or uuid"),
               string_opt("event", "which event type to wait for"),
               bool_opt("all", "wait for all events instead of just one type"),
               bool_opt("loop", "loop until timeout or interrupt, rather than one-shot"),
               int_opt("timeout", "timeout seconds"),
               bool_opt("list", "list valid event types"),
               bool_opt("timestamp", "show timestamp for each printed event")])
def cmd_event(ctl: Control, pc: ParsedCommand) -> bool:
    ctl.exclusive(pc, "all", "event")
    ctl.exclusive(pc, "list", "all")
    ctl.exclusive(pc, "list", "event")
    if pc.flag("list"):
        for name in EVENT_NAMES:
            ctl.print(f"{name}\n")
        return True
    event = ctl.opt_string(pc, "event")
    if event is None and not pc.flag("all"):
        raise ctl.fail("one of --list, --all, or --event <type> is required")
    wanted = [i for i, n in enumerate(EVENT_NAMES) if event is None or n == event]
    if not wanted:
        raise ctl.fail(f"unknown event type {event}")
    timeout = ctl.opt_timeout_ms(pc)
    dom = ctl.domain(pc) if pc.has("domain") else None
    try:
        ensure_running()
    except ImportError:
        raise ctl.fail("pyvirt has no event loop (pyvirt.eventloop) to deliver events on") \
            from None
    waiter = Waiter(timeout)
    printer = _Printer(ctl, pc.flag("loop"), pc.flag("timestamp"), waiter)
    ids: list[int] = []
    ok = False
    try:
        for n, event_id in enumerate(wanted):
            try:
                ids.append(ctl.c.domain_event_register_any(
                    dom, event_id, printer.callback(EVENT_NAMES[event_id]), None))
            except libvirtError as e:
                # with --all, a server that knows fewer events is fine after the first
                if n == 0:
                    ctl.save_error(e)
                    return False
                ctl.reset_error()
        try:
            ctl.notify("event-wait")
            outcome = waiter.wait()
        except KeyboardInterrupt:
            # Ctrl-C once the callbacks are in place ends the wait, wherever it lands
            outcome = INTERRUPT
        with printer.lock:
            printer.closed = True
            if outcome == INTERRUPT:
                ctl.print("event loop interrupted\n")
            elif outcome == TIMEOUT:
                ctl.print("event loop timed out\n")
            ctl.print(f"events received: {printer.count}\n")
            # like virsh, a wait that saw no event fails (with nothing more to say)
            ok = printer.count > 0
    finally:
        for cid in ids:
            try:
                ctl.c.domain_event_deregister_any(cid)
            except libvirtError as e:
                ctl.save_error(e)
                ok = False
    return ok
