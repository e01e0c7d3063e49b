"""The pyvirtd server: listeners, the event loop, clients, keepalive, idle exit, stop.

One event loop (pyvirt.eventloop's default implementation, the C epoll poller) runs on
the main thread: it accepts clients, reads their packets, flushes their queued replies,
fires the keepalive and idle timers, and delivers the drivers' events (whose relays
write MESSAGE frames to the clients that registered). Calls run on the bounded worker
pool. Everything the daemon keeps lives under its root directory: DIR/run (sockets,
pidfile), DIR/qemu (the qemu driver's state), DIR/pki (TLS files by default).

A stop (SIGTERM, SIGINT, or the idle timeout) closes the listeners and the clients and
the drivers' connections; it never touches guests, so the qemu driver finds them again
on the next start (issue 4 "Daemon restart").
"""
from __future__ import annotations

import fcntl
import importlib
import importlib.util
import logging
import os
import signal
import socket
import struct
import threading
import time
from typing import Any

from .. import eventloop
from ..constants import ErrorDomain, ErrorNumber, EventHandleType
from ..errors import error, libvirtError
from ..uri import parse as parse_uri
from .client import ServerClient
from .config import Config, ConfigError
from .dispatch import PING_FRAME, Dispatcher
from .workers import WorkerPool

__all__ = ["Server", "ServerError"]

log = logging.getLogger("pyvirt.daemon")
_READ = int(EventHandleType.READABLE)


class ServerError(RuntimeError):
    """The daemon cannot start (socket in use, another daemon on the same root, ...)."""


