"""QEMU processes: spawning them detached, their monitor socket, exits, kills, reaping.

A QEMU process must outlive whoever started it (libvirt's daemon restarts do not kill
guests, and neither may pyvirtd's or an embedding application's): it runs in its own
session (setsid, so a terminal's Ctrl+C does not reach it), with no parent-death signal,
signals reset to their defaults, stdin on /dev/null and stdout/stderr appended to the
domain's log file, which is where QEMU's own error message is read back from when it
refuses to start (libvirt does the same with its qemu log).

The monitor is a unix socket the driver binds and listens on before QEMU starts, passed
to QEMU as fd 3 (libvirt passes its pre-created monitor socket by fd too): there is no
race on the socket path, the driver can connect at once (the connection waits in the
backlog until QEMU accepts it) and a later owner reconnects to the same path.

Exits are observed through pidfds (readable once the process has exited, child or
not).  The driver reaps its own children at once: on a system whose PID 1 reaps
orphans slowly, libvirt waits 1.6 s for that; pyvirt never waits for someone else.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import time

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error, libvirtError

__all__ = [
    "INCOMING_FD",
    "MONITOR_FD",
    "MonitorSocket",
    "alive",
    "kill_and_wait",
    "kvm_usable",
    "pidfd_open",
    "process_start_time",
    "read_log_tail",
    "reap",
    "socket_path_alias",
    "spawn",
    "start_error",
    "wait_exit",
]

Q = ErrorDomain.QEMU
MONITOR_FD = 3          # the monitor's listening socket, as QEMU sees it
INCOMING_FD = 4         # a restore's migration stream, as QEMU sees it
_KVM_GET_API_VERSION = 0xAE00


def kvm_usable(path: str = "/dev/kvm") -> tuple[bool, str]:
    """Whether /dev/kvm can be opened and speaks KVM API 12 (what QEMU checks first)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return False, f"cannot open {path}: {e.strerror}"
    try:
        version = fcntl.ioctl(fd, _KVM_GET_API_VERSION)
    except OSError as e:
        return False, f"{path}: KVM_GET_API_VERSION failed: {e.strerror}"
    finally:
        os.close(fd)
    if version != 12:
        return False, f"{path}: KVM API version {version}, expected 12"
    return True, ""


def socket_path_alias(path: str, dir_fd: int | None) -> str:
    """A path to `path` short enough for sockaddr_un (107 bytes): the path itself, or
    /proc/self/fd/<dir_fd>/<name> when a long root makes it too long."""
    if len(os.fsencode(path)) < 100 or dir_fd is None:
        return path
    return f"/proc/self/fd/{dir_fd}/{os.path.basename(path)}"


class MonitorSocket:
    """A bound, listening unix socket for one QEMU's monitor (close() after spawn)."""

    def __init__(self, path: str, dir_fd: int | None = None) -> None:
        self.path = path
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(socket_path_alias(path, dir_fd))
            os.chmod(path, 0o600)
            self.sock.listen(8)
        except OSError as e:
            self.sock.close()
            raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.QEMU,
                        f"cannot create the monitor socket '{path}': {e.strerror or e}") from None
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()


def spawn(argv: list[str], log_path: str, pass_fds: dict[int, int], env: dict[str, str]
          ) -> int:
    """Start argv detached (own session, default signals, stdin /dev/null, output to
    log_path); pass_fds maps a child fd number to a parent fd.  Returns the pid."""
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    try:
        actions: list[tuple[int, ...]] = [(os.POSIX_SPAWN_DUP2, null_fd, 0),
                                          (os.POSIX_SPAWN_DUP2, log_fd, 1),
                                          (os.POSIX_SPAWN_DUP2, log_fd, 2)]
        # dup2 onto the fixed numbers: the parent's copies stay close-on-exec, so a
        # guest started at the same time by another thread cannot inherit them
        actions += [(os.POSIX_SPAWN_DUP2, parent, child) for child, parent in pass_fds.items()]
        sigdef = {signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM,
                  signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGUSR1}
        try:
            return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True,
                                  setsigdef=sigdef, setsigmask=())
        except OSError as e:
            raise error(ErrorNumber.SYSTEM_ERROR, Q,
                        f"cannot execute binary {argv[0]}: {e.strerror}", int1=e.errno or -1) from None
    finally:
        os.close(log_fd)
        os.close(null_fd)


def pidfd_open(pid: int) -> int:
    fd = os.pidfd_open(pid)
    os.set_inheritable(fd, False)
    return fd


def wait_exit(pidfd: int, timeout: float | None) -> bool:
    """Wait until the process exits: True if it has, False at the deadline."""
    p = select.poll()
    p.register(pidfd, select.POLLIN)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
        if p.poll(ms):
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False


def reap(pid: int) -> int | None:
    """Collect our exited child's status at once (None if it is not our child)."""
    try:
        _, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return status


def kill_and_wait(pid: int, pidfd: int, graceful: float, *, force: bool = True) -> bool:
    """SIGTERM, wait up to `graceful` s, then (force) SIGKILL and wait up to 5 s.  True
    once the process has exited (it is then reaped if it is our child)."""
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGTERM)
    except ProcessLookupError:
        pass
    done = wait_exit(pidfd, graceful)
    if not done and force:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        done = wait_exit(pidfd, 5.0)
    if done:
        reap(pid)
    return done


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat (start time in clock ticks): with the pid it names a
    process uniquely, so a recycled pid is never taken for our QEMU."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    try:
        return int(rest[19])
    except (IndexError, ValueError):
        return None


def alive(pid: int, start_time: int | None) -> bool:
    """Whether pid still runs and is the same process (not a zombie, not recycled)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return False
    rest = data[data.rfind(b")") + 2:].split()
    if not rest or rest[0] in (b"Z", b"X"):
        return False
    return start_time is None or process_start_time(pid) == start_time


def read_log_tail(path: str, offset: int, limit: int = 4096) -> str:
    """What QEMU wrote to its log since `offset` (its error message on a failed start),
    without libvirt's own lines."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(limit)
    except OSError:
        return ""
    lines = [ln for ln in data.decode(errors="replace").splitlines() if ln.strip()]
    return "\n".join(lines).strip()


def start_error(log_path: str, offset: int, what: str) -> libvirtError:
    """The error for a QEMU that exited during start-up, carrying QEMU's own words
    (libvirt: 'internal error: process exited while connecting to monitor: ...')."""
    msg = read_log_tail(log_path, offset)
    detail = f"{what}: {msg}" if msg else what
    return error(ErrorNumber.INTERNAL_ERROR, Q, detail)

