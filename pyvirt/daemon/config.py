"""pyvirtd's settings: defaults, the libvirtd.conf-style config file, and checks.

The file uses libvirtd.conf's syntax and, where a setting exists there, its name and
meaning (listen_tcp, tcp_port, max_workers, tls_allowed_dn_list, keepalive_interval...):

    # comment
    listen_tcp = 1
    listen_addr = "127.0.0.1"
    tls_allowed_dn_list = ["C=GB,O=Example,CN=*"]

An unknown setting, a value of the wrong type or a malformed line is an error that names
the line: a daemon must not start with a setting it silently ignores.
"""
from __future__ import annotations

import ipaddress
import os
import re
import socket
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..rpc.packet import FRAME_HEADER_SIZE, FRAME_MAX

__all__ = ["Config", "ConfigError", "is_loopback", "load", "parse", "parse_hostport"]


class ConfigError(ValueError):
    """A setting that cannot be used; the message says which and why."""


@dataclass
class Config:
    """Every setting pyvirtd reads, with libvirtd's defaults where it has one."""

    root: Path = Path("/var/lib/pyvirt")
    # unix sockets (DIR/run by default; libvirtd: /run/libvirt)
    unix_sock_dir: str = ""
    unix_sock_rw_perms: str = "0700"
    unix_sock_ro_perms: str = "0777"
    auth_unix_rw: str = "none"      # none: root and the daemon's owner (SO_PEERCRED)
    auth_unix_ro: str = "none"
    # TCP (plain; auth none, so loopback only unless listen_addr says otherwise)
    listen_tcp: bool = False
    listen_tls: bool = False
    listen_addr: str = "127.0.0.1"
    tcp_port: str = "16509"
    tls_port: str = "16514"
    auth_tcp: str = "none"
    # TLS: x509 certificates, client certificates verified, allow-list of client DNs
    key_file: str = ""
    cert_file: str = ""
    ca_file: str = ""
    crl_file: str = ""
    tls_no_verify_certificate: bool = False
    tls_allowed_dn_list: list[str] = field(default_factory=list)
    # limits (libvirtd's names and defaults)
    max_clients: int = 5000
    min_workers: int = 5
    max_workers: int = 20
    max_client_requests: int = 5
    max_message_size: int = FRAME_MAX   # pyvirt's own: the largest frame a client may send
    keepalive_interval: int = 5
    keepalive_count: int = 5
    # logs
    log_level: int = 3                  # 1 debug, 2 info, 3 warning, 4 error (libvirt's)
    log_file: str = ""
    # what CONNECT_OPEN("") opens (libvirtd probes; pyvirtd is told)
    uri_default: str = ""
    # exit after this many seconds without clients or running guests (0: never)
    timeout: int = 0

    # -- derived paths ------------------------------------------------------------------
    @property
    def sock_dir(self) -> Path:
        return Path(self.unix_sock_dir) if self.unix_sock_dir else self.root / "run"

    @property
    def rw_socket(self) -> Path:
        return self.sock_dir / "libvirt-sock"

    @property
    def ro_socket(self) -> Path:
        return self.sock_dir / "libvirt-sock-ro"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "pyvirtd.pid"

    def pki(self, name: str) -> str:
        """A TLS file: as configured, else DIR/pki/<default name>."""
        value = str(getattr(self, name))
        if value:
            return value
        default = {"key_file": "serverkey.pem", "cert_file": "servercert.pem",
                   "ca_file": "cacert.pem", "crl_file": ""}[name]
        return str(self.root / "pki" / default) if default else ""

    def check(self) -> None:
        """Refuse combinations that cannot work."""
        for name in ("auth_unix_rw", "auth_unix_ro", "auth_tcp"):
            if getattr(self, name) not in ("none", "polkit") or \
                    (name == "auth_tcp" and self.auth_tcp != "none"):
                raise ConfigError(f"{name} = {getattr(self, name)!r}: pyvirtd supports "
                                  f"{'none' if name == 'auth_tcp' else 'none or polkit'}")
        for name in ("unix_sock_rw_perms", "unix_sock_ro_perms"):
            if not re.fullmatch(r"0?[0-7]{3}", getattr(self, name)):
                raise ConfigError(f"{name} must be an octal mode such as \"0700\"")
        for name in ("tcp_port", "tls_port"):
            port = getattr(self, name)
            if not port.isdigit() or not 0 <= int(port) < 65536:
                raise ConfigError(f"{name} = {port!r} is not a port number")
        if not 1 <= self.min_workers <= self.max_workers:
            raise ConfigError("need 1 <= min_workers <= max_workers")
        if self.max_clients < 1 or self.max_client_requests < 1:
            raise ConfigError("max_clients and max_client_requests must be at least 1")
        if not FRAME_HEADER_SIZE + 4 <= self.max_message_size <= FRAME_MAX:
            raise ConfigError(f"max_message_size must be within {FRAME_HEADER_SIZE + 4}.."
                              f"{FRAME_MAX}")
        if self.keepalive_count < 0:
            raise ConfigError("keepalive_count must not be negative")
        if self.log_level not in (1, 2, 3, 4):
            raise ConfigError("log_level must be 1 (debug) .. 4 (error)")
        if self.timeout < 0:
            raise ConfigError("timeout must not be negative")


