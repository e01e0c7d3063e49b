"""Consoles: a connected byte stream to a guest's serial port (virDomainOpenConsole).

libvirt hands a virStream tied to the console's pty; pyvirt hands the stream itself:
an object with fileno/recv/send/close (a socket for a unix-socket serial port, a raw
pty otherwise), which is what pyvirsh's console relay and a test need.  As in
libvirt's qemuDomainOpenConsole, the console is found by alias (or the first console
when no name is given), must be a pty (or a unix socket in listen mode), and only one
session may hold it unless VIR_DOMAIN_CONSOLE_FORCE takes it over.
"""
from __future__ import annotations

import os
import socket
import termios
import tty
import weakref
from typing import TYPE_CHECKING, Any

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.domain_model import CharDevDef, DevicesDef
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import check_flags, not_running
from .node import Proc, QemuNode

__all__ = ["ConsoleSlots", "PtyStream"]

Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN
_FORCE = 1
_SAFE = 2
_sessions: weakref.WeakKeyDictionary[Proc, dict[str, Any]] = weakref.WeakKeyDictionary()


class PtyStream:
    """A guest console on the slave side of QEMU's pty, in raw mode."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            tty.setraw(self._fd, termios.TCSANOW)
        except termios.error:
            pass

    def fileno(self) -> int:
        if self._fd < 0:
            raise OSError(9, "console stream is closed")
        return self._fd

    def recv(self, size: int) -> bytes:
        try:
            return os.read(self.fileno(), size)
        except OSError as e:
            if e.errno == 5:        # EIO: QEMU closed the pty (the guest is gone)
                return b""
            raise

    def send(self, data: bytes | memoryview) -> int:
        return os.write(self.fileno(), data)

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[self.send(view):]

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __enter__(self) -> PtyStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _find(o: DomainObj, dev_name: str | None) -> CharDevDef:
    dv: DevicesDef = o.def_.devices
    if dev_name is None:
        found = dv.consoles[0] if dv.consoles else (dv.serials[0] if dv.serials else None)
    else:
        found = None
        for ch in dv.consoles + dv.serials + dv.parallels + dv.channels:
            if ch.alias == dev_name:
                found = ch
                break
    if found is None:
        raise error(ErrorNumber.INTERNAL_ERROR, Q,
                    f"cannot find character device {dev_name or '<null>'}")
    return found


class ConsoleSlots:
    """domain_open_console for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...

    def domain_open_console(self, dom: DomainHandle, dev_name: str | None, flags: int) -> Any:
        check_flags(flags, _FORCE | _SAFE, "qemuDomainOpenConsole", Q)
        with self.node.lock:
            o = self._obj(dom)
            p: Proc | None = o.priv
            if p is None:
                raise not_running(D)
            ch = _find(o, dev_name)
            alias = ch.alias or ""
            sessions = _sessions.setdefault(p, {})
            old = sessions.get(alias)
            if old is not None and not getattr(old, "closed", True):
                if not flags & _FORCE:
                    raise error(ErrorNumber.OPERATION_FAILED, Q,
                                "Active console session exists for this domain")
                old.close()
        if ch.type == "pty":
            if not ch.tty:
                raise error(ErrorNumber.OPERATION_FAILED, Q,
                            f"character device {alias} is not using a PTY")
            stream: Any = PtyStream(ch.tty)
        elif ch.type == "unix" and ch.sources and ch.sources[0].get("mode") == "bind":
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(ch.sources[0].get("path") or "")
            except OSError as e:
                s.close()
                raise error(ErrorNumber.OPERATION_FAILED, Q,
                            f"cannot connect to console {alias}: {e.strerror}") from None
            stream = s
        else:
            raise error(ErrorNumber.OPERATION_UNSUPPORTED, Q,
                        f"character device {alias} is not using a PTY")
        with self.node.lock:
            _sessions.setdefault(p, {})[alias] = stream
        return stream
