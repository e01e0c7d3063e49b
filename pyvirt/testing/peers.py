"""Private peers to measure and test pyvirt against: a libvirtd, a pyvirtd, a bare QEMU.

    with PrivateLibvirtd() as lv:                  # real libvirtd, private everything
        conn = libvirt.open(lv.uri())              # qemu+unix:///system?socket=ROOT/run/...
    with PrivatePyvirtd() as pv:
        conn = pyvirt.open(pv.uri(transport="tcp"))
    with RawQemu(accel="kvm") as q:                # qemu-system-x86_64 + a bare QMP socket
        q.start(); q.qmp.execute("query-status"); q.stop()

Every process started here is stopped by its own PID (SIGTERM, then SIGKILL after a
grace period), pass or fail, and so are the guests a daemon started: a daemon leaves its
guests running when it stops (libvirt's and pyvirt's both do, on purpose), so stop()
kills them first, by the PIDs the daemon recorded.  Nothing here looks processes up by
name, and nothing touches a libvirtd the machine already runs.

PrivateLibvirtd follows shared/PEERS.md: libvirtd in its own mount namespace (`unshare -m
--propagation private`) with private directories bind-mounted over /run/libvirt,
/var/lib/libvirt, /etc/libvirt, /var/cache/libvirt and /var/log/libvirt (their sources
are ROOT/run, ROOT/lib, ROOT/etc, ROOT/cache and ROOT/log, so the unix sockets are
reachable from outside at ROOT/run/libvirt-sock[-ro]), a libvirtd.conf with TCP on
127.0.0.1 and no authentication, a qemu.conf that runs QEMU as root with no security
driver and stdio_handler "file" (no virtlogd), and private copies of /etc/passwd and
/etc/group that name the libvirt-qemu user libvirtd 9.0 looks up before reading qemu.conf.

libvirt's QEMUs are daemonized (double fork), so they are orphans whose exit is reaped by
whichever process adopts them, and libvirt's destroy returns only once the process has
left the process table.  Under systemd that is at once; a container's PID 1 may reap
every ~1.65 s (PEERS.md measured exactly that added to every destroy).  With
`reaper=True` (the default) libvirtd runs under a small child-subreaper that adopts and
reaps its orphans at once, as a real init would, so that what is measured is libvirt.

PrivatePyvirtd runs `python -m pyvirt.daemon --root ROOT --foreground` from the same
pyvirt as the caller; it writes where it listens to ROOT/run/pyvirtd.listen (a TCP port
the kernel picked included).  Its QEMU driver's state is under ROOT/qemu.

RawQemu is the floor: qemu-system-x86_64 started paused (-S) with its monitor on a unix
socket passed as fd 3 (bound and listening before QEMU starts, as pyvirt and libvirt do),
then the QMP greeting, qmp_capabilities and cont; a firmware-only guest unless `extra`
says otherwise.  save() and start(restore_from=...) are save and restore by migration
to and from a file.  QMPSocket is the minimal line-framed QMP client it uses.
"""
from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import pyvirt

__all__ = ["PeerError", "PrivateLibvirtd", "PrivatePyvirtd", "QMPError", "QMPSocket", "RawQemu",
           "free_port", "libvirtd_unavailable", "pyvirtd_unavailable", "qemu_unavailable",
           "stop_pid", "wait_pid_exit"]

# the directory holding the pyvirt package the caller imported: daemons run the same code
_PYVIRT_PARENT = str(Path(pyvirt.__file__).resolve().parents[1])


class PeerError(RuntimeError):
    """A peer could not be started; the message carries the tail of its log."""


class QMPError(RuntimeError):
    """QEMU answered a QMP command with an error (kept as sent and received)."""


# ------------------------------------------------------------------------- processes
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_pid_exit(pidfd: int, timeout: float) -> bool:
    """True once the process behind pidfd has exited (a zombie counts), False at timeout."""
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    return bool(p.poll(max(0, int(timeout * 1000))))


