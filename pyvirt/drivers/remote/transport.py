"""Transports of the remote driver: unix, tcp, tls, ssh and ext, as libvirt resolves URIs.

    qemu:///system, qemu+unix:///system     pyvirtd's system socket (see paths.py)
    qemu:///session                         the per-user session daemon, started on demand
    X+unix:///P?socket=PATH                 that socket
    X+tcp://HOST[:PORT]/P                   TCP, port 16509 by default
    X+tls://HOST[:PORT]/P                   TLS, port 16514; client certificate from
                                            ?pkipath=DIR or libvirt's default PKI paths
    X+ssh://[USER@]HOST[:PORT]/P            the system ssh client runs `nc -U SOCKET` on
                                            HOST (?socket=, ?netcat=, ?command=, ?keyfile=,
                                            ?no_tty=1, ?no_verify=1, ?proxy=native|auto)
    X+ext:///P?command=CMD                  CMD's stdin/stdout carry the protocol

A transport is a connected stream socket plus what the client must know about it:
whether it is secure (local, TLS or ssh: libvirt's priv->is_secure) and encrypted
(TLS only: virNetClientIsEncrypted).
"""
from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error, libvirtError
from ...uri import URI
from . import paths

__all__ = ["Transport", "connect", "tls_client_files"]

TCP_PORT = 16509
TLS_PORT = 16514


@dataclass
class Transport:
    """A connected stream to a daemon."""
    sock: socket.socket
    kind: str                       # unix, tcp, tls, ssh, ext
    secure: bool
    encrypted: bool
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def tls(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)

    def errout(self) -> str:
        """What the transport's command (ssh, ext) said on stderr so far, for the error a
        lost connection gets (libvirt's errfd: "Host key verification failed." and the like)."""
        if self.proc is None or self.proc.stderr is None or self.proc.stderr.closed:
            return ""
        try:
            self.proc.wait(timeout=1)       # the stream ended: the command is exiting
        except subprocess.TimeoutExpired:
            pass
        try:
            data = os.read(self.proc.stderr.fileno(), 1024)
        except (BlockingIOError, OSError):
            return ""
        return data.decode(errors="replace").strip()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()


def _failed(what: str, exc: OSError | str) -> libvirtError:
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC, f"{what}: {detail}")


def _unix(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        s.connect(path)
    except OSError as exc:
        s.close()
        raise _failed(f"Failed to connect socket to '{path}'", exc) from None
    return s


def _tcp(host: str, port: int) -> socket.socket:
    try:
        s = socket.create_connection((host, port))
    except OSError as exc:
        raise _failed(f"unable to connect to server at '{host}:{port}'", exc) from None
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def tls_client_files(uri: URI) -> tuple[str, str, str]:
    """(CA certificate, client certificate, client key): ?pkipath=DIR or libvirt's
    defaults (/etc/pki for root, ~/.pki/libvirt otherwise)."""
    pki = uri.param("pkipath")
    if pki:
        d = Path(pki)
        return str(d / "cacert.pem"), str(d / "clientcert.pem"), str(d / "clientkey.pem")
    if os.geteuid() == 0:
        return ("/etc/pki/CA/cacert.pem", "/etc/pki/libvirt/clientcert.pem",
                "/etc/pki/libvirt/private/clientkey.pem")
    d = Path.home() / ".pki" / "libvirt"
    return str(d / "cacert.pem"), str(d / "clientcert.pem"), str(d / "clientkey.pem")


def _tls(uri: URI, host: str, port: int) -> socket.socket:
    ca, cert, key = tls_client_files(uri)
    for what, path in (("CA certificate", ca), ("client certificate", cert),
                       ("client key", key)):
        if not os.path.isfile(path):
            raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC,
                        f"Cannot access {what} '{path}': No such file or directory")
    no_verify = uri.param("no_verify", "0") not in ("0", "")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_verify_locations(ca)
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.RPC,
                    f"unable to load the TLS credentials: {exc}") from None
    if no_verify:   # libvirt's no_verify=1: do not check the server's certificate
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    raw = _tcp(host, port)
    try:
        tls = ctx.wrap_socket(raw, server_hostname=host)
    except (ssl.SSLError, OSError) as exc:
        raw.close()
        raise error(ErrorNumber.AUTH_FAILED, ErrorDomain.RPC,
                    f"TLS handshake with {host}:{port} failed: {exc}") from None
    # The server checks our certificate, then sends one byte, 1 (libvirt's "TLS
    # confirmation"); anything else means it refused us.
    try:
        confirm = tls.recv(1)
    except (ssl.SSLError, OSError) as exc:
        confirm = b""
        detail = str(exc)
    else:
        detail = "no confirmation"
    if confirm != b"\x01":
        tls.close()
        raise error(ErrorNumber.RPC, ErrorDomain.RPC,
                    f"server verification (of our certificate or IP address) failed: {detail}")
    return tls


