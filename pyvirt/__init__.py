"""pyvirt: libvirt's API in Python, whatever runs the guests.

Three namings of one API:
- Pythonic: `pyvirt.connect(uri)` -> Connection, Domain, Network, StoragePool, StorageVol;
- libvirt-python's: `import pyvirt as libvirt` gives open(), virDomain.suspend(), VIR_*, ...;
- C names: `pyvirt.capi.virConnectOpen`, `virDomainSuspend`, ...
"""
from __future__ import annotations

from .libvirt import *  # noqa: F401,F403  (libvirt-python's names, VIR_* constants)
from .errors import libvirtError  # noqa: F401
from .libvirt import virConnect, virDomain, virNetwork, virStoragePool, virStorageVol  # noqa: F401
from ._api import Connection, Domain, Network, StoragePool, StorageVol  # noqa: F401
from .connection import connect  # noqa: F401
from . import types  # noqa: F401
from .types import *  # noqa: F401,F403

__version__ = "0.1.0"


def get_version() -> int:
    """The libvirt API level pyvirt implements (9.0.0 -> 9000000)."""
    from ._lv_bases import API_LEVEL
    return API_LEVEL
