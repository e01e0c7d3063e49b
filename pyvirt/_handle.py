"""What every object handle shares: its connection, identity by UUID, printing."""
from __future__ import annotations

import uuid as _uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._api import Connection


class UUIDHandle:
    """A handle to a named object with a UUID (domain, network, storage pool).

    Handles are cheap views: two handles to the same object compare equal. `name` and
    `raw_uuid` are what drivers use; `uuid` and `uuid_string` are for people.
    """

    __slots__ = ("_conn", "name", "raw_uuid")

    def __init__(self, conn: "Connection", name: str, raw_uuid: bytes) -> None:
        self._conn = conn
        self.name = name
        self.raw_uuid = raw_uuid

    @property
    def connection(self) -> "Connection":
        return self._conn

    @property
    def uuid(self) -> _uuid.UUID:
        return _uuid.UUID(bytes=bytes(self.raw_uuid))

    @property
    def uuid_string(self) -> str:
        return str(_uuid.UUID(bytes=bytes(self.raw_uuid)))

    def __eq__(self, other: Any) -> bool:
        return (type(other) is type(self) and other._conn is self._conn
                and other.raw_uuid == self.raw_uuid)

    def __hash__(self) -> int:
        return hash((id(self._conn), self.raw_uuid))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.uuid_string}>"
