"""pyvirtd's TLS: the x509 server context, non-blocking handshakes, client DN allow-list.

As libvirtd (libvirtd.conf "TLS x509 certificate configuration"): the server presents
cert_file/key_file, requires a client certificate signed by ca_file (unless
tls_no_verify_certificate), then checks the client's distinguished name against
tls_allowed_dn_list, whose entries are shell-style patterns ("C=GB,O=Example,CN=*").
An empty list allows every client whose certificate verified. The DN is written in the
certificate's RDN order with the short attribute names (C, ST, L, O, OU, CN, ...).
A client that passes gets one byte, 1, before any packet: libvirt's TLS confirmation.
"""
from __future__ import annotations

import fnmatch
import logging
import os
import socket
import ssl
from collections.abc import Callable
from typing import Any

from .. import eventloop
from ..constants import EventHandleType
from .config import Config, ConfigError

__all__ = ["Handshake", "dn_allowed", "peer_dn", "server_context"]

log = logging.getLogger("pyvirt.daemon")

_SHORT = {"countryName": "C", "stateOrProvinceName": "ST", "localityName": "L",
          "organizationName": "O", "organizationalUnitName": "OU", "commonName": "CN",
          "emailAddress": "EMAIL", "domainComponent": "DC", "userId": "UID",
          "serialNumber": "serialNumber"}


def server_context(cfg: Config) -> ssl.SSLContext:
    """The TLS context for the TLS listener (ConfigError naming a missing file)."""
    files = {n: cfg.pki(n) for n in ("cert_file", "key_file", "ca_file")}
    for name, path in files.items():
        if not os.path.isfile(path):
            raise ConfigError(f"{name} {path} does not exist (needed by the TLS listener)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # No TLS 1.3 session tickets: libvirt's client reads the confirmation byte as soon
    # as the socket is readable, and a ticket arriving first fails it with EAGAIN
    ctx.num_tickets = 0
    try:
        ctx.load_cert_chain(files["cert_file"], files["key_file"])
        ctx.load_verify_locations(files["ca_file"])
        crl = cfg.pki("crl_file")
        if crl:
            ctx.load_verify_locations(crl)
            ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"cannot load the TLS certificates: {exc}") from None
    ctx.verify_mode = ssl.CERT_OPTIONAL if cfg.tls_no_verify_certificate else ssl.CERT_REQUIRED
    return ctx


def peer_dn(cert: dict[str, Any]) -> str:
    """The subject DN of a peer certificate as getpeercert() gives it."""
    parts = []
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            parts.append(f"{_SHORT.get(key, key)}={value}")
    return ",".join(parts)


def dn_allowed(dn: str, patterns: list[str]) -> bool:
    """Whether the DN matches an allow-list entry (every DN when the list is empty)."""
    return not patterns or any(fnmatch.fnmatchcase(dn, p) for p in patterns)


class Handshake:
    """Drives one server-side TLS handshake on the event loop, then calls `done`
    with the wrapped socket (or None when it failed or the DN is not allowed)."""

    def __init__(self, ctx: ssl.SSLContext, sock: socket.socket, cfg: Config,
                 done: Callable[[socket.socket | None], None]) -> None:
        sock.setblocking(False)
        self.ssock = ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        self.cfg, self.done = cfg, done
        self.watch = eventloop.add_handle(self.ssock.fileno(), int(EventHandleType.READABLE),
                                          self._step)

    def _finish(self, ok: bool) -> None:
        eventloop.remove_handle(self.watch)
        if ok:
            self.done(self.ssock)
            return
        try:
            self.ssock.close()
        except OSError:
            pass
        self.done(None)

    def _step(self, watch: int, fd: int, events: int, opaque: object) -> None:
        try:
            self.ssock.do_handshake()
        except ssl.SSLWantReadError:
            eventloop.update_handle(self.watch, int(EventHandleType.READABLE))
            return
        except ssl.SSLWantWriteError:
            eventloop.update_handle(self.watch, int(EventHandleType.WRITABLE))
            return
        except (ssl.SSLError, OSError) as exc:
            log.warning("TLS handshake failed: %s", exc)
            self._finish(False)
            return
        cert = self.ssock.getpeercert()
        if cert is None or not cert:
            if not self.cfg.tls_no_verify_certificate:
                log.warning("TLS client sent no certificate")
                self._finish(False)
                return
            self._confirm()
            return
        dn = peer_dn(cert)
        if not dn_allowed(dn, self.cfg.tls_allowed_dn_list):
            # libvirtd: "Client's x509 Distinguished Name is not on the list of allowed clients"
            log.warning("TLS client DN '%s' is not on the list of allowed clients", dn)
            self._finish(False)
            return
        log.info("TLS client DN '%s' allowed", dn)
        self._confirm()

    def _confirm(self) -> None:
        # libvirt's client waits for one byte, 1, saying that its certificate passed
        # the server's checks (virNetClientSetTLSSession: "TLS confirmation")
        try:
            self.ssock.send(b"\x01")
        except (ssl.SSLError, OSError) as exc:
            log.warning("TLS confirmation could not be sent: %s", exc)
            self._finish(False)
            return
        self._finish(True)
