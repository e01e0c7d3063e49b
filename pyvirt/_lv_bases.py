"""The hand-written part of the libvirt-python layer: wrappers' identity methods, calls
whose libvirt-python return shape is not a plain list, events, and module functions."""
from __future__ import annotations

from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Callable

from . import errors as _errors
from .constants import ConnectFlags
from .errors import libvirtError
from ._lv_stream import virStreamBase

if TYPE_CHECKING:
    from ._api import Connection, Domain, Network, StoragePool, StorageVol
    from .libvirt import (virConnect, virDomain, virNetwork, virStoragePool, virStorageVol,
                          virStream)

__all__ = ["open", "openReadOnly", "openAuth", "getVersion", "registerErrorHandler",
           "virEventRegisterDefaultImpl", "virEventRunDefaultImpl",
           "virEventRegisterImpl", "virEventAddHandle", "virEventUpdateHandle",
           "virEventRemoveHandle", "virEventAddTimeout", "virEventUpdateTimeout",
           "virEventRemoveTimeout", "virStreamBase"]

def _loop() -> "ModuleType":
    # imported on first use: the event loop pulls in the C core, which plain API use
    # does not need
    from . import eventloop
    return eventloop


# libvirt's API level that pyvirt implements (virGetVersion)
API_LEVEL = 9000000

_classes: dict[str, Any] = {}


def _bind_lv(conn: type, dom: type, net: type, pool: type, vol: type,
             stream: type) -> None:
    _classes.update(virConnect=conn, virDomain=dom, virNetwork=net, virStoragePool=pool,
                    virStorageVol=vol, virStream=stream)


# -- module functions ---------------------------------------------------------------------
def _open(name: str | None, flags: int, auth: Any = None) -> "virConnect":
    from ._api import Connection
    return _classes["virConnect"](Connection(name, flags, auth))  # type: ignore[no-any-return]


def open(name: str | None = None) -> "virConnect":
    """virConnectOpen: a read-write connection to the driver the URI names."""
    return _open(name, 0)


def openReadOnly(name: str | None = None) -> "virConnect":
    """virConnectOpenReadOnly."""
    return _open(name, ConnectFlags.RO)


def openAuth(uri: str | None, auth: list[Any] | None, flags: int = 0) -> "virConnect":
    """virConnectOpenAuth: auth is libvirt-python's [credtypes, callback, opaque] list."""
    return _open(uri, flags, auth)


def getVersion(name: str | None = None) -> int:
    """virGetVersion: the libvirt API level pyvirt implements (9.0.0 -> 9000000)."""
    return API_LEVEL


def registerErrorHandler(f: Callable[[Any, Any], None] | None, ctx: Any) -> int:
    """Call f(ctx, err_tuple) for every error as it is reported (None: stop)."""
    if f is None:
        _errors.set_report_hook(None)
    else:
        _errors.set_report_hook(lambda e: f(ctx, e.err))
    return 1


def virEventRegisterDefaultImpl() -> int:
    _loop().register_default_impl()
    return 0


def virEventRunDefaultImpl() -> int:
    _loop().run_default_impl()
    return 0


def virEventRegisterImpl(addHandle: Callable[..., int], updateHandle: Callable[..., None],
                         removeHandle: Callable[..., int], addTimeout: Callable[..., int],
                         updateTimeout: Callable[..., None],
                         removeTimeout: Callable[..., int]) -> None:
    _loop().register_impl(addHandle, updateHandle, removeHandle, addTimeout,
                             updateTimeout, removeTimeout)


def virEventAddHandle(fd: int, events: int, cb: Callable[..., None], opaque: Any) -> int:
    return int(_loop().add_handle(fd, events, cb, opaque))


def virEventUpdateHandle(watch: int, events: int) -> None:
    _loop().update_handle(watch, events)


def virEventRemoveHandle(watch: int) -> int:
    return int(_loop().remove_handle(watch))


def virEventAddTimeout(timeout: int, cb: Callable[..., None], opaque: Any) -> int:
    return int(_loop().add_timeout(timeout, cb, opaque))


def virEventUpdateTimeout(timer: int, timeout: int) -> None:
    _loop().update_timeout(timer, timeout)


def virEventRemoveTimeout(timer: int) -> int:
    return int(_loop().remove_timeout(timer))


# -- wrappers ------------------------------------------------------------------------------
class _Wrapper:
    __slots__ = ("_o",)
    _o: Any

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other._o == self._o

    def __hash__(self) -> int:
        return hash(self._o)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} wrapping {self._o!r}>"


