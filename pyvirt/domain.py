"""Domain: the hand-written part of a domain handle (identity, ID); the generated entry
points (lifecycle, info, XML, ...) live in pyvirt/_api.py."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._entry import FROM_DOMAIN, arg_error
from ._handle import UUIDHandle

if TYPE_CHECKING:
    from ._api import Connection, Stream

__all__ = ["DomainBase"]


class DomainBase(UUIDHandle):
    """A guest on a node. `id` is its ID while it runs and -1 otherwise; drivers keep it
    current for the calls made through this handle (start, destroy, ...), as libvirt's
    handles do."""

    __slots__ = ("id",)

    def __init__(self, conn: "Connection", name: str, raw_uuid: bytes, id: int) -> None:
        UUIDHandle.__init__(self, conn, name, raw_uuid)
        self.id = id

    def __repr__(self) -> str:
        return f"<Domain {self.name!r} id={self.id} {self.uuid_string}>"

    def open_console(self, dev_name: str | None = None, flags: int = 0,
                     stream: "Stream | None" = None) -> "Stream":
        """Tie a stream (a new one when None) to the domain's console or the named
        serial/console device (None: the first console); returns the stream.

        C: virDomainOpenConsole. libvirt-python: virDomain.openConsole.
        """
        from .stream import tie, writer_driver
        func = "virDomainOpenConsole"
        drv = writer_driver(self._conn, "_hv", func, FROM_DOMAIN, {"flags": (flags, 32)})
        if dev_name is not None and not isinstance(dev_name, str):
            raise arg_error("dev_name", func, "a string", dev_name, FROM_DOMAIN)
        return tie(self._conn, stream, func, FROM_DOMAIN, f"domain '{self.name}'",
                   lambda: drv.domain_open_console(self, dev_name, flags))
