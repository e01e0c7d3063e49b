"""Connection: opening a driver by URI, closing it, and the hand-written entry points
(event registration); the generated entries live in pyvirt/_api.py."""
from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from . import uri as _uri
from ._entry import arg_error, invalid_conn
from .constants import ConnectFlags, DomainEventID
from .errors import libvirtError

if TYPE_CHECKING:
    from ._api import Connection, Domain, Network, StoragePool, StorageVol, Stream
    from .drivers.base import HypervisorDriver, NetworkDriver, StorageDriver

__all__ = ["ConnectionBase", "connect"]

# Callback signatures of the Pythonic layer
DomainEventCallback = Callable[..., None]   # (conn, dom, *event fields, opaque)


class ConnectionBase:
    """An open connection to one driver on one node, chosen by URI.

    Use as a context manager to close it on exit. Closing is idempotent; calls on a closed
    connection raise VIR_ERR_INVALID_CONN.
    """

    __slots__ = ("_hv", "_net", "_stor", "_ro", "_uri", "_lock", "_legacy", "__weakref__")

    _Domain: ClassVar[type["Domain"]]
    _Network: ClassVar[type["Network"]]
    _StoragePool: ClassVar[type["StoragePool"]]
    _StorageVol: ClassVar[type["StorageVol"]]

    _hv: "HypervisorDriver | None"
    _net: "NetworkDriver | None"
    _stor: "StorageDriver | None"

    def __init__(self, uri: str | None = None, flags: int = 0, auth: Any = None) -> None:
        from .drivers import open_drivers  # drivers import lazily: only the one used loads

        if uri is not None and not isinstance(uri, str):
            raise arg_error("name", "virConnectOpen", "a string", uri)
        if flags < 0 or flags > 0xFFFFFFFF:
            raise arg_error("flags", "virConnectOpen", "an unsigned integer", flags)
        parsed = _uri.parse(uri if uri else _uri.default_uri())
        self._ro = bool(flags & ConnectFlags.RO)
        self._hv, self._net, self._stor = open_drivers(parsed, flags, auth)
        self._uri = parsed
        self._lock = threading.Lock()
        self._legacy: dict[Any, int] = {}

    @classmethod
    def _bind(cls, conn: type, dom: type, net: type, pool: type, vol: type) -> None:
        """Called once by pyvirt._api so hand-written code can build the generated classes."""
        cls._Domain, cls._Network, cls._StoragePool, cls._StorageVol = dom, net, pool, vol

    # -- state ----------------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        return self._ro

    @property
    def closed(self) -> bool:
        return self._hv is None

    @property
    def uri(self) -> str:
        """The URI this connection was opened with (see get_uri() for the canonical one)."""
        return self._uri.raw

    def _invalid(self, func: str) -> libvirtError:
        return invalid_conn(func)

    def close(self) -> int:
        """Close the connection (idempotent); returns 0.

        C: virConnectClose. libvirt-python: virConnect.close.
        """
        with self._lock:
            drivers = {id(d): d for d in (self._hv, self._net, self._stor) if d is not None}
            self._hv = self._net = self._stor = None
        for d in drivers.values():
            d.close()
        return 0

    def new_stream(self, flags: int = 0) -> "Stream":
        """A new, unattached stream (VIR_STREAM_NONBLOCK: recv/send never wait); a call
        such as Domain.open_console ties it to a source.

        C: virStreamNew. libvirt-python: virConnect.newStream.
        """
        from ._api import Stream
        if self._hv is None:
            raise self._invalid("virStreamNew")
        return Stream(self, flags)   # type: ignore[arg-type]

    def __enter__(self) -> "Connection":
        return self  # type: ignore[return-value]

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._hv is None else ("read-only" if self._ro else "open")
        return f"<Connection {self._uri.raw} {state}>"

    # -- events (hand-written: callbacks need wrapping in both directions) ----------------
    def domain_event_register_any(self, dom: "Domain | None", event_id: int,
                                  callback: DomainEventCallback, opaque: Any = None) -> int:
        """Call callback(conn, dom, *event fields, opaque) for events of event_id on dom
        (None: every domain); returns the callback ID. Needs a registered event loop
        (pyvirt.eventloop.register_default_impl() or an asyncio adapter).

        C: virConnectDomainEventRegisterAny. libvirt-python: virConnect.domainEventRegisterAny.
        """
        func = "virConnectDomainEventRegisterAny"
        drv = self._hv
        if drv is None:
            raise self._invalid(func)
        if dom is not None and not isinstance(dom, self._Domain):
            raise arg_error("dom", func, "a Domain or None", dom)
        if not isinstance(event_id, int) or event_id not in DomainEventID._value2member_map_:
            raise arg_error("eventID", func, "a VIR_DOMAIN_EVENT_ID_* value", event_id)
        if not callable(callback):
            raise arg_error("cb", func, "callable", callback)
        make = self._Domain
        conn: Connection = self  # type: ignore[assignment]  # always the generated subclass

        def relay(ref: tuple[str, bytes, int], *fields: Any) -> None:
            callback(conn, make(conn, *ref), *fields, opaque)

        return drv.connect_domain_event_register_any(dom, DomainEventID(event_id), relay, None)

    def domain_event_deregister_any(self, callback_id: int) -> None:
        """Stop the callback a domain_event_register_any call returned.

        C: virConnectDomainEventDeregisterAny. libvirt-python: virConnect.domainEventDeregisterAny.
        """
        drv = self._hv
        if drv is None:
            raise self._invalid("virConnectDomainEventDeregisterAny")
        drv.connect_domain_event_deregister_any(callback_id)

    def domain_event_register(self, callback: DomainEventCallback, opaque: Any = None) -> None:
        """Legacy: call callback(conn, dom, event, detail, opaque) for lifecycle events of
        every domain.

        C: virConnectDomainEventRegister. libvirt-python: virConnect.domainEventRegister.
        """
        cid = self.domain_event_register_any(None, DomainEventID.LIFECYCLE, callback, opaque)
        with self._lock:
            self._legacy[callback] = cid

    def domain_event_deregister(self, callback: DomainEventCallback) -> None:
        """Legacy: stop a callback registered with domain_event_register.

        C: virConnectDomainEventDeregister. libvirt-python: virConnect.domainEventDeregister.
        """
        with self._lock:
            cid = self._legacy.pop(callback, None)
        if cid is None:
            raise arg_error("cb", "virConnectDomainEventDeregister",
                            "a callback registered with domainEventRegister", callback)
        self.domain_event_deregister_any(cid)


def connect(uri: str | None = None, *, readonly: bool = False, auth: Any = None) -> "Connection":
    """Open a connection: the Pythonic spelling of virConnectOpen / virConnectOpenReadOnly.

    With no URI: $LIBVIRT_DEFAULT_URI, else the embedded QEMU driver (pyvirt.uri.default_uri).
    """
    from ._api import Connection
    return Connection(uri, ConnectFlags.RO if readonly else 0, auth)
