"""StoragePool and StorageVol: the hand-written parts of their handles; entry points are
in pyvirt/_api.py."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._handle import UUIDHandle

if TYPE_CHECKING:
    from ._api import Connection, Stream

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

    def upload(self, offset: int = 0, length: int = 0, flags: int = 0,
               stream: "Stream | None" = None) -> "Stream":
        """Tie a stream (a new one when None) to the volume's content from offset, for
        length bytes (0: to the end), to be written: send the data, then finish().

        C: virStorageVolUpload. libvirt-python: virStorageVol.upload.
        """
        return self._transfer("virStorageVolUpload", "storage_vol_upload", offset, length,
                              flags, stream)

    def download(self, offset: int = 0, length: int = 0, flags: int = 0,
                 stream: "Stream | None" = None) -> "Stream":
        """Tie a stream (a new one when None) to the volume's content from offset, for
        length bytes (0: to the end), to be read: recv until b"", then finish().

        C: virStorageVolDownload. libvirt-python: virStorageVol.download.
        """
        return self._transfer("virStorageVolDownload", "storage_vol_download", offset,
                              length, flags, stream)

    def _transfer(self, func: str, slot: str, offset: int, length: int, flags: int,
                  stream: "Stream | None") -> "Stream":
        from ._entry import FROM_STORAGE
        from .stream import tie, writer_driver
        drv = writer_driver(self._conn, "_stor", func, FROM_STORAGE, {
            "offset": (offset, 64), "length": (length, 64), "flags": (flags, 32)})
        return tie(self._conn, stream, func, FROM_STORAGE, f"volume '{self.name}'",
                   lambda: getattr(drv, slot)(self, offset, length, flags))
