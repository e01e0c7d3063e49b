"""The four targets a workload runs on, each optional: pyvirt, pyvirtd, libvirt, qemu.

- pyvirt: pyvirt in this process, libvirt-python names (`import pyvirt as libvirt`):
  test:///default, and qemu:///embed?root=WORKDIR/pyvirt (no daemon);
- pyvirtd: pyvirt's remote driver (this process) to a private pyvirtd (PrivatePyvirtd)
  over its unix socket: test:///default and qemu:///system served by the daemon; the
  RPC workloads use libvirt-python as the client, as they do for libvirtd;
- libvirt: libvirt-python in this process: test:///default in-process, qemu:///system of
  a private libvirtd (PrivateLibvirtd) over its unix socket;
- qemu: raw qemu-system-x86_64 with a bare QMP socket (RawQemu): the floor.

Daemons start on first use and a failure to start makes every workload that needs them
n/a with the reason.  close() destroys and undefines what the run created, then stops the
daemons by PID, which also kills any QEMU they still run.
"""
from __future__ import annotations

import contextlib
import importlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ..testing import peers
from .core import Context, NotApplicable

__all__ = ["TARGETS", "Target", "find_qemu_pid", "make_target"]

TARGETS = ("pyvirt", "pyvirtd", "libvirt", "qemu")


def _libvirt() -> ModuleType:
    try:
        mod = importlib.import_module("libvirt")
    except ImportError:
        raise NotApplicable("libvirt-python is not installed (Debian: python3-libvirt)") \
            from None
    return mod


def find_qemu_pid(name: str) -> int:
    """The PID of the QEMU running domain `name` (its `-name guest=NAME` argument)."""
    want = f"guest={name},".encode()
    want_end = f"guest={name}".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and b"qemu-system" in argv[0] and any(
                a.startswith(want) or a == want_end for a in argv):
            return int(entry)
    raise RuntimeError(f"no QEMU process runs domain {name}")


class Target:
    """One side of the comparison; the API targets share the libvirt-python shape."""

    name = ""
    title = ""
    raw = False                 # True: no libvirt API at all (the qemu floor)

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._conns: list[Any] = []
        self.shared: dict[str, Any] = {}        # what workloads share across the run
        self.on_close: list[Callable[[], None]] = []   # run first by close()

    def api(self) -> ModuleType:
        """The libvirt-python-shaped module this target's connections come from."""
        raise NotApplicable("no libvirt API: raw QEMU")

    def qemu_api(self) -> ModuleType:
        """The module with qemuMonitorCommand (libvirt_qemu's shape)."""
        raise NotApplicable("no libvirt API: raw QEMU")

    def rpc_api(self) -> ModuleType:
        """The RPC workloads' client: libvirt-python, against every daemon."""
        return _libvirt()

    def test_uri(self) -> str:
        raise NotApplicable("raw QEMU has no test driver")

    def qemu_uri(self) -> str:
        raise NotApplicable("raw QEMU has no libvirt API")

    def rpc_uri(self, transport: str) -> str:
        raise NotApplicable("in-process: no RPC")

    def qemu_pid(self, name: str) -> int:
        return find_qemu_pid(name)

    def versions(self) -> dict[str, str]:
        return {}

    def status(self) -> str | None:
        """Why this target is unavailable altogether (None: it is, or may be, usable)."""
        return None

    def open_qemu(self) -> Any:
        """A connection to this target's QEMU driver, closed by close()."""
        conn = self.api().open(self.qemu_uri())
        self._conns.append(conn)
        return conn

    def close(self) -> None:
        """Remove what this run left (domains named pvbRUNID-*), close connections."""
        for fn in reversed(self.on_close):
            with contextlib.suppress(Exception):
                fn()
        self.on_close.clear()
        self.shared.clear()
        prefix = f"pvb{self.ctx.run_id}-"
        for conn in self._conns[:1]:
            with contextlib.suppress(Exception):
                for dom in conn.listAllDomains(0):
                    if not dom.name().startswith(prefix):
                        continue
                    with contextlib.suppress(Exception):
                        if dom.isActive():
                            dom.destroy()
                    with contextlib.suppress(Exception):
                        if dom.isPersistent():
                            dom.undefine()
        for conn in self._conns:
            with contextlib.suppress(Exception):
                conn.close()
        self._conns.clear()


class PyvirtTarget(Target):
    name = "pyvirt"
    title = "pyvirt in-process (test:///default, qemu:///embed)"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.root = ctx.workdir / "pyvirt"

    def api(self) -> ModuleType:
        return importlib.import_module("pyvirt")

    def qemu_api(self) -> ModuleType:
        return importlib.import_module("pyvirt.libvirt_qemu")

    def test_uri(self) -> str:
        return "test:///default"

    def qemu_uri(self) -> str:
        why = peers.qemu_unavailable()
        if why:
            raise NotApplicable(why)
        self.root.mkdir(parents=True, exist_ok=True)
        return f"qemu:///embed?root={self.root}"

    def rpc_uri(self, transport: str) -> str:
        raise NotApplicable("embedded: no RPC (pyvirtd is pyvirt's server)")

    def qemu_pid(self, name: str) -> int:
        return _status_pid(self.root / "run" / "qemu" / f"{name}.json", name)

    def versions(self) -> dict[str, str]:
        import pyvirt
        return {"pyvirt": str(getattr(pyvirt, "__version__", "")),
                "core": str(importlib.import_module("pyvirt._core").__impl__)}

    def close(self) -> None:
        super().close()
        # guests outlive an embedded connection by design: kill what is left, by PID
        run = self.root / "run" / "qemu"
        for f in run.glob("*.json") if run.is_dir() else ():
            with contextlib.suppress(Exception):
                pid = int(json.loads(f.read_bytes())["pid"])
                if peers._is_qemu(pid):
                    peers.stop_pid(pid, 5.0, reap=True)


