"""StoragePool and StorageVol: the hand-written parts of their handles; entry points are
in pyvirt/_api.py."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._handle import UUIDHandle

if TYPE_CHECKING:
    from ._api import Connection

__all__ = ["StoragePoolBase", "StorageVolBase"]


class StoragePoolBase(UUIDHandle):
    """A storage pool on a node."""

    __slots__ = ()


class StorageVolBase:
    """A volume in a storage pool; identified by its key (for file volumes, its path)."""

    __slots__ = ("_conn", "pool_name", "name", "key")

    def __init__(self, conn: "Connection", pool_name: str, name: str, key: str) -> None:
        self._conn = conn
        self.pool_name = pool_name
        self.name = name
        self.key = key

    @property
    def connection(self) -> "Connection":
        return self._conn

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other._conn is self._conn and other.key == self.key

    def __hash__(self) -> int:
        return hash((id(self._conn), self.key))

    def __repr__(self) -> str:
        return f"<StorageVol {self.pool_name}/{self.name} key={self.key!r}>"
