"""Connection URIs: libvirt's grammar parsed into their parts.

    driver[+transport]://[user@][host][:port]/path[?param=value&...]

`test:///default`, `qemu:///system`, `qemu:///embed?root=/srv/vms`, `qemu+ssh://me@h/system`,
`qemu+unix:///system?socket=/run/x.sock`, `qemu+tcp://[::1]:16509/system`, `remote+tls://h/`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from .constants import ErrorDomain, ErrorNumber
from .errors import error, libvirtError

__all__ = ["URI", "parse", "default_uri", "TRANSPORTS", "CLIENT_PARAMS"]

TRANSPORTS = frozenset({"tcp", "tls", "unix", "ssh", "ext", "libssh", "libssh2"})
# Query parameters the remote client consumes itself and never sends to the server
# (libvirt's remote driver strips these before CONNECT_OPEN).
CLIENT_PARAMS = frozenset({"name", "command", "socket", "auth", "netcat", "keyfile",
                           "no_verify", "no_tty", "pkipath", "known_hosts", "sshauth",
                           "mode", "proxy", "tls_priority", "known_hosts_verify"})

_URI_RE = re.compile(
    r"""^(?P<scheme>[A-Za-z][A-Za-z0-9.\-]*(?:\+[A-Za-z0-9]+)?):
        (?://(?P<authority>[^/?#]*))?
        (?P<path>[^?#]*)
        (?:\?(?P<query>[^#]*))?
        (?:\#(?P<fragment>.*))?$""", re.X)
_AUTH_RE = re.compile(r"^(?:(?P<user>[^@]*)@)?(?P<host>\[[0-9A-Fa-f:.]+\]|[^:\[\]]*)"
                      r"(?::(?P<port>\d*))?$")


@dataclass(frozen=True)
class URI:
    """A parsed connection URI."""
    raw: str
    driver: str                      # "test", "qemu", "lxc", "remote", ...
    transport: str | None = None     # "tcp", "tls", "unix", "ssh", ... or None
    user: str | None = None
    host: str | None = None          # IPv6 literals without brackets
    port: int | None = None
    path: str = ""
    params: tuple[tuple[str, str], ...] = field(default=())

    @property
    def scheme(self) -> str:
        return f"{self.driver}+{self.transport}" if self.transport else self.driver

    @property
    def is_remote(self) -> bool:
        """Whether a remote driver must carry this URI (a transport or a host is named)."""
        return self.transport is not None or bool(self.host) or self.driver == "remote"

    def param(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.params:
            if k == name:
                return v
        return default

    def server_uri(self) -> str:
        """The URI a remote client sends in CONNECT_OPEN: no transport, host, or
        client-only parameters (rpc-protocol.md 3.1, step 3)."""
        if self.driver == "remote":
            return ""
        query = "&".join(f"{quote(k, safe='')}={quote(v, safe='/:,')}"
                         for k, v in self.params if k not in CLIENT_PARAMS)
        base = f"{self.driver}://{self.path or '/'}"
        return f"{base}?{query}" if query else base

    def __str__(self) -> str:
        return self.raw


def _bad(uri: str, why: str) -> libvirtError:
    return error(ErrorNumber.INVALID_ARG, ErrorDomain.URI, f"cannot parse URI '{uri}': {why}")


def parse(uri: str) -> URI:
    """Parse a connection URI, or raise libvirtError (VIR_ERR_INVALID_ARG) saying what is wrong."""
    if not isinstance(uri, str) or not uri:
        raise _bad(str(uri), "empty URI")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in uri):
        raise _bad(uri, "URIs may not contain whitespace or control characters")
    m = _URI_RE.match(uri)
    if not m:
        raise _bad(uri, "expected driver[+transport]://[user@][host][:port]/path[?params]")
    scheme = m.group("scheme")
    driver, _, transport = scheme.partition("+")
    if transport and transport not in TRANSPORTS:
        raise _bad(uri, f"unknown transport '{transport}' (known: {', '.join(sorted(TRANSPORTS))})")
    user = host = None
    port = None
    authority = m.group("authority")
    if authority is None and m.group("path") and not m.group("path").startswith("/"):
        raise _bad(uri, "expected '//' after the scheme")
    if authority:
        am = _AUTH_RE.match(authority)
        if not am:
            raise _bad(uri, f"malformed host part '{authority}'")
        user = unquote(am.group("user")) if am.group("user") is not None else None
        host = am.group("host") or None
        if host and host.startswith("["):
            host = host[1:-1]
        if am.group("port"):
            port = int(am.group("port"))
            if not 0 < port < 65536:
                raise _bad(uri, f"port {port} out of range")
    params: list[tuple[str, str]] = []
    query = m.group("query")
    if query:
        for item in re.split(r"[&;]", query):
            if not item:
                continue
            k, sep, v = item.partition("=")
            if not k:
                raise _bad(uri, f"malformed query parameter '{item}'")
            params.append((unquote(k), unquote(v.replace("+", " "))))
    return URI(raw=uri, driver=driver.lower(), transport=transport.lower() or None, user=user,
               host=host, port=port, path=unquote(m.group("path")), params=tuple(params))


def default_uri() -> str:
    """The URI used when none is given: $LIBVIRT_DEFAULT_URI, else the embedded QEMU
    driver under $PYVIRT_ROOT (default ~/.local/share/pyvirt/embed)."""
    env = os.environ.get("LIBVIRT_DEFAULT_URI")
    if env:
        return env
    root = os.environ.get("PYVIRT_ROOT") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "pyvirt", "embed")
    return f"qemu:///embed?root={root}"
