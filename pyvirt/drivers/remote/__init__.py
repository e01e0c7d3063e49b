"""The remote driver: pyvirt's API over libvirt's wire protocol, to pyvirtd or libvirtd.

It serves every URI with a transport or a host (qemu+tcp://h/system, test+unix:///default
?socket=..., qemu+ssh://h/system, remote+tls://h/) and the local daemon URIs
qemu:///system and qemu:///session, which the embedded qemu driver declines. Modules:
transport (unix/tcp/tls/ssh/ext), paths (daemon sockets, session autostart), client
(the RPC client), driver (the tables), _slots_gen (generated slots).
"""
from __future__ import annotations

from typing import Any

from ...uri import URI
from .driver import RemoteDriver
from .transport import connect

__all__ = ["RemoteDriver", "open"]

# Local URIs that mean "the daemon" (libvirt: remote takes what no local driver took).
_DAEMON_PATHS = {"qemu": ("/system", "/session"), "lxc": ("/", "/system")}


def open(uri: URI, flags: int, auth: Any) -> Any:
    """A DriverSet for uri, or None when the URI is not the remote driver's."""
    from .. import DriverSet

    if not uri.is_remote and uri.path not in _DAEMON_PATHS.get(uri.driver, ()):
        return None
    drv = RemoteDriver(uri, connect(uri, flags), flags)
    return DriverSet(drv, drv, drv)
