"""Where qemu:///system and qemu:///session find pyvirtd, and the session autostart.

As libvirt (remote_sockets.c), a local URI resolves to a daemon's unix socket:
- system: ROOT/run/libvirt-sock (-ro for read-only), ROOT = $PYVIRT_SYSTEM_ROOT or
  /var/lib/pyvirt; $PYVIRT_SYSTEM_SOCKET names the read-write socket directly. It is
  never libvirtd's /run/libvirt/libvirt-sock: pyvirt does not talk to a libvirtd it was
  not pointed at.
- session: one daemon per user, ROOT = $PYVIRT_SESSION_ROOT or
  $XDG_DATA_HOME/pyvirt/session (~/.local/share/...); $PYVIRT_SESSION_SOCKET overrides
  the socket. When nobody listens there, the client starts `pyvirtd --root ROOT
  --timeout 30` (libvirt: libvirtd --timeout=120 via virNetSocketNewConnectUNIX's
  spawn), under a lock so that concurrent clients start one daemon, and waits for the
  socket. The daemon exits once it has had no clients and no running guests for the
  timeout.
"""
from __future__ import annotations

import fcntl
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error

__all__ = [
    "SESSION_TIMEOUT",
    "session_root",
    "session_socket",
    "system_root",
    "system_socket",
]

SESSION_TIMEOUT = 30          # seconds an idle session daemon lives ($PYVIRT_SESSION_TIMEOUT)
_START_WAIT = 15.0            # seconds to wait for a started daemon's socket


def system_root() -> Path:
    return Path(os.environ.get("PYVIRT_SYSTEM_ROOT") or "/var/lib/pyvirt")


def system_socket(readonly: bool = False) -> Path:
    """The system daemon's socket (read-only one when asked)."""
    env = os.environ.get("PYVIRT_SYSTEM_SOCKET")
    if env:
        return Path(env + "-ro" if readonly else env)
    return system_root() / "run" / ("libvirt-sock-ro" if readonly else "libvirt-sock")


def session_root() -> Path:
    env = os.environ.get("PYVIRT_SESSION_ROOT")
    if env:
        return Path(env)
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "pyvirt" / "session"


def _listening(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


def session_socket(autostart: bool = True) -> Path:
    """The session daemon's socket, starting the daemon first when nobody listens."""
    env = os.environ.get("PYVIRT_SESSION_SOCKET")
    if env:
        return Path(env)
    root = session_root()
    path = root / "run" / "libvirt-sock"
    if not autostart or _listening(path):
        return path
    (root / "run").mkdir(parents=True, exist_ok=True)
    with open(root / "run" / "autostart.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)    # one starter at a time; the rest then find it
        if _listening(path):
            return path
        with open(root / "run" / "autostart.log", "ab") as log:
            try:
                subprocess.Popen([sys.executable, "-m", "pyvirt.daemon", "--root", str(root),
                                  "--timeout", os.environ.get("PYVIRT_SESSION_TIMEOUT")
                                  or str(SESSION_TIMEOUT)],
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 close_fds=True, start_new_session=True).wait(_START_WAIT)
            except subprocess.TimeoutExpired:
                pass  # it daemonizes: the parent exits at once; a slow start is waited below
        deadline = time.monotonic() + _START_WAIT
        while time.monotonic() < deadline:
            if _listening(path):
                return path
            time.sleep(0.05)
    raise error(ErrorNumber.NO_CONNECT, ErrorDomain.RPC,
                f"the session daemon did not start (see {root / 'run' / 'autostart.log'})")