def _status_pid(path: Path, name: str) -> int:
    try:
        return int(json.loads(path.read_bytes())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return find_qemu_pid(name)


class _DaemonTarget(Target):
    """A target behind a private daemon, started on first use."""

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._peer: peers.PrivateLibvirtd | peers.PrivatePyvirtd | None = None
        self._why: str | None = None

    def _make_peer(self) -> peers.PrivateLibvirtd | peers.PrivatePyvirtd:
        raise NotImplementedError

    def peer(self) -> peers.PrivateLibvirtd | peers.PrivatePyvirtd:
        if self._why is not None:
            raise NotApplicable(self._why)
        if self._peer is None:
            peer = self._make_peer()
            try:
                peer.start()
            except Exception as exc:  # noqa: BLE001 - a failed start makes it n/a
                peer.stop()
                self._why = f"unavailable: {type(exc).__name__}: {exc}"[:600]
                raise NotApplicable(self._why) from None
            self._peer = peer
        return self._peer

    def status(self) -> str | None:
        return self._why

    def rpc_uri(self, transport: str) -> str:
        return self.peer().uri("qemu", "/system", transport)

    def close(self) -> None:
        try:
            super().close()
        finally:
            if self._peer is not None:
                self._peer.stop()
                self._peer = None


class PyvirtdTarget(_DaemonTarget):
    name = "pyvirtd"
    title = "pyvirt's remote driver -> private pyvirtd (unix socket)"

    def _make_peer(self) -> peers.PrivatePyvirtd:
        why = peers.pyvirtd_unavailable()
        if why:
            self._why = why
            raise NotApplicable(why)
        return peers.PrivatePyvirtd(self.ctx.workdir / "pyvirtd")

    def api(self) -> ModuleType:
        return importlib.import_module("pyvirt")

    def qemu_api(self) -> ModuleType:
        return importlib.import_module("pyvirt.libvirt_qemu")

    def test_uri(self) -> str:
        return self.peer().uri("test", "/default")

    def qemu_uri(self) -> str:
        why = peers.qemu_unavailable()
        if why:
            raise NotApplicable(why)
        return self.peer().uri("qemu", "/system")

    def qemu_pid(self, name: str) -> int:
        return _status_pid(self.ctx.workdir / "pyvirtd" / "qemu" / "run" / "qemu" /
                           f"{name}.json", name)

    def versions(self) -> dict[str, str]:
        return {"pyvirtd_pid": str(getattr(self._peer, "pid", "") or "")}


class LibvirtTarget(_DaemonTarget):
    name = "libvirt"
    title = "libvirt-python (test:///default in-process; private libvirtd, unix socket)"

    def _make_peer(self) -> peers.PrivateLibvirtd:
        why = peers.libvirtd_unavailable()
        if why:
            self._why = why
            raise NotApplicable(why)
        return peers.PrivateLibvirtd(self.ctx.workdir / "libvirtd")

    def api(self) -> ModuleType:
        return _libvirt()

    def qemu_api(self) -> ModuleType:
        _libvirt()
        try:
            return importlib.import_module("libvirt_qemu")
        except ImportError:
            raise NotApplicable("libvirt_qemu (libvirt-python) is not importable") from None

    def test_uri(self) -> str:
        _libvirt()
        return "test:///default"

    def qemu_uri(self) -> str:
        _libvirt()
        why = peers.qemu_unavailable()
        if why:
            raise NotApplicable(why)
        return self.peer().uri("qemu", "/system")

    def qemu_pid(self, name: str) -> int:
        try:
            pidfile = self.ctx.workdir / "libvirtd" / "run" / "qemu" / f"{name}.pid"
            return int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return find_qemu_pid(name)

    def status(self) -> str | None:
        try:
            _libvirt()
        except NotApplicable as exc:
            return str(exc)
        return self._why

    def versions(self) -> dict[str, str]:
        try:
            v = int(_libvirt().getVersion())
        except (NotApplicable, Exception):  # noqa: BLE001 - versions are informative
            return {}
        return {"libvirt": f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}"}


class QemuTarget(Target):
    name = "qemu"
    title = "raw qemu-system-x86_64 + bare QMP socket (the floor)"
    raw = True

    def status(self) -> str | None:
        return peers.qemu_unavailable()

    def raw_qemu(self, name: str, *, memory_mib: int = 64, accel: str | None = None,
                 extra: Sequence[str] = ()) -> peers.RawQemu:
        """A QEMU (not started) under the run's accelerator unless told otherwise."""
        why = peers.qemu_unavailable()
        if why:
            raise NotApplicable(why)
        return peers.RawQemu(accel=accel or self.ctx.accel, memory_mib=memory_mib, name=name,
                             extra=extra, workdir=self.ctx.workdir / "raw")


_CLASSES: dict[str, type[Target]] = {c.name: c for c in (PyvirtTarget, PyvirtdTarget,
                                                          LibvirtTarget, QemuTarget)}


def make_target(name: str, ctx: Context) -> Target:
    return _CLASSES[name](ctx)
