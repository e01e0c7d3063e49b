"""Human names of states, reasons and events, exactly as virsh prints them."""
from __future__ import annotations

__all__ = [
    "domain_state",
    "domain_state_reason",
    "event_detail",
    "event_name",
    "pool_state",
    "vcpu_state",
    "vol_type",
]

_STATES = ("no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed",
           "pmsuspended")

# reasons by state (virshDomain*ReasonTypeToString tables)
_REASONS: dict[int, tuple[str, ...]] = {
    0: ("unknown",),
    1: ("unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
        "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
        "post-copy failed"),
    2: ("unknown",),
    3: ("unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
        "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
        "post-copy", "post-copy failed", "api error"),
    4: ("unknown", "user"),
    5: ("unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
        "from snapshot", "daemon"),
    6: ("unknown", "panicked"),
    7: ("unknown",),
}

_EVENTS = ("Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown",
           "PMSuspended", "Crashed")
_EVENT_DETAILS: dict[int, tuple[str, ...]] = {
    0: ("Added", "Updated", "Renamed", "Snapshot"),
    1: ("Removed", "Renamed"),
    2: ("Booted", "Migrated", "Restored", "Snapshot", "Event wakeup"),
    3: ("Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
        "Post-copy", "Post-copy Error"),
    4: ("Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error"),
    5: ("Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot"),
    6: ("Finished", "Finished after guest request", "Finished after host request"),
    7: ("Memory", "Disk"),
    8: ("Panicked", "Crashloaded"),
}


def _pick(table: tuple[str, ...], i: int, default: str) -> str:
    return table[i] if 0 <= i < len(table) else default


def domain_state(state: int) -> str:
    return _pick(_STATES, int(state), "no state")


def domain_state_reason(state: int, reason: int) -> str:
    return _pick(_REASONS.get(int(state), ()), int(reason), "unknown")


def event_name(event: int) -> str:
    return _pick(_EVENTS, int(event), "unknown")


def event_detail(event: int, detail: int) -> str:
    return _pick(_EVENT_DETAILS.get(int(event), ()), int(detail), "unknown")


def vcpu_state(state: int) -> str:
    return _pick(("offline", "running", "blocked"), int(state), "no state")


def pool_state(state: int) -> str:
    return _pick(("inactive", "building", "running", "degraded", "inaccessible"),
                 int(state), "unknown")


def vol_type(kind: int) -> str:
    return _pick(("file", "block", "dir", "network", "netdir", "ploop"), int(kind), "unknown")