class Server:
    """pyvirtd's listeners and clients on one event loop."""

    def __init__(self, config: Config, tcp: tuple[str, int] | None = None,
                 tls: tuple[str, int] | None = None) -> None:
        config.check()
        self.config = config
        self.tcp, self.tls = tcp, tls
        if tcp is None and config.listen_tcp:
            self.tcp = (config.listen_addr, int(config.tcp_port))
        if tls is None and config.listen_tls:
            self.tls = (config.listen_addr, int(config.tls_port))
        self.owner_uid = os.geteuid()
        self.pool = WorkerPool(config.min_workers, config.max_workers)
        self.dispatcher = Dispatcher(self)
        self.clients: set[ServerClient] = set()
        self._lock = threading.Lock()
        self._listeners: list[tuple[socket.socket, str, int]] = []
        self._paused = False
        self._tls_ctx: Any = None            # ssl.SSLContext, for a TLS listener
        self._timers: list[int] = []
        self._pidfd = -1
        self._stopping = False
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._idle_since = time.monotonic()
        self.bound: dict[str, Any] = {}       # kind -> address actually bound (tests)
        self._keeper: Any = None              # the daemon's own qemu connection

    # -- URIs -----------------------------------------------------------------------------
    def default_uri(self) -> str:
        """What CONNECT_OPEN("") opens: the qemu driver when it is installed."""
        return "qemu:///system" if _has_qemu() else "test:///default"

    def local_uri(self, name: str) -> str:
        """The URI of the local driver that serves a client's CONNECT_OPEN name."""
        u = parse_uri(name)
        if u.is_remote:
            raise error(ErrorNumber.NO_CONNECT, ErrorDomain.RPC,
                        f"{name} (pyvirtd does not relay to other hosts)")
        if u.driver == "qemu" and u.path in ("/system", "/session") and _has_qemu():
            # the daemon's qemu driver keeps its state under DIR/qemu
            return f"qemu:///embed?root={self.config.root / 'qemu'}"
        if u.driver == "test" and u.path:
            return name
        raise error(ErrorNumber.NO_CONNECT, ErrorDomain.RPC, name)

    def uid_allowed(self, uid: int | None) -> bool:
        """Root and the daemon's owner may use the read-write socket (SO_PEERCRED)."""
        return uid is not None and uid in (0, self.owner_uid)

    # -- start ----------------------------------------------------------------------------
    def start(self) -> None:
        """Take the root, bind every listener, install timers and signal handling."""
        cfg = self.config
        for sub in ("run", "log"):
            (cfg.root / sub).mkdir(parents=True, exist_ok=True)
        cfg.sock_dir.mkdir(parents=True, exist_ok=True)
        self._lock_pidfile()
        eventloop.register_default_impl()
        self._open_keeper()
        if self.tls is not None:
            from .tls import server_context   # ssl only for a TLS listener (client.py)
            self._tls_ctx = server_context(cfg)
        self._listen_unix(cfg.rw_socket, "unix", int(cfg.unix_sock_rw_perms, 8))
        self._listen_unix(cfg.ro_socket, "unix-ro", int(cfg.unix_sock_ro_perms, 8))
        if self.tcp is not None:
            self._listen_inet(self.tcp, "tcp")
        if self.tls is not None:
            self._listen_inet(self.tls, "tls")
        if cfg.keepalive_interval > 0:
            self._timers.append(eventloop.add_timeout(cfg.keepalive_interval * 1000,
                                                      self._keepalive))
        if cfg.timeout > 0:
            self._timers.append(eventloop.add_timeout(1000, self._idle_check))
        self._timers.append(eventloop.add_timeout(60_000, self._trim))
        self._trim(0, None)
        if threading.current_thread() is threading.main_thread():
            self._install_signals()
        # DIR/run/pyvirtd.listen says where it listens (ports chosen with :0 included)
        listen = cfg.root / "run" / "pyvirtd.listen"
        listen.write_text("".join(f"{k} {v if isinstance(v, str) else f'{v[0]} {v[1]}'}\n"
                                  for k, v in self.bound.items()))
        log.info("pyvirtd %d listening: %s", os.getpid(),
                 ", ".join(f"{k} {v}" for k, v in self.bound.items()))

    def _open_keeper(self) -> None:
        """Hold the qemu driver open for the daemon's life, as libvirtd's state driver
        is: its first open takes DIR/qemu, reattaches to the guests a previous daemon
        left running (same IDs and states) and autostarts the rest, before any client
        can connect; clients then share it."""
        if not _has_qemu():
            return
        from .._api import Connection
        try:
            self._keeper = Connection(self.local_uri("qemu:///system"), 0)
        except libvirtError as exc:
            log.error("the qemu driver cannot start: %s", exc)
            return
        log.info("qemu driver ready: %d guests running", self._keeper.num_of_domains())

    def _lock_pidfile(self) -> None:
        path = self.config.pidfile
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise ServerError(f"another pyvirtd (pid {other or '?'}) is using "
                              f"{self.config.root}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._pidfd = fd

    def _listen_unix(self, path: os.PathLike[str], kind: str, mode: int) -> None:
        p = os.fspath(path)
        if os.path.exists(p):
            os.unlink(p)   # stale: the pidfile lock says no other daemon owns it
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            old = os.umask(0o777 & ~mode)
            try:
                s.bind(p)
            finally:
                os.umask(old)
            os.chmod(p, mode)
            s.listen(128)
        except OSError as exc:
            s.close()
            raise ServerError(f"cannot listen on {p}: {exc.strerror}") from None
        self._add_listener(s, kind)
        self.bound[kind] = p

    def _listen_inet(self, addr: tuple[str, int], kind: str) -> None:
        host, port = addr
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except OSError as exc:
            raise ServerError(f"cannot resolve {host}: {exc}") from None
        family, _, _, _, sa = infos[0]
        s = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(sa)
            s.listen(128)
        except OSError as exc:
            s.close()
            raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
        self._add_listener(s, kind)
        self.bound[kind] = s.getsockname()[:2]

    def _add_listener(self, s: socket.socket, kind: str) -> None:
        s.setblocking(False)
        watch = eventloop.add_handle(s.fileno(), _READ, self._accept, kind)
        self._listeners.append((s, kind, watch))

    def _install_signals(self) -> None:
        # A C-level signal handler writes to this socket, which wakes the poller;
        # the Python handlers then run on the main thread between iterations.
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        eventloop.add_handle(self._wake_r.fileno(), _READ, self._drain_wake)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGHUP, lambda s, f: log.info("SIGHUP ignored"))
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def _drain_wake(self, watch: int, fd: int, events: int, opaque: object) -> None:
        assert self._wake_r is not None
        try:
            while self._wake_r.recv(256):
                pass
        except BlockingIOError:
            pass

    def _on_signal(self, signum: int, frame: Any) -> None:
        log.info("signal %d: stopping", signum)
        self.request_stop()

    # -- accepting ------------------------------------------------------------------------
    def _accept(self, watch: int, fd: int, events: int, kind: Any) -> None:
        sock = next((s for s, _, w in self._listeners if w == watch), None)
        if sock is None:
            return
        for _ in range(64):
            try:
                conn, addr = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept on %s failed: %s", kind, exc)
                return
            self._new_client(conn, addr, str(kind))
            if self._paused:
                return

    def _new_client(self, sock: socket.socket, addr: Any, kind: str) -> None:
        cfg = self.config
        if kind in ("unix", "unix-ro"):
            pid, uid, _gid = struct.unpack("3i", sock.getsockopt(
                socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
            readonly = kind == "unix-ro"
            # auth none on the read-write socket admits root and the owner only; anyone
            # else is asked to authenticate (AUTH_LIST answers POLKIT) and refused
            auth = True if readonly else self.uid_allowed(uid)
            self._add_client(ServerClient(self, sock, kind, readonly=readonly,
                                          authenticated=auth, peer=f"pid {pid} uid {uid}",
                                          uid=uid, pid=pid))
            return
        peer = f"{addr[0]}:{addr[1]}"
        if kind == "tcp":
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._add_client(ServerClient(self, sock, kind, readonly=False,
                                          authenticated=True, peer=peer))
            return
        assert self._tls_ctx is not None
        from .tls import Handshake
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def done(ssock: socket.socket | None) -> None:
            if ssock is not None and not self._stopping:
                self._add_client(ServerClient(self, ssock, "tls", readonly=False,
                                              authenticated=True, peer=peer))
        Handshake(self._tls_ctx, sock, cfg, done)

    def _add_client(self, client: ServerClient) -> None:
        with self._lock:
            self.clients.add(client)
            full = len(self.clients) >= self.config.max_clients
        client.start()
        log.info("client %s: connected%s", client.ident,
                 "" if client.authenticated else " (not authenticated)")
        if full and not self._paused:
            log.warning("max_clients (%d) reached: not accepting", self.config.max_clients)
            self._pause(True)

    def _pause(self, paused: bool) -> None:
        self._paused = paused
        for _, _, watch in self._listeners:
            eventloop.update_handle(watch, 0 if paused else _READ)

    def client_gone(self, client: ServerClient) -> None:
        with self._lock:
            self.clients.discard(client)
            resume = self._paused and len(self.clients) < self.config.max_clients
            if not self.clients:
                self._idle_since = time.monotonic()
        if resume and not self._stopping:
            self._pause(False)

    # -- timers ---------------------------------------------------------------------------
    def _keepalive(self, timer: int, opaque: object) -> None:
        # Ping clients that asked for keepalive (feature 10) and were silent for an
        # interval; drop those that stay silent for interval*count (libvirtd's rule).
        cfg = self.config
        now = time.monotonic()
        with self._lock:
            clients = [c for c in self.clients if c.keepalive and not c.closed]
        for c in clients:
            if now - c.last_rx < cfg.keepalive_interval:
                continue
            if c.pings_unanswered >= cfg.keepalive_count:
                log.warning("client %s: no keepalive response for %ds; closing", c.ident,
                            int(now - c.last_rx))
                c.close()
                continue
            c.pings_unanswered += 1
            c.send(PING_FRAME)

    def _trim(self, timer: int, opaque: object) -> None:
        # Hand freed heap pages back (import-time garbage at start, then every minute):
        # pyvirtd's memory is measured against libvirtd's (issue 4 "Speed to reach")
        if _libc is not None:
            _libc.malloc_trim(0)

    def _idle_check(self, timer: int, opaque: object) -> None:
        with self._lock:
            busy = bool(self.clients)
            since = self._idle_since
        if busy or time.monotonic() - since < self.config.timeout:
            return
        if self._guests_running():
            self._idle_since = time.monotonic()
            return
        log.info("no clients for %ds and no running guests: exiting", self.config.timeout)
        self.request_stop()

    def _guests_running(self) -> bool:
        if self._keeper is None:
            return False
        try:
            return bool(self._keeper.num_of_domains() > 0)
        except Exception:
            log.exception("cannot count running guests")
            return True

    # -- running and stopping -------------------------------------------------------------
    def request_stop(self) -> None:
        """Make run() return after the current iteration (any thread, signal handlers)."""
        self._stopping = True
        eventloop.interrupt()

    def run(self) -> None:
        """Serve until request_stop()."""
        loop = eventloop.default_loop()
        if loop is None:
            raise ServerError("start() was not called")
        while not self._stopping:
            loop.run_once()

    def stop(self) -> None:
        """Close listeners and clients and the drivers' connections; guests keep running."""
        self._stopping = True
        for s, _, watch in self._listeners:
            eventloop.remove_handle(watch)
            s.close()
        self._listeners.clear()
        for kind in ("unix", "unix-ro"):
            path = self.bound.get(kind)
            if path and os.path.exists(path):
                os.unlink(path)
        for t in self._timers:
            eventloop.remove_timeout(t)
        self._timers.clear()
        with self._lock:
            clients = list(self.clients)
        for c in clients:
            c.close()
        self.pool.stop()
        if self._keeper is not None:     # releases DIR/qemu; guests keep running
            try:
                self._keeper.close()
            except Exception:
                log.exception("closing the qemu driver failed")
            self._keeper = None
        if self._wake_r is not None:
            signal.set_wakeup_fd(-1)
        if self._pidfd >= 0:
            try:
                os.unlink(self.config.pidfile)
            except OSError:
                pass
            os.close(self._pidfd)
            self._pidfd = -1
        log.info("pyvirtd %d stopped", os.getpid())


def _load_libc() -> Any:
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        libc.malloc_trim   # glibc only
        return libc
    except (OSError, AttributeError):
        return None


_libc = _load_libc()


def _has_qemu() -> bool:
    """Whether pyvirt's qemu driver is installed (and importable: it may be mid-write)."""
    try:
        if importlib.util.find_spec("pyvirt.drivers.qemu") is None:
            return False
        return hasattr(importlib.import_module("pyvirt.drivers.qemu"), "open")
    except ImportError:
        return False


# ConfigError is part of what start() raises
__all__ += ["ConfigError"]
