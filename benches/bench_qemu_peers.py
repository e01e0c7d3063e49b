"""The peers pyvirt's QEMU driver is measured against: raw QEMU and a private libvirtd.

    PYTHONPATH=. .venv/bin/python benches/bench_qemu_peers.py libvirtd   # start one, print URI

`PrivateLibvirtd` runs libvirt 9.0's libvirtd in its own mount namespace (shared/
PEERS.md): private /run/libvirt, /var/lib/libvirt, /etc/libvirt, /var/cache/libvirt
and /var/log/libvirt bind-mounted from a temp dir, a qemu.conf that runs QEMU as root
without a security driver or virtlogd, and a TCP listener on 127.0.0.1 only.  It never
touches the machine's own libvirtd.  Stop it with stop(): by its pid, then its QEMUs.

`RawQemu` is the floor: qemu-system-x86_64 with -S, the QMP greeting, qmp_capabilities
and cont, on a monitor socket created the way pyvirt creates it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["PrivateLibvirtd", "RawQemu", "free_port", "libvirt_available"]

_DIRS = ("/run/libvirt", "/var/lib/libvirt", "/etc/libvirt", "/var/cache/libvirt",
         "/var/log/libvirt")


def libvirt_available() -> str | None:
    """None when a private libvirtd can run here, else why not."""
    if shutil.which("libvirtd") is None:
        return "libvirtd is not installed (Debian: libvirt-daemon libvirt-daemon-driver-qemu)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is missing"
    if os.geteuid() != 0:
        return "a private libvirtd needs root for its mount namespace"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not importable"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_SCRIPT = """#!/bin/sh
set -e
T={tmp}
for d in {dirs}; do
    mkdir -p "$d" "$T/mnt$d"
    mount --bind "$T/mnt$d" "$d"
done
# libvirt's QEMU driver looks up its build-time default user before it reads
# qemu.conf: give it one in private copies of passwd/group (the host's stay untouched)
for f in passwd group; do
    cp /etc/$f "$T/$f"
