"""The driver's watcher thread: reads QMP events while no command runs, notices exits.

One thread per driver instance (not per guest) waits on an epoll set holding every
guest's QMP socket and a pidfd per QEMU process (Linux 5.3+, readable once the process
has exited, whether or not it is our child; a new owner that reattached to a guest
started by an earlier one learns of its exit the same way).

QMP sockets are registered EPOLLONESHOT.  The thread that runs a command reads its own
reply (qmp.py); before sending it disarms the socket here (`busy`) so this thread does
not wake for the reply, and after releasing the client's lock it re-arms it (`idle`),
which also covers the case where this thread lost the race for the lock to that
command: the re-arm comes after the release, so pending events are read by whoever
wins next.  Callbacks run on this thread and may take the driver's locks.
"""
from __future__ import annotations

import logging
import os
import select
import threading
from collections.abc import Callable

from .qmp import QMPClient

__all__ = ["Watcher"]

log = logging.getLogger(__name__)

_MON = select.EPOLLIN | select.EPOLLONESHOT
_PID = select.EPOLLIN | select.EPOLLONESHOT


class Watcher:
    """An epoll thread for QMP sockets (events) and pidfds (exits)."""

    def __init__(self, name: str = "pyvirt-qemu-watch") -> None:
        self._ep = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._ep.register(self._wake_r, select.EPOLLIN)
        self._lock = threading.Lock()
        self._handlers: dict[int, Callable[[], None]] = {}
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # -- QMP sockets --------------------------------------------------------------------
    def add_monitor(self, client: QMPClient, on_lost: Callable[[], None]) -> None:
        """Read `client`'s events while it is idle; call on_lost() once its connection
        is gone."""
        fd = client.fileno()
        ep = self._ep

        def busy() -> None:
            try:
                ep.modify(fd, 0)
            except OSError:
                pass

        def idle() -> None:
            try:
                ep.modify(fd, _MON)
            except OSError:
                pass

        def ready() -> None:
            alive = client.pump(blocking=False)
            if alive is False:
                self.remove(fd)
                on_lost()
            elif alive:
                idle()
            # None: a command holds the client; it re-arms once it has released it

        with self._lock:
            self._handlers[fd] = ready
        client.on_busy, client.on_idle = busy, idle
        ep.register(fd, _MON)

    def remove_monitor(self, client: QMPClient) -> None:
        client.on_busy = client.on_idle = None
        try:
            fd = client.fileno()
        except Exception:
            return
        self.remove(fd)

    # -- processes ----------------------------------------------------------------------
    def add_pidfd(self, pidfd: int, on_exit: Callable[[], None]) -> None:
        """Call on_exit() once the process behind pidfd has exited (the caller owns the
        pidfd and closes it after remove())."""
        def ready() -> None:
            self.remove(pidfd)
            on_exit()
        with self._lock:
            self._handlers[pidfd] = ready
        self._ep.register(pidfd, _PID)

    def remove(self, fd: int) -> None:
        with self._lock:
            self._handlers.pop(fd, None)
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            try:
                ready = self._ep.poll()
            except InterruptedError:
                continue
            except (OSError, ValueError):
                return          # closed under us
            for fd, _ev in ready:
                if fd == self._wake_r:
                    if self._closing:
                        return
                    try:
                        os.read(self._wake_r, 64)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    handler = self._handlers.get(fd)
                if handler is None:
                    continue
                try:
                    handler()
                except Exception:
                    log.exception("QEMU watcher callback failed")

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run fn on a short-lived thread (work that must not run under the caller's
        locks, such as a fake reboot that needs the monitor)."""
        threading.Thread(target=fn, name="pyvirt-qemu-task", daemon=True).start()

    def close(self) -> None:
        self._closing = True
        os.write(self._wake_w, b"x")
        if threading.current_thread() is not self._thread:
            self._thread.join(5)
        self._ep.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
