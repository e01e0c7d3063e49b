"""libvirt-python's virStream over a pyvirt Stream: -2 for "would block", and handlers
that receive the virStream."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from ._api import Stream
    from .libvirt import virConnect

__all__ = ["virStreamBase"]


class virStreamBase:
    """libvirt-python's virStream over a pyvirt Stream (`._o`)."""

    __slots__ = ("_conn", "_o")

    def __init__(self, conn: "virConnect", _obj: "Stream") -> None:
        self._conn = conn
        self._o = _obj

    def send(self, data: bytes) -> int:
        n = self._o.send(data)
        return -2 if n is None else n

    def recv(self, nbytes: int) -> bytes | int:
        got = self._o.recv(nbytes)
        return -2 if got is None else got

    def sendAll(self, handler: Callable[[Any, int, Any], bytes], opaque: Any) -> None:
        self._o.send_all(lambda _st, n, op: handler(self, n, op), opaque)

    def recvAll(self, handler: Callable[[Any, bytes, Any], int], opaque: Any) -> None:
        self._o.recv_all(lambda _st, data, op: handler(self, data, op), opaque)

    def finish(self) -> int:
        self._o.finish()
        return 0

    def abort(self) -> int:
        self._o.abort()
        return 0

    def eventAddCallback(self, events: int, cb: Callable[[Any, int, Any], None],
                         opaque: Any) -> None:
        self._o.event_add_callback(events, lambda _st, ev, op: cb(self, ev, op), opaque)

    def eventUpdateCallback(self, events: int) -> None:
        self._o.event_update_callback(events)

    def eventRemoveCallback(self) -> None:
        self._o.event_remove_callback()

    def __repr__(self) -> str:
        return f"<virStream wrapping {self._o!r}>"