_TYPES = {f.name: f.type for f in fields(Config)}
_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_STRING = re.compile(r'^"((?:[^"\\]|\\.)*)"')


def _value(text: str, where: str) -> tuple[Any, str]:
    """One value (int, "string" or [list of strings]) and the text after it."""
    text = text.lstrip()
    m = _STRING.match(text)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1)), text[m.end():]
    if text.startswith("["):
        items: list[Any] = []
        rest = text[1:].lstrip()
        while not rest.startswith("]"):
            item, rest = _value(rest, where)
            items.append(item)
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:].lstrip()
            elif not rest.startswith("]"):
                raise ConfigError(f"{where}: expected ',' or ']' in a list")
        return items, rest[1:]
    m = re.match(r"^-?\d+", text)
    if m:
        return int(m.group(0)), text[m.end():]
    raise ConfigError(f"{where}: expected a number, a \"string\" or a [list]")


def _strip_comment(line: str) -> str:
    out, quoted = [], False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            quoted = not quoted
        if ch == "#" and not quoted:
            break
        out.append(ch)
    return "".join(out)


def parse(text: str, base: Config | None = None, source: str = "config") -> Config:
    """Settings from config-file text on top of `base` (defaults when None)."""
    cfg = replace(base) if base is not None else Config()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = _strip_comment(lines[i]).strip()
        where = f"{source}:{i + 1}"
        i += 1
        if not line:
            continue
        # A list may span lines, as in libvirtd.conf.
        while line.count("[") > line.count("]") and i < len(lines):
            line += " " + _strip_comment(lines[i]).strip()
            i += 1
        m = _LINE.match(line)
        if m is None:
            raise ConfigError(f"{where}: expected 'name = value'")
        name, raw = m.groups()
        if name not in _TYPES or name == "root":
            raise ConfigError(f"{where}: unknown setting {name!r}")
        value, rest = _value(raw, where)
        if rest.strip():
            raise ConfigError(f"{where}: unexpected text after the value: {rest.strip()!r}")
        want = _TYPES[name]
        if want == "bool":
            if value not in (0, 1):
                raise ConfigError(f"{where}: {name} must be 0 or 1")
            value = bool(value)
        elif want == "int":
            if not isinstance(value, int):
                raise ConfigError(f"{where}: {name} must be a number")
        elif want == "str":
            if isinstance(value, int) and name in ("tcp_port", "tls_port"):
                value = str(value)
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {name} must be a \"string\"")
        elif not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{where}: {name} must be a [list] of \"strings\"")
        setattr(cfg, name, value)
    return cfg


def load(path: str | os.PathLike[str], base: Config | None = None) -> Config:
    """Settings from a config file (ConfigError naming the file when unreadable)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse(text, base, str(path))


def parse_hostport(text: str, what: str) -> tuple[str, int]:
    """HOST:PORT or [V6]:PORT -> (host, port)."""
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d+)|([^:\[\]]+):(\d+)", text.strip())
    if m is None:
        raise ConfigError(f"{what}: expected HOST:PORT, got {text!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port < 65536:
        raise ConfigError(f"{what}: port {port} out of range")
    return host, port


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_loopback
                               for i in infos)
