"""The QMP hot path in pure Python: socket I/O, line framing and JSON classification.

The twin of csrc/qmp.c with the same results for the same bytes: a line is classified
by parsing it with the json module, strictly (no NaN/Infinity, valid UTF-8, nesting at
most QMP_MAX_DEPTH), and reported as a QmpMessage.  Waiting uses poll() on the socket,
which releases the GIL like the C side does.
"""
from __future__ import annotations

import errno
import json
import os
import select
import socket
import time
from collections.abc import Sequence
from typing import Any

from .abc import (
    QMP_ERROR,
    QMP_EVENT,
    QMP_GREETING,
    QMP_ID_ABSENT,
    QMP_ID_INT,
    QMP_ID_OTHER,
    QMP_INITIAL_BUF,
    QMP_MAX_BUF,
    QMP_MAX_DEPTH,
    QMP_MAX_FDS,
    QMP_NOT_OBJECT,
    QMP_OTHER,
    QMP_RETURN,
    QmpMessage,
)

__all__ = ["PyQmp", "PyQmpChannel", "classify", "oserror"]

_WS = b" \t\n\r"
_INT64 = range(-(1 << 63), 1 << 63)


def oserror(code: int, detail: str = "") -> OSError:
    """OSError for a positive errno (Python picks the subclass: TimeoutError, ...)."""
    text = os.strerror(code)
    return OSError(code, f"{text}: {detail}" if detail else text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _depth(text: str) -> int:
    """The deepest nesting of containers in a JSON text known to be valid."""
    depth = top = 0
    in_str = esc = False
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            top = max(top, depth)
        elif ch in "]}":
            depth -= 1
    return top


def classify(data: bytes) -> QmpMessage:
    """Classify one JSON text as csrc/qmp.c's pv_qmp_classify does."""
    if data.endswith(b"\r"):
        data = data[:-1]
    stripped = data.lstrip(_WS)
    first = len(data) - len(stripped)
    try:
        text = data.decode("utf-8")
        if data.count(b"[") + data.count(b"{") > QMP_MAX_DEPTH and \
                _depth(text) > QMP_MAX_DEPTH:
            raise ValueError("nested too deeply")
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise oserror(errno.EPROTO, "not a JSON text: " + repr(data[:80])) from None
    if not isinstance(value, dict):
        return QmpMessage(data, QMP_NOT_OBJECT, QMP_ID_ABSENT, 0, None, first, 0)
    has_id, ident = QMP_ID_ABSENT, 0
    if "id" in value:
        v = value["id"]
        if type(v) is int and v in _INT64:
            has_id, ident = QMP_ID_INT, v
        else:
            has_id = QMP_ID_OTHER
    event = value.get("event")
    if "error" in value:
        kind = QMP_ERROR
    elif "return" in value:
        kind = QMP_RETURN
    elif isinstance(event, str):
        kind = QMP_EVENT
    elif "QMP" in value:
        kind = QMP_GREETING
    else:
        kind = QMP_OTHER
    return QmpMessage(data, kind, has_id, ident, event if kind == QMP_EVENT else None,
                      first, 1 if value else 0)


class PyQmpChannel:
    """A QMP connection on a non-blocking socket with a bytearray receive buffer."""

    def __init__(self, sock: socket.socket) -> None:
        sock.setblocking(False)
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._buf = bytearray()
        self._scanned = 0
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def fileno(self) -> int:
        return self._fd

    def _s(self) -> socket.socket:
        if self._sock is None:
            raise oserror(errno.EBADF, "the QMP channel is closed")
        return self._sock

    def buffered(self) -> bool:
        return bool(self._buf)

    def send(self, data: bytes, timeout_ms: int) -> None:
        self._send(data, _deadline(timeout_ms))

    def _send(self, data: bytes, deadline: float | None) -> None:
        sock = self._s()
        view = memoryview(data)
        while view:
            try:
                n = sock.send(view)
            except BlockingIOError:
                if not _wait(self._fd, select.POLLOUT, deadline):
                    raise oserror(errno.ETIMEDOUT) from None
                continue
            except BrokenPipeError:
                raise oserror(errno.EPIPE) from None
            view = view[n:]

    def send_fds(self, data: bytes, fds: Sequence[int], timeout_ms: int) -> None:
        if not fds:
            return self.send(data, timeout_ms)
        if not data or len(fds) > QMP_MAX_FDS:
            raise oserror(errno.EINVAL)
        deadline = _deadline(timeout_ms)
        sock = self._s()
        while True:
            try:
                socket.send_fds(sock, [data[:1]], list(fds))
                break
            except BlockingIOError:
                if not _wait(self._fd, select.POLLOUT, deadline):
                    raise oserror(errno.ETIMEDOUT) from None
            except BrokenPipeError:
                raise oserror(errno.EPIPE) from None
        self._send(data[1:], deadline)

    def _next(self) -> QmpMessage | None:
        buf = self._buf
        nl = buf.find(b"\n", self._scanned)
        if nl < 0:
            self._scanned = len(buf)
            return None
        line = bytes(buf[:nl])
        del buf[:nl + 1]
        self._scanned = 0
        return classify(line)

    def _recv(self, deadline: float | None, nowait: bool) -> QmpMessage:
        sock = self._s()
        while True:
            msg = self._next()
            if msg is not None:
                return msg
            if len(self._buf) >= QMP_MAX_BUF:
                raise oserror(errno.EMSGSIZE, "QMP message too long")
            try:
                chunk = sock.recv(QMP_INITIAL_BUF)
            except BlockingIOError:
                if nowait:
                    raise oserror(errno.EAGAIN) from None
                if not _wait(self._fd, select.POLLIN, deadline):
                    raise oserror(errno.ETIMEDOUT) from None
                continue
            if not chunk:
                raise oserror(errno.ECONNRESET, "QEMU closed the monitor connection")
            self._buf += chunk

    def recv(self, timeout_ms: int) -> QmpMessage:
        return self._recv(_deadline(timeout_ms), timeout_ms == 0)

    def transact(self, data: bytes, timeout_ms: int) -> QmpMessage:
        deadline = _deadline(timeout_ms)
        self._send(data, deadline)
        return self._recv(deadline, False)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _deadline(timeout_ms: int) -> float | None:
    return None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000


def _wait(fd: int, events: int, deadline: float | None) -> bool:
    p = select.poll()
    p.register(fd, events)
    while True:
        if deadline is None:
            ms = None
        else:
            ms = int((deadline - time.monotonic()) * 1000 + 0.999)
            if ms <= 0:
                return False
        if p.poll(ms):
            return True


class PyQmp:
    """The QMP hot path's twin."""

    name = "python"

    def connect(self, path: str, timeout_ms: int) -> PyQmpChannel:
        if not path or len(os.fsencode(path)) >= 108:
            raise oserror(errno.ENAMETOOLONG, path)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(None if timeout_ms < 0 else timeout_ms / 1000)
            sock.connect(path)
        except BaseException:
            sock.close()
            raise
        return PyQmpChannel(sock)

    def adopt(self, fd: int) -> PyQmpChannel:
        return PyQmpChannel(socket.socket(fileno=fd))

    def classify(self, data: bytes) -> QmpMessage:
        return classify(data)