def _command(argv: list[str], what: str) -> tuple[socket.socket, subprocess.Popen[bytes]]:
    """Run argv with one end of a socket pair as its stdin and stdout."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        proc = subprocess.Popen(argv, stdin=theirs.fileno(), stdout=theirs.fileno(),
                                stderr=subprocess.PIPE, close_fds=True, start_new_session=True)
    except OSError as exc:
        ours.close()
        raise _failed(f"cannot run {what} '{argv[0]}'", exc) from None
    finally:
        theirs.close()
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    return ours, proc


def _ssh_remote_command(uri: URI, readonly: bool) -> str:
    """What ssh runs on HOST to reach the daemon, as libvirt's virNetClientSSHHelperCommand
    builds it: `nc` (with -q0 where that nc needs it to exit on EOF) on the daemon's unix
    socket, or libvirt's virt-ssh-helper for the driver URI (proxy=native), or the
    helper when HOST has it and nc otherwise (proxy=auto).

    pyvirt's default is netcat, where libvirt's is auto: virt-ssh-helper reaches only
    libvirt's own daemons, and pyvirt's default daemon is pyvirtd (README: "differs from
    libvirt on purpose")."""
    netcat = uri.param("netcat")
    proxy = uri.param("proxy") or "netcat"
    if proxy not in ("auto", "netcat", "native"):
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.REMOTE,
                    f"unknown ssh proxy mode '{proxy}' (expected auto, netcat or native)")
    if proxy == "native" and netcat:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.REMOTE,
                    "netcat path not valid with native proxy mode")
    if proxy == "auto" and netcat:
        proxy = "netcat"
    sock = uri.param("socket") or str(paths.system_socket(readonly))
    nc = shlex.quote(netcat or "nc")
    nccmd = (f"if {nc} -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; "
             f"then ARG=-q0; else ARG=; fi; {nc} $ARG -U {shlex.quote(sock)}")
    helper = f"virt-ssh-helper{' -r' if readonly else ''} {shlex.quote(uri.server_uri())}"
    if proxy == "netcat":
        script = nccmd
    elif proxy == "native":
        script = helper
    else:
        script = (f"if which virt-ssh-helper >/dev/null 2>&1; then {helper}; "
                  f"else {nccmd}; fi")
    return f"sh -c {shlex.quote(script)}"


def _ssh_argv(uri: URI, readonly: bool) -> list[str]:
    """libvirt's ssh transport (virNetSocketNewConnectSSH): the system ssh client, its
    stdin and stdout carrying the protocol."""
    argv = [uri.param("command") or "ssh"]
    if uri.port:
        argv += ["-p", str(uri.port)]
    if uri.user:
        argv += ["-l", uri.user]
    keyfile = uri.param("keyfile")
    if keyfile:
        argv += ["-i", keyfile]
    argv += ["-T", "-e", "none"]
    if uri.param("no_tty", "0") not in ("0", ""):
        argv += ["-o", "BatchMode=yes"]
    if uri.param("no_verify", "0") not in ("0", ""):
        argv += ["-o", "StrictHostKeyChecking=no"]
    known = uri.param("known_hosts")
    if known:
        argv += ["-o", f"UserKnownHostsFile={known}"]
    return argv + ["--", uri.host or "localhost", _ssh_remote_command(uri, readonly)]


def connect(uri: URI, flags: int) -> Transport:
    """Open the transport a URI names (libvirtError SYSTEM_ERROR when it cannot)."""
    readonly = bool(flags & 1)
    kind = uri.transport or ("unix" if not uri.host else "tls")
    if kind == "unix":
        if uri.host:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.REMOTE,
                        "transport 'unix' does not take a host name")
        path = uri.param("socket")
        if not path:
            if uri.path == "/session":
                path = str(paths.session_socket(autostart=True))
            else:
                path = str(paths.system_socket(readonly))
        return Transport(_unix(path), "unix", secure=True, encrypted=False)
    if kind == "tcp":
        return Transport(_tcp(uri.host or "localhost", uri.port or TCP_PORT), "tcp",
                         secure=False, encrypted=False)
    if kind == "tls":
        return Transport(_tls(uri, uri.host or "localhost", uri.port or TLS_PORT), "tls",
                         secure=True, encrypted=True)
    if kind == "ssh":
        sock, proc = _command(_ssh_argv(uri, readonly), "ssh")
        return Transport(sock, "ssh", secure=True, encrypted=False, proc=proc)
    if kind == "ext":
        cmd = uri.param("command")
        if not cmd:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.REMOTE,
                        "remote_open: for 'ext' transport, command is required")
        sock, proc = _command(shlex.split(cmd), "command")
        return Transport(sock, "ext", secure=True, encrypted=False, proc=proc)
    raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.REMOTE,
                f"transport '{kind}' is not supported by pyvirt's remote driver")
