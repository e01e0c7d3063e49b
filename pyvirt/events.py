"""Object events: callbacks registered per connection, queued by drivers, delivered by the loop.

Modelled on libvirt's virObjectEventState: a driver queues an event when an object
changes; the queue is flushed from a timer on the registered event loop
(pyvirt.eventloop), never from inside the API call that caused it, so callbacks run in
the thread that runs the loop and may call back into the API freely.

Registration needs a registered event loop, as in libvirt ("could not initialize domain
event timer" otherwise). Callback IDs come from one counter per state starting at 0.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from . import eventloop
from .constants import ErrorDomain, ErrorNumber
from .errors import error, libvirtError

__all__ = ["EventState", "Event"]

log = logging.getLogger(__name__)

# What a driver-level callback receives: the object's ref, then the event's own fields.
Relay = Callable[..., None]


@dataclass(frozen=True, slots=True)
class Event:
    """One queued event: its family ("domain", "network", "storage_pool"), its event ID
    (VIR_DOMAIN_EVENT_ID_* ...), the ref of the object it is about, and its fields."""
    family: str
    event_id: int
    ref: tuple[Any, ...]
    args: tuple[Any, ...]


@dataclass(slots=True)
class _Registration:
    callback_id: int
    owner: object          # the connection (or remote client) that registered it
    family: str
    event_id: int
    uuid: bytes | None     # only events about this object; None for all
    relay: Relay


class EventState:
    """The callbacks and the pending events of one driver instance (shared by every
    connection to it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._regs: dict[int, _Registration] = {}
        self._queue: list[Event] = []
        self._next_id = 0
        self._timer = -1
        self._flushing = False

    # -- registration -------------------------------------------------------------------
    def register(self, owner: object, family: str, event_id: int, uuid: bytes | None,
                 relay: Relay) -> int:
        """Add a callback; returns its ID. Fails when no event loop is registered."""
        with self._lock:
            if self._timer < 0:
                try:
                    timer = eventloop.add_timeout(-1, self._on_timer, None)
                except libvirtError:
                    timer = -1
                if timer < 0:
                    raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.NONE,
                                f"could not initialize {family.replace('_', ' ')} event timer")
                self._timer = timer
            cid = self._next_id
            self._next_id += 1
            self._regs[cid] = _Registration(cid, owner, family, event_id, uuid, relay)
            return cid

    def deregister(self, owner: object, callback_id: int) -> None:
        with self._lock:
            reg = self._regs.get(callback_id)
            if reg is None or reg.owner is not owner:
                raise error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE,
                            f"could not find event callback {callback_id} for deletion")
            del self._regs[callback_id]

    def find(self, owner: object, family: str, event_id: int, relay_key: object) -> int | None:
        """The ID of owner's registration whose relay carries `relay_key` (legacy APIs
        that deregister by callback rather than by ID)."""
        with self._lock:
            for reg in self._regs.values():
                if (reg.owner is owner and reg.family == family and reg.event_id == event_id
                        and getattr(reg.relay, "key", None) is relay_key):
                    return reg.callback_id
        return None

    def remove_owner(self, owner: object) -> None:
        """Drop every callback of a connection that is closing."""
        with self._lock:
            for cid in [c for c, r in self._regs.items() if r.owner is owner]:
                del self._regs[cid]

    def count(self, owner: object | None = None) -> int:
        with self._lock:
            return sum(1 for r in self._regs.values() if owner is None or r.owner is owner)

    # -- queueing and delivery ----------------------------------------------------------
    def queue(self, family: str, event_id: int, ref: tuple[Any, ...], *args: Any) -> None:
        """Queue an event; it is delivered from the event loop. Cheap when nobody listens."""
        with self._lock:
            if not self._regs:
                return
            self._queue.append(Event(family, event_id, ref, args))
            if self._timer >= 0 and not self._flushing:
                eventloop.update_timeout(self._timer, 0)

    def _on_timer(self, timer: int, opaque: object) -> None:
        self.flush()

    def flush(self) -> None:
        """Deliver every queued event to the callbacks that match it, in queue order."""
        with self._lock:
            events, self._queue = self._queue, []
            if self._timer >= 0:
                eventloop.update_timeout(self._timer, -1)
            self._flushing = True
        try:
            for ev in events:
                with self._lock:
                    regs = [r for r in self._regs.values()
                            if r.family == ev.family and r.event_id == ev.event_id
                            and (r.uuid is None or r.uuid == ev.ref[1])]
                for r in regs:
                    try:
                        r.relay(ev.ref, *ev.args)
                    except Exception:  # a user callback must not stop delivery
                        log.exception("event callback %d raised", r.callback_id)
        finally:
            with self._lock:
                self._flushing = False
                if self._queue and self._timer >= 0:
                    eventloop.update_timeout(self._timer, 0)

    def close(self) -> None:
        """Release the loop timer (the driver state is going away)."""
        with self._lock:
            self._regs.clear()
            self._queue.clear()
            if self._timer >= 0:
                eventloop.remove_timeout(self._timer)
                self._timer = -1