def stop_pid(pid: int, grace: float = 10.0, *, reap: bool = False) -> None:
    """SIGTERM pid, SIGKILL it after `grace` s, wait until it has exited.

    Signals go through a pidfd, so a PID recycled meanwhile is never hit; reap=True
    also collects the exit status (only for our own children)."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        _signal_until_exit(pidfd, signal.SIGTERM, grace)
    finally:
        os.close(pidfd)
    if reap:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _signal_until_exit(pidfd: int, sig: int, grace: float) -> None:
    """Send sig, then SIGKILL if the process still runs after `grace` s; wait for exit."""
    for s, wait in ((sig, grace), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            signal.pidfd_send_signal(pidfd, s)
        if wait_pid_exit(pidfd, wait):
            return


def _stop_popen(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    if proc is not None and proc.poll() is None:
        stop_pid(proc.pid, grace)
    if proc is not None:
        proc.wait()


def _cmdline(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _is_qemu(pid: int) -> bool:
    argv = _cmdline(pid)
    return bool(argv) and b"qemu-system" in os.path.basename(argv[0])


def _qemu_pids(files: list[Path], parse: Callable[[bytes], int]) -> list[int]:
    """The PIDs recorded in a daemon's per-guest files that still are QEMUs."""
    out = []
    for f in sorted(files):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, IndexError):
            pid = parse(f.read_bytes())
            if _is_qemu(pid):
                out.append(pid)
    return out


def _connectable(path: Path | str) -> bool:
    with socket.socket(socket.AF_UNIX) as s, contextlib.suppress(OSError):
        s.connect(str(path))
        return True
    return False