class virConnectBase(_Wrapper):
    """libvirt-python's virConnect over a pyvirt Connection (`._o`)."""

    __slots__ = ("_dom_cbs",)
    _o: "Connection"

    def __init__(self, _obj: "Connection") -> None:
        self._o = _obj
        self._dom_cbs: dict[Any, int] = {}

    def __enter__(self) -> Any:
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> int:
        return self._o.close()

    def newStream(self, flags: int = 0) -> "virStream":
        """virStreamNew: a stream for a call such as virDomain.openConsole."""
        return _classes["virStream"](self, self._o.new_stream(flags))  # type: ignore[no-any-return]

    def getInfo(self) -> list[Any]:
        """[model, memory in MiB, cpus, mhz, nodes, sockets, cores, threads], as
        libvirt-python returns it (the C struct gives KiB)."""
        i = self._o.get_node_info()
        return [i.model, i.memory >> 10, i.cpus, i.mhz, i.nodes, i.sockets, i.cores, i.threads]

    def getCPUMap(self, flags: int = 0) -> tuple[int, list[bool], int]:
        m = self._o.get_cpu_map(flags)
        return (m.cpus, list(m.online), sum(1 for x in m.online if x))

    def _wrap_dom_cb(self, cb: Callable[..., Any]) -> Callable[..., Any]:
        wrap = _classes["virDomain"]

        def relay(conn: Any, dom: "Domain", *rest: Any) -> None:
            cb(self, wrap(self, dom), *rest)
        return relay

    def domainEventRegisterAny(self, dom: "virDomain | None", eventID: int,
                               cb: Callable[..., Any], opaque: Any) -> int:
        return self._o.domain_event_register_any(
            None if dom is None else dom._o, eventID, self._wrap_dom_cb(cb), opaque)

    def domainEventDeregisterAny(self, callbackID: int) -> int:
        self._o.domain_event_deregister_any(callbackID)
        return 0

    def domainEventRegister(self, cb: Callable[..., Any], opaque: Any) -> int:
        cid = self._o.domain_event_register_any(None, 0, self._wrap_dom_cb(cb), opaque)
        self._dom_cbs[cb] = cid
        return 0

    def domainEventDeregister(self, cb: Callable[..., Any]) -> int:
        cid = self._dom_cbs.pop(cb, None)
        if cid is None:
            raise _errors.error(_errors.ErrorNumber.INVALID_ARG, _errors.ErrorDomain.NONE,
                                "callback was not registered with domainEventRegister")
        self._o.domain_event_deregister_any(cid)
        return 0


class _HandleWrapper(_Wrapper):
    __slots__ = ("_conn",)

    def __init__(self, conn: "virConnect", _obj: Any) -> None:
        self._conn = conn
        self._o = _obj

    def connect(self) -> "virConnect":
        return self._conn

    def name(self) -> str:
        return self._o.name  # type: ignore[no-any-return]


class _UUIDWrapper(_HandleWrapper):
    __slots__ = ()

    def UUID(self) -> bytes:
        return bytes(self._o.raw_uuid)

    def UUIDString(self) -> str:
        return self._o.uuid_string  # type: ignore[no-any-return]


class virDomainBase(_UUIDWrapper):
    __slots__ = ()
    _o: "Domain"

    def openConsole(self, dev_name: str | None, stream: "virStream", flags: int = 0) -> int:
        """virDomainOpenConsole: tie the console to the stream."""
        self._o.open_console(dev_name, flags, stream=stream._o)
        return 0

    def ID(self) -> int:
        return self._o.id

    def vcpus(self) -> tuple[list[tuple[int, int, int, int]], list[tuple[bool, ...]]]:
        """([(number, state, cpuTime, cpu), ...], [(usable on host CPU 0, 1, ...), ...])."""
        infos = self._o.vcpus()
        return ([(v.number, int(v.state), v.cpu_time, v.cpu) for v in infos],
                [tuple(v.affinity) for v in infos])


class virNetworkBase(_UUIDWrapper):
    __slots__ = ()
    _o: "Network"


class virStoragePoolBase(_UUIDWrapper):
    __slots__ = ()
    _o: "StoragePool"


class virStorageVolBase(_HandleWrapper):
    __slots__ = ()
    _o: "StorageVol"

    def key(self) -> str:
        return self._o.key

    def upload(self, stream: "virStream", offset: int, length: int, flags: int = 0) -> int:
        """virStorageVolUpload: tie the stream to the volume's content, to be written."""
        self._o.upload(offset, length, flags, stream=stream._o)
        return 0

    def download(self, stream: "virStream", offset: int, length: int, flags: int = 0) -> int:
        """virStorageVolDownload: tie the stream to the volume's content, to be read."""
        self._o.download(offset, length, flags, stream=stream._o)
        return 0


libvirtError = libvirtError
