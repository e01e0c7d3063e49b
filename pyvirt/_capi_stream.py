"""The C-named stream calls: virStreamNew ... virDomainOpenConsole, returning -1 (or
None) with the last error set on failure and -2 where libvirt says "would block"."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .errors import libvirtError

if TYPE_CHECKING:
    from ._api import Connection, Domain, StorageVol, Stream

__all__ = ["virStreamNew", "virStreamSend", "virStreamRecv", "virStreamSendAll",
           "virStreamRecvAll", "virStreamFinish", "virStreamAbort",
           "virStreamEventAddCallback", "virStreamEventUpdateCallback",
           "virStreamEventRemoveCallback", "virDomainOpenConsole", "virStorageVolUpload",
           "virStorageVolDownload"]


def _shim() -> Any:
    from . import _capi_bases
    return _capi_bases


def _status(fn: Callable[[], Any]) -> int:
    return int(_shim()._status(fn))


def virStreamNew(conn: "Connection", flags: int = 0) -> "Stream | None":
    try:
        return conn.new_stream(flags)
    except libvirtError as e:
        return _shim()._fail(e, None)   # type: ignore[no-any-return]


def virStreamSend(stream: "Stream", data: bytes, nbytes: int | None = None) -> int:
    """Bytes sent, -2 when a non-blocking stream cannot take any, -1 on error."""
    try:
        n = stream.send(data if nbytes is None else data[:nbytes])
    except libvirtError as e:
        return _shim()._fail(e, -1)   # type: ignore[no-any-return]
    return -2 if n is None else n


def virStreamRecv(stream: "Stream", nbytes: int) -> bytes | int:
    """The bytes (b"" at the end), -2 when a non-blocking stream has none, -1 on error."""
    try:
        got = stream.recv(nbytes)
    except libvirtError as e:
        return _shim()._fail(e, -1)   # type: ignore[no-any-return]
    return -2 if got is None else got


def virStreamSendAll(stream: "Stream", handler: Callable[..., bytes], opaque: Any) -> int:
    return _status(lambda: stream.send_all(handler, opaque))


def virStreamRecvAll(stream: "Stream", handler: Callable[..., int], opaque: Any) -> int:
    return _status(lambda: stream.recv_all(handler, opaque))


def virStreamFinish(stream: "Stream") -> int:
    return _status(stream.finish)


def virStreamAbort(stream: "Stream") -> int:
    return _status(stream.abort)


def virStreamEventAddCallback(stream: "Stream", events: int, cb: Callable[..., None],
                              opaque: Any = None) -> int:
    return _status(lambda: stream.event_add_callback(events, cb, opaque))


def virStreamEventUpdateCallback(stream: "Stream", events: int) -> int:
    return _status(lambda: stream.event_update_callback(events))


def virStreamEventRemoveCallback(stream: "Stream") -> int:
    return _status(stream.event_remove_callback)


def virDomainOpenConsole(dom: "Domain", dev_name: str | None, st: "Stream",
                         flags: int = 0) -> int:
    return _status(lambda: dom.open_console(dev_name, flags, stream=st))


def virStorageVolUpload(vol: "StorageVol", st: "Stream", offset: int, length: int,
                        flags: int = 0) -> int:
    return _status(lambda: vol.upload(offset, length, flags, stream=st))


def virStorageVolDownload(vol: "StorageVol", st: "Stream", offset: int, length: int,
                          flags: int = 0) -> int:
    return _status(lambda: vol.download(offset, length, flags, stream=st))
