"""The hand-written part of the C-named layer: the last-error shim, opening and closing,
handle accessors and event calls.

Only this layer keeps a "last error" (per thread, as libvirt's is): C-style calls return
-1 or None on failure and virGetLastError() says why.
"""
from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .constants import ConnectFlags
from .errors import libvirtError

if TYPE_CHECKING:
    from ._api import Connection, Domain, Network, StoragePool, StorageVol

__all__ = [
    "virGetLastError", "virResetLastError", "virGetLastErrorMessage", "virGetLastErrorCode",
    "virGetLastErrorDomain", "virSetErrorFunc", "virGetVersion", "virConnectOpen", "virConnectOpenReadOnly",
    "virConnectOpenAuth", "virConnectClose", "virDomainGetName", "virDomainGetID",
    "virDomainGetUUID", "virDomainGetUUIDString", "virDomainGetConnect", "virNetworkGetName",
    "virNetworkGetUUID", "virNetworkGetUUIDString", "virNetworkGetConnect",
    "virStoragePoolGetName", "virStoragePoolGetUUID", "virStoragePoolGetUUIDString",
    "virStoragePoolGetConnect", "virStorageVolGetName", "virStorageVolGetKey",
    "virStorageVolGetConnect", "virConnectDomainEventRegisterAny",
    "virConnectDomainEventDeregisterAny", "virConnectDomainEventRegister",
    "virConnectDomainEventDeregister", "virEventRegisterDefaultImpl", "virEventRunDefaultImpl",
    "virEventRegisterImpl", "virEventAddHandle", "virEventUpdateHandle", "virEventRemoveHandle",
    "virEventAddTimeout", "virEventUpdateTimeout", "virEventRemoveTimeout",
]

_last = threading.local()


def _loop() -> Any:
    from . import eventloop   # on first use: it loads the C core
    return eventloop
R = TypeVar("R")


def _fail(err: libvirtError, ret: R) -> R:
    _last.error = err
    return ret


def _call(fn: Callable[[], R], fail: R) -> R:
    try:
        return fn()
    except libvirtError as e:
        return _fail(e, fail)


def _status(fn: Callable[[], Any]) -> int:
    """0 when fn succeeds, -1 (with the last error set) when it raises libvirtError."""
    try:
        fn()
    except libvirtError as e:
        return _fail(e, -1)
    return 0


def virGetLastError() -> libvirtError | None:
    """The error of this thread's last failed call in this layer (None if none)."""
    return getattr(_last, "error", None)


def virResetLastError() -> None:
    _last.error = None


def virGetLastErrorMessage() -> str:
    err = virGetLastError()
    return err.message if err is not None else "no error"


def virGetLastErrorCode() -> int:
    err = virGetLastError()
    return int(err.code) if err is not None else 0


def virGetLastErrorDomain() -> int:
    err = virGetLastError()
    return int(err.domain) if err is not None else 0


def virSetErrorFunc(userData: Any, handler: Callable[[Any, libvirtError], None] | None) -> None:
    """Call handler(userData, error) for every error as it is reported (None: stop)."""
    from .errors import set_report_hook
    set_report_hook(None if handler is None else (lambda e: handler(userData, e)))


def virGetVersion() -> int:
    from ._lv_bases import API_LEVEL
    return API_LEVEL


def _open(name: str | None, flags: int, auth: Any = None) -> "Connection | None":
    from ._api import Connection
    return _call(lambda: Connection(name, flags, auth), None)


def virConnectOpen(name: str | None = None) -> "Connection | None":
    return _open(name, 0)


def virConnectOpenReadOnly(name: str | None = None) -> "Connection | None":
    return _open(name, ConnectFlags.RO)


def virConnectOpenAuth(name: str | None, auth: Any, flags: int = 0) -> "Connection | None":
    return _open(name, flags, auth)


def virConnectClose(conn: "Connection") -> int:
    return _call(conn.close, -1)


def virDomainGetName(domain: "Domain") -> str:
    return domain.name


def virDomainGetID(domain: "Domain") -> int:
    return domain.id


def virDomainGetUUID(domain: "Domain") -> bytes:
    return bytes(domain.raw_uuid)


def virDomainGetUUIDString(domain: "Domain") -> str:
    return domain.uuid_string


def virDomainGetConnect(domain: "Domain") -> "Connection":
    return domain.connection


def virNetworkGetName(network: "Network") -> str:
    return network.name


def virNetworkGetUUID(network: "Network") -> bytes:
    return bytes(network.raw_uuid)


def virNetworkGetUUIDString(network: "Network") -> str:
    return network.uuid_string


def virNetworkGetConnect(network: "Network") -> "Connection":
    return network.connection


def virStoragePoolGetName(pool: "StoragePool") -> str:
    return pool.name


def virStoragePoolGetUUID(pool: "StoragePool") -> bytes:
    return bytes(pool.raw_uuid)


def virStoragePoolGetUUIDString(pool: "StoragePool") -> str:
    return pool.uuid_string


def virStoragePoolGetConnect(pool: "StoragePool") -> "Connection":
    return pool.connection


def virStorageVolGetName(vol: "StorageVol") -> str:
    return vol.name


def virStorageVolGetKey(vol: "StorageVol") -> str:
    return vol.key


def virStorageVolGetConnect(vol: "StorageVol") -> "Connection":
    return vol.connection


def virConnectDomainEventRegisterAny(conn: "Connection", dom: "Domain | None", eventID: int,
                                     cb: Callable[..., None], opaque: Any = None) -> int:
    return _call(lambda: conn.domain_event_register_any(dom, eventID, cb, opaque), -1)


def virConnectDomainEventDeregisterAny(conn: "Connection", callbackID: int) -> int:
    return _status(lambda: conn.domain_event_deregister_any(callbackID))


def virConnectDomainEventRegister(conn: "Connection", cb: Callable[..., None],
                                  opaque: Any = None) -> int:
    return _status(lambda: conn.domain_event_register(cb, opaque))


def virConnectDomainEventDeregister(conn: "Connection", cb: Callable[..., None]) -> int:
    return _status(lambda: conn.domain_event_deregister(cb))


def virEventRegisterDefaultImpl() -> int:
    return _status(lambda: _loop().register_default_impl())


def virEventRunDefaultImpl() -> int:
    return _status(lambda: _loop().run_default_impl())


def virEventRegisterImpl(*callbacks: Callable[..., Any]) -> None:
    _loop().register_impl(*callbacks)


def virEventAddHandle(fd: int, events: int, cb: Callable[..., None], opaque: Any = None) -> int:
    return _call(lambda: _loop().add_handle(fd, events, cb, opaque), -1)


def virEventUpdateHandle(watch: int, events: int) -> None:
    _loop().update_handle(watch, events)


def virEventRemoveHandle(watch: int) -> int:
    return _call(lambda: _loop().remove_handle(watch), -1)


def virEventAddTimeout(timeout: int, cb: Callable[..., None], opaque: Any = None) -> int:
    return _call(lambda: _loop().add_timeout(timeout, cb, opaque), -1)


def virEventUpdateTimeout(timer: int, timeout: int) -> None:
    _loop().update_timeout(timer, timeout)


def virEventRemoveTimeout(timer: int) -> int:
    return _call(lambda: _loop().remove_timeout(timer), -1)


from ._capi_stream import *  # noqa: E402,F401,F403  (the stream calls)
from ._capi_stream import __all__ as _stream_all  # noqa: E402

__all__ += _stream_all
