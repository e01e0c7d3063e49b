"""What the QEMU driver keeps on disk under its root, and the one-owner lock.

The layout is libvirt's embedded driver's (qemu:///embed?root=ROOT):

    ROOT/etc/qemu/NAME.xml            persistent configs (written atomically, fsync'd)
    ROOT/etc/qemu/autostart/NAME.xml  autostart marks (symlinks to the config)
    ROOT/run/qemu/NAME.json           live status of a running domain: pid and its start
                                      time, monitor socket, id, state/reason, live XML
    ROOT/run/qemu/ID.monitor          that domain's QMP socket
    ROOT/run/qemu/driver.lock         the owner's lock (flock) and pid
    ROOT/lib/qemu/save/NAME.save      managed save images
    ROOT/log/qemu/NAME.log            QEMU's stdout/stderr
    ROOT/cache/qemu/                  capabilities probed from the QEMU binary

Status files are replaced atomically (temp file + rename) but not fsync'd: they describe
processes that a power loss ends anyway, and a running guest's state is re-read from
QEMU on reattach (libvirt's qemuProcessReconnect does the same), so the file is a
pointer to the process, never the only truth.  Configs are fsync'd.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ..atomic import write_atomic

__all__ = ["OwnerLock", "RootLayout", "Status", "write_fast"]

Q = ErrorDomain.QEMU


@dataclass
class Status:
    """A running domain's live status (ROOT/run/qemu/NAME.json)."""

    name: str
    uuid: str
    id: int
    pid: int
    pid_start: int | None
    monitor: str
    state: int
    reason: int
    persistent: bool
    xml: str                        # the live definition
    log: str
    ram_path: str | None = None
    ram_regions: list[list[int]] = field(default_factory=list)
    child_of: int = 0               # the pid of the owner that spawned it
    paused_shutdown: bool = False
    version: int = 1

    def dump(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def load(cls, data: bytes) -> Status:
        raw: dict[str, Any] = json.loads(data)
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def write_fast(path: str, data: bytes) -> None:
    """Replace path atomically without fsync (status files, see the module docstring)."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        os.write(fd, data)
        os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.close(fd)
        except OSError:
            pass
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class RootLayout:
    """The directories of one embedded root, created on first use."""

    def __init__(self, root: str) -> None:
        if not root or not os.path.isabs(root):
            raise error(ErrorNumber.INVALID_ARG, Q,
                        f"the embedded root must be an absolute path, not '{root}'")
        self.root = os.path.normpath(root)
        self.etc = os.path.join(self.root, "etc", "qemu")
        self.autostart = os.path.join(self.etc, "autostart")
        self.run = os.path.join(self.root, "run", "qemu")
        self.save = os.path.join(self.root, "lib", "qemu", "save")
        self.log = os.path.join(self.root, "log", "qemu")
        self.cache = os.path.join(self.root, "cache", "qemu")
        for d in (self.etc, self.autostart, self.run, self.save, self.log, self.cache):
            try:
                os.makedirs(d, mode=0o700, exist_ok=True)
            except OSError as e:
                raise error(ErrorNumber.SYSTEM_ERROR, Q,
                            f"cannot create directory '{d}': {e.strerror}",
                            int1=e.errno or -1) from None
        # kept open so that over-long socket paths can go through /proc/self/fd/N
        self.run_fd = os.open(self.run, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        if self.run_fd >= 0:
            os.close(self.run_fd)
            self.run_fd = -1

    # -- configs ------------------------------------------------------------------------
    def config_path(self, name: str) -> str:
        return os.path.join(self.etc, f"{name}.xml")

    def write_config(self, name: str, xml: str) -> None:
        try:
            write_atomic(self.config_path(name), xml.encode())
        except OSError as e:
            raise error(ErrorNumber.SYSTEM_ERROR, Q,
                        f"cannot write config '{self.config_path(name)}': {e.strerror}",
                        int1=e.errno or -1) from None

    def rename_config(self, old: str, new: str, xml: str) -> None:
        """Move a config to a new name without ever having two files for the domain (or
        none): the new text replaces the old file atomically, then the file takes its
        new name (rename(2)); a crash in between leaves the new text under the old file
        name, which the loader moves on (fix_config_name).  An autostart mark follows:
        the new mark is made first and the old one dropped last, so a crash at any point
        keeps it (a mark left on no config is pruned by the loader: prune_autostart)."""
        old_path, new_path = self.config_path(old), self.config_path(new)
        autostart = self.get_autostart(old)
        try:
            if autostart:
                self.set_autostart(new, True)
            write_atomic(old_path, xml.encode())
            os.rename(old_path, new_path)
            _fsync_dir(self.etc)
        except OSError as e:
            raise error(ErrorNumber.SYSTEM_ERROR, Q,
                        f"cannot rename config '{old_path}' to '{new_path}': {e.strerror}",
                        int1=e.errno or -1) from None
        if autostart:
            self.set_autostart(old, False)

    def prune_autostart(self) -> None:
        """Drop autostart marks whose config is gone (what a crash mid-rename leaves)."""
        for entry in os.listdir(self.autostart):
            if entry.endswith(".xml") and not os.path.exists(self.config_path(entry[:-4])):
                self.set_autostart(entry[:-4], False)

    def fix_config_name(self, path: str, name: str) -> str:
        """Finish a rename that a crash interrupted: the config at `path` names domain
        `name`; give the file that name (when nothing else has it). Returns its path."""
        want = self.config_path(name)
        if path == want or os.path.lexists(want):
            return path
        try:
            os.rename(path, want)
            _fsync_dir(self.etc)
        except OSError:
            return path
        if self.get_autostart(os.path.basename(path)[:-4]):
            self.set_autostart(os.path.basename(path)[:-4], False)
            self.set_autostart(name, True)
        return want

    def remove_config(self, name: str) -> None:
        for p in (self.config_path(name), self.autostart_path(name)):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def configs(self) -> list[tuple[str, str]]:
        """(path, xml text) of every stored config."""
        out = []
        for fn in sorted(os.listdir(self.etc)):
            if fn.endswith(".xml") and not fn.startswith("."):
                p = os.path.join(self.etc, fn)
                try:
                    with open(p, encoding="utf-8") as f:
                        out.append((p, f.read()))
                except OSError:
                    continue
        return out

    def autostart_path(self, name: str) -> str:
        return os.path.join(self.autostart, f"{name}.xml")

    def get_autostart(self, name: str) -> bool:
        return os.path.lexists(self.autostart_path(name))

    def set_autostart(self, name: str, on: bool) -> None:
        p = self.autostart_path(name)
        if on and not os.path.lexists(p):
            os.symlink(self.config_path(name), p)
        elif not on:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    # -- live status --------------------------------------------------------------------
    def status_path(self, name: str) -> str:
        return os.path.join(self.run, f"{name}.json")

    def write_status(self, st: Status) -> None:
        write_fast(self.status_path(st.name), st.dump())

    def remove_status(self, name: str) -> None:
        try:
            os.unlink(self.status_path(name))
        except FileNotFoundError:
            pass

    def statuses(self) -> list[Status]:
        out = []
        for fn in sorted(os.listdir(self.run)):
            if not fn.endswith(".json") or fn.startswith("."):
                continue
            try:
                with open(os.path.join(self.run, fn), "rb") as f:
                    out.append(Status.load(f.read()))
            except (OSError, ValueError, TypeError):
                continue
        return out

    def monitor_path(self, dom_id: int) -> str:
        return os.path.join(self.run, f"{dom_id}.monitor")

    def log_path(self, name: str) -> str:
        return os.path.join(self.log, f"{name}.log")

    def managed_save_path(self, name: str) -> str:
        return os.path.join(self.save, f"{name}.save")

    # -- domain ids ---------------------------------------------------------------------
    def last_id(self) -> int:
        try:
            with open(os.path.join(self.run, "last-id"), "rb") as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def save_last_id(self, value: int) -> None:
        write_fast(os.path.join(self.run, "last-id"), b"%d\n" % value)


class OwnerLock:
    """One process owns a root at a time: an flock on ROOT/run/qemu/driver.lock that
    holds the owner's pid.  QEMU processes never inherit it (close-on-exec), so a
    guest that outlives its owner does not keep the root locked."""

    def __init__(self, layout: RootLayout, uri: str) -> None:
        path = os.path.join(layout.run, "driver.lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                owner = os.pread(fd, 32, 0).decode().strip() or "?"
            except OSError:
                owner = "?"
            os.close(fd)
            raise error(ErrorNumber.OPERATION_INVALID, Q,
                        f"cannot open {uri}: the root {layout.root} is in use by process "
                        f"{owner} (lock file {path}); one process at a time may own an "
                        f"embedded root") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, b"%d\n" % os.getpid(), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
