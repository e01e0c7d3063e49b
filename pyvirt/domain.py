"""Domain: the hand-written part of a domain handle (identity, ID); the generated entry
points (lifecycle, info, XML, ...) live in pyvirt/_api.py."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ._handle import UUIDHandle

if TYPE_CHECKING:
    from ._api import Connection

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
