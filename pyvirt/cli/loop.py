"""The event loop pyvirsh delivers events on: pyvirt's default loop, run in a thread.

virsh registers libvirt's default event loop at start-up and runs it in a thread of its
own for the whole session; pyvirsh does the same, but only once a command needs events
(so plain commands never depend on pyvirt.eventloop). Waiting for events is separate:
`Waiter` is what `event` blocks on, woken by a callback, a timeout or Ctrl-C.
"""
from __future__ import annotations

import threading
import time

__all__ = ["DONE", "INTERRUPT", "TIMEOUT", "Waiter", "ensure_running"]

DONE, TIMEOUT, INTERRUPT = "done", "timeout", "interrupt"

def ensure_running() -> None:
    """Register pyvirt's default event loop (once per process) and run it in a daemon
    thread, unless the embedding program registered a loop of its own and runs it."""
    from .. import eventloop
    eventloop.run_default_in_thread("pyvirsh-eventloop")


class Waiter:
    """One wait for events (vshEventStart/Wait/Done): `done()` from a callback ends it."""

    def __init__(self, timeout_ms: int) -> None:
        self._event = threading.Event()
        self._timeout = timeout_ms / 1000.0 if timeout_ms else None

    def done(self) -> None:
        self._event.set()

    def wait(self) -> str:
        """Block until done(), the timeout, or Ctrl-C; say which."""
        deadline = None if self._timeout is None else time.monotonic() + self._timeout
        try:
            while True:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return TIMEOUT
                if self._event.wait(remaining):
                    return DONE
        except KeyboardInterrupt:
            return INTERRUPT
