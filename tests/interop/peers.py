"""Daemons for tests and benches: a private pyvirtd and a private libvirtd, stopped by PID.

PyvirtdProcess runs `python -m pyvirt.daemon --root DIR --foreground` with everything under
DIR, TCP on 127.0.0.1 with a port the kernel picks (read back from DIR/run/pyvirtd.listen).

LibvirtdProcess is pyvirt.testing.peers.PrivateLibvirtd (the real libvirtd in its own
mount namespace with private state, as shared/PEERS.md says), reached over TCP by default.

Both stop with SIGTERM to the PID the test started, then SIGKILL after a grace period.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from pyvirt.testing.peers import PrivateLibvirtd, libvirtd_unavailable

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _connectable(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def _tcp_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def stop_pid(proc: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process we started, SIGKILL it if it lingers; reap it."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


class PyvirtdProcess:
    """A pyvirtd with its root in `root`, listening on unix sockets and loopback TCP."""

    def __init__(self, root: Path, *, config: str | None = None, tcp: bool = True,
                 tls_port: int | None = None, extra: list[str] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_text = config
        self.tcp = tcp
        self.tls_port = tls_port
        self.extra = extra or []
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.sock = str(self.root / "run" / "libvirt-sock")
        self.sock_ro = str(self.root / "run" / "libvirt-sock-ro")

    @property
    def log(self) -> Path:
        return self.root / "pyvirtd.stderr"

    def uri(self, driver: str = "test", path: str = "/default", transport: str = "unix",
            readonly: bool = False) -> str:
        if transport == "unix":
            sock = self.sock_ro if readonly else self.sock
            return f"{driver}+unix://{path}?socket={sock}"
        if transport == "tls":
            return f"{driver}+tls://127.0.0.1:{self.tls_port}{path}"
        return f"{driver}+tcp://127.0.0.1:{self.port}{path}"

    def start(self, timeout: float = 20.0) -> PyvirtdProcess:
        argv = [PYTHON, "-m", "pyvirt.daemon", "--root", str(self.root), "--foreground",
                "--verbose"]
        if self.tcp:
            argv += ["--listen", "127.0.0.1:0"]
        if self.tls_port:
            argv += ["--tls-listen", f"127.0.0.1:{self.tls_port}"]
        if self.config_text is not None:
            cfg = self.root / "pyvirtd.conf"
            cfg.write_text(self.config_text)
            argv += ["--config", str(cfg)]
        argv += self.extra
        listen = self.root / "run" / "pyvirtd.listen"
        if listen.exists():
            listen.unlink()
        env = dict(os.environ, PYTHONPATH=str(ROOT), **(self.env or {}))
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                         stderr=err, env=env, cwd=str(ROOT))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pyvirtd exited with {self.proc.returncode}: "
                                   f"{self.log.read_text()[-2000:]}")
            if listen.exists():
                # where it listens: "unix PATH", "unix-ro PATH", "tcp HOST PORT"
                for line in listen.read_text().splitlines():
                    kind, *rest = line.split()
                    if kind == "tcp":
                        self.port = int(rest[1])
                    elif kind == "unix":
                        self.sock = rest[0]
                    elif kind == "unix-ro":
                        self.sock_ro = rest[0]
                if _connectable(self.sock):
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pyvirtd did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_pid(self.proc)

    def kill(self) -> None:
        """SIGKILL, as a crash would (the daemon-restart tests)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> PyvirtdProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def libvirtd_available() -> str | None:
    """Why a private libvirtd cannot run here, or None when it can."""
    return libvirtd_unavailable()


class LibvirtdProcess(PrivateLibvirtd):
    """The real libvirtd, private (pyvirt.testing.peers.PrivateLibvirtd: own mount
    namespace, own state, orphaned QEMUs reaped at once), reached over TCP unless a test
    names the transport."""

    def uri(self, driver: str = "qemu", path: str = "/system", transport: str = "tcp",
            readonly: bool = False) -> str:
        return super().uri(driver, path, transport, readonly)


def ensure_event_loop() -> None:
    """pyvirt's default event loop, run by the one runner thread of this process."""
    from pyvirt import eventloop
    eventloop.run_default_in_thread("pyvirt-test-loop")


def qemu_pids_with_uuids(uuids: set[str]) -> list[int]:
    """qemu-system processes running a guest with one of these UUIDs (this test's)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0]:
            for i, a in enumerate(argv[:-1]):
                if a == b"-uuid" and argv[i + 1].decode() in uuids:
                    found.append(int(entry))
    return found


def kill_guests(uuids: set[str]) -> None:
    """SIGKILL the QEMUs of these guests (test cleanup, pass or fail)."""
    for pid in qemu_pids_with_uuids(uuids):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kvm_or_tcg() -> str:
    """The domain type a firmware-only guest starts with here."""
    try:
        from pyvirt.drivers.qemu.process import kvm_usable
        return "kvm" if kvm_usable()[0] else "qemu"
    except ImportError:
        return "qemu"


def firmware_guest(name: str, uuid: str, vtype: str | None = None) -> str:
    """A 64 MiB guest with firmware only (SeaBIOS waits for a boot disk): starts in
    ~60 ms under KVM, answers QMP, pauses, resumes, saves (shared/PEERS.md)."""
    return f"""<domain type='{vtype or kvm_or_tcg()}'>
  <name>{name}</name>
  <uuid>{uuid}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><memballoon model='none'/></devices>
</domain>
"""