def _tcp_open(port: int) -> bool:
    with contextlib.suppress(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    return False


def _wait_ready(ready: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float,
                what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            raise PeerError(f"{what} exited with status {proc.returncode}: {_tail(log)}")
        if time.monotonic() > deadline:
            raise PeerError(f"{what} was not ready after {timeout:.0f} s: {_tail(log)}")
        time.sleep(0.05)


def _tail(path: Path, limit: int = 1500) -> str:
    try:
        return path.read_text(errors="replace")[-limit:].strip()
    except OSError:
        return "(no log)"


def _which(tool: str) -> str | None:
    return shutil.which(tool) or next(
        (p for p in (f"/usr/sbin/{tool}", f"/sbin/{tool}") if os.access(p, os.X_OK)), None)


# ------------------------------------------------------------------------- availability
def libvirtd_unavailable() -> str | None:
    """Why a private libvirtd cannot run here, or None when it can."""
    if _which("libvirtd") is None:
        return "libvirtd is not installed (Debian: libvirt-daemon libvirt-daemon-driver-qemu)"
    if _which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if os.geteuid() != 0:
        return "a private libvirtd needs root (it runs in its own mount namespace)"
    return None


def pyvirtd_unavailable() -> str | None:
    """Why a private pyvirtd cannot run here, or None when it can."""
    try:
        import pyvirt.daemon.server  # noqa: F401  (the daemon's whole import chain)
    except Exception as exc:  # noqa: BLE001 - any import failure means: cannot run
        return f"pyvirt.daemon does not import: {exc}"
    return None


def qemu_unavailable() -> str | None:
    """Why qemu-system-x86_64 cannot run here, or None when it can."""
    if shutil.which("qemu-system-x86_64") is None:
        return "qemu-system-x86_64 is not installed (Debian: qemu-system-x86)"
    return None


class _Peer:
    """What both daemons share: a root (ours to delete when we made it), a Popen, stop."""

    def __init__(self, root: Path | str | None, prefix: str) -> None:
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix=prefix) if root is None else root).absolute()
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def log(self) -> Path:
        """The daemon's stderr (and stdout)."""
        return self.root / "daemon.log"

    def log_tail(self, limit: int = 2000) -> str:
        return _tail(self.log, limit)

    def uri(self, driver: str = "qemu", path: str = "/system", transport: str = "unix",
            readonly: bool = False) -> str:
        """A libvirt URI reaching this daemon: transport "unix" or "tcp"."""
        if transport == "unix":
            sock = self.sock_ro if readonly else self.sock
            return f"{driver}+unix://{path}?socket={sock}"
        if transport == "tcp":
            if not self.port:
                raise PeerError("this daemon does not listen on TCP")
            return f"{driver}+tcp://127.0.0.1:{self.port}{path}"
        raise ValueError(f"unknown transport {transport!r}")

    sock: Path
    sock_ro: Path

    def start(self, timeout: float = 30.0) -> Self:  # pragma: no cover - overridden
        raise NotImplementedError

    def qemu_pids(self) -> list[int]:  # pragma: no cover - overridden
        raise NotImplementedError

    def kill_guests(self, grace: float = 5.0) -> list[int]:
        """Stop every QEMU this daemon runs, by PID; returns the PIDs.  Waits (up to 2 s)
        for the daemon to reap them, so that none is orphaned as a zombie by its stop."""
        pids = self.qemu_pids()
        for pid in pids:
            stop_pid(pid, grace)
        deadline = time.monotonic() + 2.0
        # /proc/PID stays until the zombie is reaped
        while any(os.path.exists(f"/proc/{p}") for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        return pids

    def _stop_daemon(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def stop(self, *, kill_guests: bool = True) -> None:
        """Stop the guests it left running (unless told not to), then the daemon, by PID."""
        try:
            if kill_guests:
                self.kill_guests()
        finally:
            self._stop_daemon()
            if self._own_root:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


# ------------------------------------------------------------------------- libvirtd
_LIBVIRTD_CONF = """listen_tls = 0
listen_tcp = {tcp}
listen_addr = "127.0.0.1"
tcp_port = "{port}"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
"""
_QEMU_CONF = """user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
"""
# mount source (under ROOT) -> the directory it replaces inside the namespace
_MOUNTS = {"run": "/run/libvirt", "lib": "/var/lib/libvirt", "etc": "/etc/libvirt",
           "cache": "/var/cache/libvirt", "log": "/var/log/libvirt"}
# users and groups libvirtd 9.0 resolves at start-up whatever qemu.conf says
_EXTRA_IDS = {"passwd": ("libvirt-qemu",
                        "libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin"),
              "group": ("libvirt-qemu", "libvirt-qemu:x:64055:")}
_EXTRA_GROUPS = (("kvm", "kvm:x:64056:"),)

# The child subreaper libvirtd runs under (see the module docstring): forwards stop
# signals to libvirtd, reaps every process it adopts, exits with libvirtd's status.
_REAPER = """import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
child = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
def forward(sig, frame):
    try:
        os.kill(child, sig)
    except ProcessLookupError:
        pass
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(s, forward)
while True:
    try:
        pid, status = os.wait()
    except ChildProcessError:
        sys.exit(0)
    if pid == child:
        sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
"""


class PrivateLibvirtd(_Peer):
    """The machine's libvirtd binary with private state under `root` (a temp dir by
    default, removed at stop), unix sockets ROOT/run/libvirt-sock[-ro], TCP on
    127.0.0.1:port when tcp=True."""

    def __init__(self, root: Path | str | None = None, *, tcp: bool = True,
                 port: int | None = None, reaper: bool = True) -> None:
        super().__init__(root, "pyvirt-libvirtd-")
        self.tcp = tcp
        self.port = (port or free_port()) if tcp else 0
        self.reaper = reaper
        self.sock = self.root / "run" / "libvirt-sock"
        self.sock_ro = self.root / "run" / "libvirt-sock-ro"
        self.pidfile = self.root / "libvirtd.pid"

    @property
    def pid(self) -> int | None:
        """libvirtd's own PID (read from its pidfile, checked against /proc)."""
        try:
            pid = int(self.pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        argv = _cmdline(pid)
        return pid if argv and b"libvirtd" in os.path.basename(argv[0]) else None

    @property
    def daemon_log(self) -> Path:
        """libvirtd's own log file (warnings and errors)."""
        return self.root / "log" / "libvirtd.log"

    def _prepare(self) -> Path:
        for sub in _MOUNTS:
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("run/qemu", "lib/qemu", "cache/qemu", "log/qemu"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "etc" / "libvirtd.conf").write_text(
            _LIBVIRTD_CONF.format(tcp=int(self.tcp), port=self.port or 16509))
        (self.root / "etc" / "qemu.conf").write_text(_QEMU_CONF)
        for name, (user, line) in _EXTRA_IDS.items():
            text = Path(f"/etc/{name}").read_text()
            have = {ln.split(":", 1)[0] for ln in text.splitlines()}
            add = [line] if user not in have else []
            if name == "group":
                add += [ln for grp, ln in _EXTRA_GROUPS if grp not in have]
            (self.root / name).write_text(text.rstrip("\n") + "\n" + "".join(
                a + "\n" for a in add))
        (self.root / "reaper.py").write_text(_REAPER)
        binds = [(self.root / sub, Path(target)) for sub, target in _MOUNTS.items()]
        binds += [(self.root / n, Path(f"/etc/{n}")) for n in _EXTRA_IDS]
        libvirtd = _which("libvirtd")
        assert libvirtd is not None
        cmd = f"{libvirtd} --listen -f /etc/libvirt/libvirtd.conf -p {self.pidfile}"
        if self.reaper:
            cmd = f"{sys.executable} -I {self.root / 'reaper.py'} {cmd}"
        script = self.root / "start.sh"
        script.write_text("#!/bin/sh\nset -e\n" + "".join(
            f"mount --bind '{src}' '{dst}'\n" for src, dst in binds) + f"exec {cmd}\n")
        script.chmod(0o755)
        return script

    def start(self, timeout: float = 30.0) -> Self:
        """Start libvirtd and wait until its sockets accept connections."""
        why = libvirtd_unavailable()
        if why:
            raise PeerError(why)
        script = self._prepare()
        unshare = _which("unshare")
        assert unshare is not None
        with open(self.log, "ab") as err:
            # its own session: a Ctrl+C on the caller's terminal must not reach it
            self.proc = subprocess.Popen([unshare, "-m", "--propagation", "private",
                                          str(script)], stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, start_new_session=True)

        def ready() -> bool:
            return _connectable(self.sock) and (not self.tcp or _tcp_open(self.port))
        try:
            _wait_ready(ready, self.proc, timeout, "libvirtd", self.log)
        except PeerError as exc:
            raise PeerError(f"{exc}\n{_tail(self.daemon_log)}") from None
        return self

    def qemu_pids(self) -> list[int]:
        """PIDs of the QEMUs this libvirtd runs (its pidfiles, checked against /proc)."""
        files = [f for f in (self.root / "run" / "qemu").glob("*.pid") if f.name != "driver.pid"]
        return _qemu_pids(files, lambda data: int(data.split()[0]))

    def _stop_daemon(self) -> None:
        if self.proc is None:
            return
        pid = self.pid
        if pid is not None and self.proc.poll() is None:
            # libvirtd itself, by its PID: the reaper then exits with it
            stop_pid(pid, grace=15.0)
        _stop_popen(self.proc, grace=5.0)


# ------------------------------------------------------------------------- pyvirtd
class PrivatePyvirtd(_Peer):
    """pyvirtd with everything under `root` (a temp dir by default, removed at stop):
    unix sockets ROOT/run/libvirt-sock[-ro], TCP on 127.0.0.1 (a free port) if tcp."""

    def __init__(self, root: Path | str | None = None, *, tcp: bool = True,
                 config: str | None = None, verbose: bool = False,
                 extra: Sequence[str] = (), env: dict[str, str] | None = None) -> None:
        super().__init__(root, "pyvirt-pyvirtd-")
        self.tcp = tcp
        self.config = config
        self.verbose = verbose
        self.extra = list(extra)
        self.env = dict(env or {})
        self.sock = self.root / "run" / "libvirt-sock"
        self.sock_ro = self.root / "run" / "libvirt-sock-ro"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 30.0) -> Self:
        """Start pyvirtd and wait until it says where it listens and accepts there."""
        argv = [sys.executable, "-m", "pyvirt.daemon", "--root", str(self.root),
                "--foreground"]
        if self.verbose:
            argv.append("--verbose")
        if self.tcp:
            argv += ["--listen", "127.0.0.1:0"]
        if self.config is not None:
            cfg = self.root / "pyvirtd.conf"
            cfg.write_text(self.config)
            argv += ["--config", str(cfg)]
        argv += self.extra
        listen = self.root / "run" / "pyvirtd.listen"
        listen.unlink(missing_ok=True)
        path = os.pathsep.join(p for p in (_PYVIRT_PARENT, os.environ.get("PYTHONPATH"))
                               if p)
        env = dict(os.environ, PYTHONPATH=path, **self.env)
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, env=env, start_new_session=True)

        def ready() -> bool:
            if not listen.exists():
                return False
            # lines "unix PATH", "unix-ro PATH", "tcp HOST PORT": ports picked with :0
            for line in listen.read_text().splitlines():
                kind, *rest = line.split()
                if kind == "tcp" and len(rest) == 2:
                    self.port = int(rest[1])
                elif kind == "unix" and rest:
                    self.sock = Path(rest[0])
                elif kind == "unix-ro" and rest:
                    self.sock_ro = Path(rest[0])
            return _connectable(self.sock) and (not self.tcp or self.port > 0)
        _wait_ready(ready, self.proc, timeout, "pyvirtd", self.log)
        return self

    def qemu_pids(self) -> list[int]:
        """PIDs of the QEMUs this pyvirtd runs (its status files, checked against /proc)."""
        return _qemu_pids(list((self.root / "qemu" / "run" / "qemu").glob("*.json")),
                          lambda data: int(json.loads(data)["pid"]))

    def kill(self) -> None:
        """SIGKILL the daemon, as a crash would; its guests keep running."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def _stop_daemon(self) -> None:
        _stop_popen(self.proc, grace=10.0)


# ------------------------------------------------------------------------- raw QEMU
class QMPSocket:
    """A minimal QMP client on a connected socket: greeting and capabilities on creation,
    commands answered in order, events kept (with their arrival time) in `events`."""

    def __init__(self, sock: socket.socket, timeout: float = 10.0) -> None:
        self.sock = sock
        self.timeout = timeout
        self._buf = b""
        self.events: list[tuple[float, dict[str, Any]]] = []
        greeting = self._read(time.monotonic() + timeout)
        if "QMP" not in greeting:
            raise QMPError(f"not a QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\n" not in self._buf:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("QEMU closed the QMP socket")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        msg: dict[str, Any] = json.loads(line)
        if "event" in msg:
            self.events.append((time.perf_counter(), msg))
        return msg

    def execute(self, cmd: str, args: dict[str, Any] | None = None, fds: Sequence[int] = ()
                ) -> Any:
        """Send a command (with fds, for getfd); its "return" value, or QMPError.  Events
        that arrive before the reply are kept."""
        req: dict[str, Any] = {"execute": cmd, **({"arguments": args} if args else {})}
        data = json.dumps(req).encode() + b"\n"
        if fds:
            data = data[socket.send_fds(self.sock, [data], list(fds)):]
        if data:
            self.sock.sendall(data)
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read(deadline)
            if "return" in msg:
                return msg["return"]
            if "error" in msg:
                raise QMPError(f"{cmd}: {msg['error']}")

    def wait_event(self, name: str, timeout: float = 10.0,
                   match: Callable[[dict[str, Any]], bool] | None = None
                   ) -> tuple[float, dict[str, Any]]:
        """The first kept event called name (and accepted by match), removed from
        `events`: (perf_counter when it arrived, the event)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, (t, ev) in enumerate(self.events):
                if ev.get("event") == name and (match is None or match(ev)):
                    del self.events[i]
                    return t, ev
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} event within {timeout} s")
            self._read(deadline)

    def close(self) -> None:
        self.sock.close()


