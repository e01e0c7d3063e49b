"""Choosing drivers by URI: which module serves a URI, imported only when used.

A driver module exposes `open(uri, flags, auth) -> DriverSet` and may decline a URI by
returning None (libvirt's VIR_DRV_OPEN_DECLINED), letting the next candidate try.
"""
from __future__ import annotations

import importlib
from typing import Any, NamedTuple

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error
from ..uri import URI
from .base import HypervisorDriver, NetworkDriver, StorageDriver

__all__ = ["DriverSet", "open_drivers", "candidates"]


class DriverSet(NamedTuple):
    """The three tables a connection dispatches to; one object may fill several."""
    hypervisor: HypervisorDriver
    network: NetworkDriver
    storage: StorageDriver


# local driver name -> module; "remote" carries any URI with a transport or a host
_LOCAL = {"test": "pyvirt.drivers.test", "qemu": "pyvirt.drivers.qemu",
          "lxc": "pyvirt.drivers.lxc"}
_REMOTE = "pyvirt.drivers.remote"


def candidates(uri: URI) -> list[str]:
    """The driver modules that may serve this URI, in the order they are tried."""
    if uri.is_remote:
        return [_REMOTE]
    local = _LOCAL.get(uri.driver)
    if local is None:
        return []
    # qemu:///system and qemu:///session are served by pyvirtd through the remote driver;
    # the local qemu driver takes qemu:///embed.
    return [local, _REMOTE]


def open_drivers(uri: URI, flags: int, auth: Any) -> DriverSet:
    tried = []
    for modname in candidates(uri):
        try:
            mod = importlib.import_module(modname)
        except ModuleNotFoundError as exc:
            if exc.name != modname:
                raise
            tried.append(modname.rsplit(".", 1)[1] + " (not available)")
            continue
        opened = mod.open(uri, flags, auth)
        if opened is not None:
            return opened  # type: ignore[no-any-return]
        tried.append(modname.rsplit(".", 1)[1])
    known = ", ".join(sorted(_LOCAL))
    raise error(ErrorNumber.NO_CONNECT, ErrorDomain.NONE,
                f"{uri.raw} (no driver accepts it; known drivers: {known}, or a "
                f"driver+transport://host/ URI for a remote one)")
