"""What drivers receive and return: handle protocols, plain refs, the Driver base."""
from __future__ import annotations

from typing import Protocol

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError

# What a slot returns for an object: the fields of its public handle, nothing more.
DomainRef = tuple[str, bytes, int]          # name, raw UUID, id (-1 when inactive)
NetworkRef = tuple[str, bytes]              # name, raw UUID
StoragePoolRef = tuple[str, bytes]          # name, raw UUID
StorageVolRef = tuple[str, str, str]        # pool name, name, key


class DomainHandle(Protocol):
    """A domain as slots see it; drivers may update `id` and `name` on it."""
    name: str
    raw_uuid: bytes
    id: int


class NetworkHandle(Protocol):
    name: str
    raw_uuid: bytes


class StoragePoolHandle(Protocol):
    name: str
    raw_uuid: bytes


class StorageVolHandle(Protocol):
    pool_name: str
    name: str
    key: str


def no_support(func: str, origin: int = ErrorDomain.DOMAIN) -> libvirtError:
    """The error for an empty driver slot, as libvirt's virReportUnsupportedError gives
    it: reported from the public call's object family (VIR_FROM_DOMAIN, ...)."""
    return error(ErrorNumber.NO_SUPPORT, origin, func)


class Driver:
    """Base of every driver table. A connection calls close() once when it closes."""

    #: libvirt's name for the hypervisor ("TEST", "QEMU"); getType answers it
    name = ""

    def close(self) -> None:
        """Release what this connection's driver instance holds."""
