"""Boot the test guest with a plain qemu-system-x86_64 process (no pyvirt driver involved).

    with RawGuest(build_guest()) as g:
        g.wait_ready()
        g.send_line("echo hi"); g.wait_for(r"(?m)^hi\\r?$")
        g.powerdown()

The serial console and QMP are unix sockets in a private temp dir; QEMU starts paused
(-S) so no console output is lost, and is resumed once both are connected. The QEMU
process runs in its own session and is killed by its PID when the context exits,
whatever happened.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Collection
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from .guest import COUNTER_PREFIX, GuestImage

__all__ = ["QMPError", "RawGuest", "qemu_binary"]

# complete counter lines only: the tail of the output may be a line still being sent
_COUNTER_LINE = re.compile(re.escape(COUNTER_PREFIX) + r"(\d+)\r?\n")


def qemu_binary() -> str:
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        raise FileNotFoundError(
            "qemu-system-x86_64 not found: install the Debian package 'qemu-system-x86'")
    return path


class QMPError(RuntimeError):
    pass


def _connect_unix(path: Path, proc: subprocess.Popen[bytes], log: Path,
                  deadline: float) -> socket.socket:
    """Connect to a QEMU server socket. QEMU binds (the file appears) before it
    listens, so a refused connection right after start is retried."""
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
        if proc.poll() is not None:
            out = log.read_text(errors="replace")
            raise RuntimeError(f"qemu exited with {proc.returncode}: {out}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"qemu did not listen on {path}")
        time.sleep(0.005)


class _QMP:
    """Minimal synchronous QMP client: commands in order, events kept in a list."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buf = b""
        self.events: list[dict[str, Any]] = []
        self.closed = False
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError(f"unexpected QMP greeting: {greeting}")
        self.execute("qmp_capabilities")

    def _read(self, timeout: float | None = None) -> dict[str, Any]:
        if timeout is not None:
            self.sock.settimeout(max(timeout, 0.001))
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.closed = True
                raise EOFError("QMP socket closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        msg: dict[str, Any] = json.loads(line)
        return msg

    def execute(self, cmd: str, args: dict[str, Any] | None = None,
                timeout: float = 10.0) -> Any:
        req: dict[str, Any] = {"execute": cmd}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read(deadline - time.monotonic())
            if "event" in msg:
                self.events.append(msg)
            elif "error" in msg:
                raise QMPError(f"{cmd}: {msg['error']}")
            elif "return" in msg:
                return msg["return"]

    def pump(self, timeout: float) -> None:
        """Collect events for up to timeout seconds (returns early on the first one)."""
        if self.closed:
            return
        try:
            msg = self._read(timeout)
        except (TimeoutError, EOFError, OSError):
            return
        finally:
            self.sock.settimeout(10)
        if "event" in msg:
            self.events.append(msg)

    def wait_event(self, name: str, timeout: float) -> dict[str, Any] | None:
        """The first event called name (already received or arriving in time)."""
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev["event"] == name:
                    return ev
            left = deadline - time.monotonic()
            if left <= 0 or self.closed:
                return None
            try:
                msg = self._read(left)
            except (TimeoutError, EOFError, OSError):
                return None
            if "event" in msg:
                self.events.append(msg)

    def close(self) -> None:
        self.sock.close()


class RawGuest:
    """One qemu-system-x86_64 (TCG) running the test guest; use as a context manager."""

    def __init__(self, image: GuestImage, *, memory_mib: int = 128, extra_cmdline: str = "",
                 extra_args: list[str] | None = None, accel: str = "tcg",
                 restore_from: Path | None = None) -> None:
        """restore_from: a file written by save(); QEMU then starts with `-incoming defer`,
        loads it, and resumes the guest where it was (same image and memory needed)."""
        self.image = image
        self.restore_from = restore_from
        self.memory_mib = memory_mib
        self.extra_cmdline = extra_cmdline
        self.extra_args = list(extra_args or [])
        self.accel = accel
        self.proc: subprocess.Popen[bytes] | None = None
        self.qmp: _QMP | None = None
        self._serial: socket.socket | None = None
        self._out = bytearray()
        self._cond = threading.Condition()
        self._reader: threading.Thread | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.started_at = 0.0
        self.argv: list[str] = []
        self._log = Path(os.devnull)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.kill()
            raise
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.kill()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pyvirt-rawqemu-")
        d = Path(self._tmp.name)
        serial_path, qmp_path = d / "serial.sock", d / "qmp.sock"
        self.argv = [
            qemu_binary(), "-accel", self.accel, "-m", str(self.memory_mib),
            "-nodefaults", "-no-user-config", "-display", "none", "-S",
            "-chardev", f"socket,id=ser0,path={serial_path},server=on,wait=off",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{qmp_path},server=on,wait=off",
            *self.image.qemu_args(self.extra_cmdline),
            *self.extra_args,
        ]
        if self.restore_from is not None:
            self.argv += ["-incoming", "defer"]
        self._log = d / "qemu.log"
        with open(self._log, "wb") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        self._serial = _connect_unix(serial_path, self.proc, self._log, deadline)
        self._reader = threading.Thread(target=self._read_serial, daemon=True)
        self._reader.start()
        qmp_sock = _connect_unix(qmp_path, self.proc, self._log, deadline)
        try:
            self.qmp = _QMP(qmp_sock, timeout=10)
        except BaseException:
            qmp_sock.close()
            raise
        if self.restore_from is not None:
            self.qmp.execute("migrate-incoming",
                             {"uri": f"exec:cat {shlex.quote(str(self.restore_from))}"})
            self._wait_status({"paused", "postmigrate"}, bad={"shutdown", "internal-error"})
        self.started_at = time.monotonic()
        self.qmp.execute("cont")

    def _read_serial(self) -> None:
        sock = self._serial
        assert sock is not None
        while True:
            try:
                chunk = sock.recv(65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self._cond.notify_all()
                    return
                self._out += chunk
                self._cond.notify_all()

    def kill(self) -> None:
        """Stop QEMU by its PID (SIGKILL to the session it leads) and clean up."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the group we created, led by qemu
            except ProcessLookupError:
                pass
            except OSError:
                os.kill(proc.pid, signal.SIGKILL)
        if proc is not None:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
        if self.qmp is not None:
            self.qmp.close()
        if self._serial is not None:
            self._serial.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ----------------------------------------------------------------- console
    @property
    def output(self) -> str:
        with self._cond:
            return self._out.decode(errors="replace")

    def mark(self) -> int:
        """Position in the console output; wait_for(..., start=mark) looks only after it."""
        with self._cond:
            return len(self._out)

    def wait_for(self, pattern: str, timeout: float = 30.0, start: int = 0) -> re.Match[str]:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._out[start:].decode(errors="replace"))
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0:
                    tail = self._out[-2000:].decode(errors="replace")
                    raise TimeoutError(f"no {pattern!r} on the console within {timeout} s; "
                                       f"last output:\n{tail}")
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"qemu exited ({self.proc.returncode}) while waiting "
                                       f"for {pattern!r}")
                self._cond.wait(min(left, 0.5))

    def wait_ready(self, timeout: float = 60.0, start: int = 0) -> float:
        """Wait for the readiness line; seconds since the guest was resumed."""
        self.wait_for(rf"(?m)^{re.escape(self.image.ready_line)}\r?$", timeout, start)
        return time.monotonic() - self.started_at

    def counters(self, start: int = 0) -> list[int]:
        with self._cond:
            text = self._out[start:].decode(errors="replace")
        return [int(n) for n in _COUNTER_LINE.findall(text)]

    def wait_counter(self, above: int = -1, timeout: float = 10.0, start: int = 0) -> int:
        """The last counter value printed, once it is > above."""
        deadline = time.monotonic() + timeout
        while True:
            vals = self.counters(start)
            if vals and vals[-1] > above:
                return vals[-1]
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"counter did not pass {above} within {timeout} s")
            with self._cond:
                self._cond.wait(min(left, 0.5))

    def send(self, data: str | bytes) -> None:
        assert self._serial is not None
        self._serial.sendall(data.encode() if isinstance(data, str) else data)

    def send_line(self, line: str) -> None:
        self.send(line + "\r")

    # ----------------------------------------------------------------- QMP
    def _wait_status(self, want: Collection[str], bad: Collection[str] = (),
                     timeout: float = 120.0) -> str:
        assert self.qmp is not None
        deadline = time.monotonic() + timeout
        while True:
            status = str(self.qmp.execute("query-status")["status"])
            if status in want:
                return status
            if status in bad:
                raise RuntimeError(f"guest is {status}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"guest still {status} after {timeout} s")
            self.qmp.pump(0.05)

    def save(self, path: Path, timeout: float = 120.0) -> float:
        """Pause the guest and write its state to path (QEMU migration to a file, the
        way virsh save does it); QEMU stays paused. Returns the seconds it took."""
        assert self.qmp is not None
        t0 = time.monotonic()
        self.qmp.execute("stop")
        self.qmp.execute("migrate", {"uri": f"exec:cat > {shlex.quote(str(path))}"})
        deadline = t0 + timeout
        while True:
            info = self.qmp.execute("query-migrate")
            status = info.get("status")
            if status == "completed":
                return time.monotonic() - t0
            if status in ("failed", "cancelled"):
                raise RuntimeError(f"saving the guest failed: {info}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"saving the guest did not finish in {timeout} s: {info}")
            self.qmp.pump(0.05)

    def powerdown(self, timeout: float = 30.0) -> float:
        """QMP system_powerdown; seconds until QEMU exited. Raises on timeout."""
        assert self.qmp is not None and self.proc is not None
        t0 = time.monotonic()
        self.qmp.execute("system_powerdown")
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"guest did not power off within {timeout} s; console:\n"
                               f"{self.output[-2000:]}") from None
        return time.monotonic() - t0