done
grep -q '^libvirt-qemu:' "$T/passwd" || echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >> "$T/passwd"
grep -q '^libvirt-qemu:' "$T/group" || echo 'libvirt-qemu:x:64055:' >> "$T/group"
grep -q '^kvm:' "$T/group" || echo 'kvm:x:64056:' >> "$T/group"
mount --bind "$T/passwd" /etc/passwd
mount --bind "$T/group" /etc/group
mkdir -p /var/log/libvirt/qemu /var/lib/libvirt/qemu /var/cache/libvirt/qemu /run/libvirt/qemu
cat > /etc/libvirt/libvirtd.conf <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "127.0.0.1"
tcp_port = "{port}"
auth_tcp = "none"
auth_unix_rw = "none"
auth_unix_ro = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
cat > /etc/libvirt/qemu.conf <<EOF
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
stdio_handler = "file"
EOF
exec libvirtd --listen -f /etc/libvirt/libvirtd.conf -p {pidfile}
"""


class PrivateLibvirtd:
    """A libvirtd of our own, reachable at `uri` (qemu+tcp://127.0.0.1:PORT/system)."""

    def __init__(self) -> None:
        why = libvirt_available()
        if why:
            raise RuntimeError(why)
        self.tmp = tempfile.mkdtemp(prefix="pyvirt-libvirtd-")
        self.port = free_port()
        self.uri = f"qemu+tcp://127.0.0.1:{self.port}/system"
        script = Path(self.tmp, "run.sh")
        script.write_text(_SCRIPT.format(tmp=self.tmp, dirs=" ".join(_DIRS), port=self.port,
                                         pidfile=os.path.join(self.tmp, "libvirtd.pid")))
        script.chmod(0o755)
        self.log = open(os.path.join(self.tmp, "stderr.log"), "wb")
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", str(script)],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        import libvirt
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {self.stderr()}")
            try:
                c = libvirt.open(self.uri)
                c.close()
                return
            except libvirt.libvirtError as e:
                last = e
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"libvirtd did not answer at {self.uri}: {last}")

    def unix_uri(self) -> str:
        """The read-write unix socket URI (the socket lives in the private /run/libvirt,
        which is a directory of ours seen from outside the namespace)."""
        sock = os.path.join(self.tmp, "mnt", "run", "libvirt", "libvirt-sock")
        return f"qemu+unix:///system?socket={sock}" if os.path.exists(sock) else self.uri

    def stderr(self) -> str:
        try:
            return Path(self.tmp, "stderr.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def qemu_pids(self) -> list[int]:
        """QEMU processes this libvirtd started, from the pid files it keeps in its
        private /run/libvirt/qemu (its QEMUs run in mount namespaces of their own)."""
        out = []
        run = Path(self.tmp, "mnt", "run", "libvirt", "qemu")
        for pidfile in run.glob("*.pid"):
            try:
                pid = int(pidfile.read_text().strip())
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            if b"qemu-system" in cmd:
                out.append(pid)
        return out

    def stop(self) -> None:
        """Stop libvirtd by its pid, then any QEMU it left, by pid; remove the temp dir."""
        qemus = self.qemu_pids() if self.proc.poll() is None else []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for pid in qemus:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> PrivateLibvirtd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RawQemu:
    """A bare QEMU: spawn with -S, QMP greeting, qmp_capabilities, cont; SIGTERM to stop.

    The floor for start and destroy; times are what a minimal manager pays."""

    def __init__(self, extra: list[str] | None = None, accel: str = "kvm",
                 memory_mib: int = 64) -> None:
        self.tmp = tempfile.mkdtemp(prefix="pyvirt-raw-")
        self.path = os.path.join(self.tmp, "m.sock")
        self.argv = ["/usr/bin/qemu-system-x86_64", "-S", "-nodefaults", "-no-user-config",
                     "-display", "none", "-machine", "pc", "-accel", accel, "-m",
                     str(memory_mib), "-chardev", "socket,id=m,fd=3,server=on,wait=off",
                     "-mon", "chardev=m,mode=control"] + list(extra or [])
        self.pid = -1
        self.sock: socket.socket | None = None

    def start(self) -> None:
        """Spawn, greet, negotiate, cont: returns once the guest runs."""
        ls = socket.socket(socket.AF_UNIX)
        ls.bind(self.path)
        ls.listen(1)
        try:
            self.pid = os.posix_spawn(self.argv[0], self.argv, os.environ,
                                      file_actions=[(os.POSIX_SPAWN_DUP2, ls.fileno(), 3)],
                                      setsid=True)
        finally:
            ls.close()
        s = socket.socket(socket.AF_UNIX)
        s.connect(self.path)
        self.sock = s
        f = s.makefile("rb")
        f.readline()
        s.sendall(b'{"execute":"qmp_capabilities"}\n')
        f.readline()
        s.sendall(b'{"execute":"cont"}\n')
        while b'"return"' not in f.readline():
            pass
        f.close()

    def stop(self) -> None:
        """SIGTERM and wait until the process has exited (pidfd), then reap it."""
        if self.pid <= 0:
            return
        pidfd = os.pidfd_open(self.pid)
        try:
            os.kill(self.pid, signal.SIGTERM)
            import select
            p = select.poll()
            p.register(pidfd, select.POLLIN)
            p.poll(10000)
        finally:
            os.close(pidfd)
        os.waitpid(self.pid, 0)
        self.pid = -1
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def close(self) -> None:
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
            self.pid = -1
        if self.sock is not None:
            self.sock.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["libvirtd"]:
        d = PrivateLibvirtd()
        print(d.uri, "pid", d.proc.pid, "(Ctrl+C stops it)")
        try:
            signal.pause()
        finally:
            d.stop()