class RawQemu:
    """One qemu-system-x86_64 with a bare QMP socket; firmware only unless `extra` adds
    more (a kernel, devices).  start() returns once the guest runs; stop() returns once
    the process has exited."""

    def __init__(self, *, accel: str = "kvm", memory_mib: int = 64, name: str = "raw",
                 extra: Sequence[str] = (), workdir: Path | str | None = None) -> None:
        qemu = shutil.which("qemu-system-x86_64")
        if qemu is None:
            raise PeerError(qemu_unavailable() or "no qemu")
        self._own_dir = workdir is None
        self.dir = Path(tempfile.mkdtemp(prefix="pyvirt-raw-") if workdir is None
                        else workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.monitor = self.dir / f"{name}.qmp"
        self.log = self.dir / f"{name}.log"
        self.argv = [qemu, "-name", f"guest={name}", "-S", "-nodefaults", "-no-user-config",
                     "-display", "none", "-machine", "pc", "-accel", accel,
                     "-m", str(memory_mib), "-chardev", "socket,id=mon,fd=3,server=on,wait=off",
                     "-mon", "chardev=mon,mode=control", *extra]
        self.pid = 0
        self._pidfd = -1
        self.qmp: QMPSocket | None = None

    def start(self, timeout: float = 30.0, *, restore_from: Path | str | None = None) -> None:
        """Spawn paused, greet, negotiate capabilities, cont: returns once it runs.

        restore_from: a file save() wrote, loaded before cont (QEMU started with
        `-incoming defer`, the file handed over with getfd: what libvirt's restore does)."""
        self.monitor.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX)
        try:
            listener.bind(str(self.monitor))
            listener.listen(1)
            # dup2(3, 3) would keep close-on-exec: make sure the source is another fd
            src = listener.fileno() if listener.fileno() != 3 else os.dup(3)
            log_fd = os.open(self.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC)
            try:
                argv = self.argv + (["-incoming", "defer"] if restore_from else [])
                self.pid = os.posix_spawn(
                    argv[0], argv, os.environ, setsid=True,
                    file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                  (os.POSIX_SPAWN_DUP2, log_fd, 1),
                                  (os.POSIX_SPAWN_DUP2, log_fd, 2),
                                  (os.POSIX_SPAWN_DUP2, src, 3)])
            finally:
                os.close(log_fd)
                if src != listener.fileno():
                    os.close(src)
        finally:
            listener.close()
        self._pidfd = os.pidfd_open(self.pid)
        sock = socket.socket(socket.AF_UNIX)
        try:
            # the connection waits in the backlog until QEMU accepts it
            sock.connect(str(self.monitor))
            self.qmp = QMPSocket(sock, timeout)
            if restore_from:
                self._migrate("migrate-incoming", restore_from, os.O_RDONLY, timeout)
            self.qmp.execute("cont")
        except BaseException as exc:
            sock.close()
            self.kill()
            if isinstance(exc, (OSError, EOFError, QMPError)):
                raise PeerError(f"qemu did not start: {exc}: {_tail(self.log)}") from None
            raise

    def _migrate(self, command: str, path: Path | str, mode: int, timeout: float) -> None:
        """Migrate to or from a file handed over by fd; wait for the MIGRATION event that
        says it ended (events, not polling: no polling interval in the timings)."""
        assert self.qmp is not None
        fd = os.open(path, mode | os.O_CLOEXEC, 0o600)
        try:
            self.qmp.execute("migrate-set-capabilities",
                             {"capabilities": [{"capability": "events", "state": True}]})
            if command == "migrate":
                # unthrottled (QEMU's default is 32 MiB/s): libvirt does the same for files
                self.qmp.execute("migrate-set-parameters", {"max-bandwidth": 1 << 50})
            self.qmp.execute("getfd", {"fdname": "state"}, fds=[fd])
            self.qmp.execute(command, {"uri": "fd:state"})
            _, ev = self.qmp.wait_event("MIGRATION", timeout, lambda e: e.get(
                "data", {}).get("status") in ("completed", "failed", "cancelled"))
        finally:
            os.close(fd)
        if ev["data"]["status"] != "completed":
            raise QMPError(f"{command} {path}: migration {ev['data']['status']}")

    def save(self, path: Path | str, timeout: float = 120.0) -> None:
        """Stop the vCPUs and write the guest's state to path (a migration into a file,
        what libvirt's save does, without its header or fsync); QEMU stays, paused:
        stop() it afterwards."""
        assert self.qmp is not None
        self.qmp.execute("stop")
        self._migrate("migrate", path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM; returns once the process has exited (then reaped), SIGKILL at timeout."""
        self._end(signal.SIGTERM, timeout)

    def kill(self) -> None:
        """SIGKILL (whatever its state); returns once it has exited, reaped."""
        self._end(signal.SIGKILL, 10.0)

    def _end(self, sig: int, timeout: float) -> None:
        if self.pid <= 0:
            return
        _signal_until_exit(self._pidfd, sig, timeout)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        os.close(self._pidfd)
        self._pidfd, self.pid = -1, 0
        if self.qmp is not None:
            self.qmp.close()
            self.qmp = None

    def close(self) -> None:
        """Kill if still running and remove the work directory when it was ours."""
        self.kill()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
