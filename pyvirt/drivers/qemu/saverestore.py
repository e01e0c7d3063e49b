"""save, restore and managed save: a domain's memory as QEMU's migration stream in a file.

As libvirt's qemuSaveImage: the guest is paused, QEMU migrates it into a file handed
over the monitor (getfd + migrate "fd:"), behind a header holding the domain XML and
whether it was running; QEMU is then stopped.  Restore starts QEMU with
`-incoming fd:4` on the same file positioned after the header, waits for the stream to
load and lets the guest run on (or stay paused) where it was: the guest's memory, its
counters and console output carry on, it does not reboot.

The image layout (little endian):
    0   16  magic "PyvirtQemuSave01"
    16   4  format version (1)
    20   4  XML length in bytes
    24   4  was running (1) or paused (0)
    28   4  flags (0)
    32   8  offset of the migration stream (4096-aligned, after the XML)
    40      the domain XML (UTF-8), zero padding, then the stream
"""
from __future__ import annotations

import os
import struct
import time
from typing import TYPE_CHECKING

from ...constants import DomainEventStoppedDetailType as Stopped
from ...constants import DomainEventType as Ev
from ...constants import (
    DomainPausedReason,
    DomainSaveRestoreFlags,
    DomainShutoffReason,
    DomainState,
    ErrorDomain,
    ErrorNumber,
)
from ...errors import error
from ...xml.domain_format import format_domain
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import check_flags, invalid, not_running
from .domdef import load_qemu_domain, raw_uuid
from .jobs import JobProgress, publish_job
from .launch import finish, terminate
from .lifecycle import monitor_error
from .node import Proc, QemuNode
from .qmp import QMPError

__all__ = ["MAGIC", "SaveSlots", "read_header", "write_header"]

Q = ErrorDomain.QEMU
D = ErrorDomain.DOMAIN
MAGIC = b"PyvirtQemuSave01"
_HEADER = struct.Struct("<16sIIIIQ")
_ALIGN = 4096
_MIG_BANDWIDTH = 1 << 50        # bytes/s: unthrottled, as libvirt sets for save to file
_SAVE_FLAGS = DomainSaveRestoreFlags.BYPASS_CACHE | DomainSaveRestoreFlags.RUNNING | \
    DomainSaveRestoreFlags.PAUSED


def write_header(fd: int, xml: str, was_running: bool) -> int:
    """Write header + XML + padding at the start of fd; returns the stream offset."""
    data = xml.encode()
    offset = -(-(_HEADER.size + len(data)) // _ALIGN) * _ALIGN
    head = _HEADER.pack(MAGIC, 1, len(data), 1 if was_running else 0, 0, offset) + data
    head += b"\0" * (offset - len(head))
    os.pwrite(fd, head, 0)
    os.lseek(fd, offset, os.SEEK_SET)
    return offset


def read_header(fd: int, path: str) -> tuple[str, bool, int]:
    """(xml, was_running, stream offset) of a save image, checked."""
    head = os.pread(fd, _HEADER.size, 0)
    if len(head) < _HEADER.size:
        raise error(ErrorNumber.OPERATION_FAILED, Q, f"failed to read qemu header from {path}")
    magic, version, xml_len, running, _flags, offset = _HEADER.unpack(head)
    if magic != MAGIC:
        raise error(ErrorNumber.OPERATION_FAILED, Q, "image magic is incorrect")
    if version != 1:
        raise error(ErrorNumber.OPERATION_FAILED, Q,
                    f"image version is not supported ({version} > 1)")
    if xml_len <= 0 or offset < _HEADER.size + xml_len:
        raise error(ErrorNumber.OPERATION_FAILED, Q, "invalid XML length in the save image")
    xml = os.pread(fd, xml_len, _HEADER.size)
    if len(xml) != xml_len:
        raise error(ErrorNumber.OPERATION_FAILED, Q, f"failed to read domain XML from {path}")
    return xml.decode(), bool(running), offset


class SaveSlots:
    """save/restore/managed save for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...

    if TYPE_CHECKING:
        def _start(self, o: DomainObj, flags: int, *, restored: bool = False,
                   incoming_fd: int | None = None, was_running: bool = True,
                   base: object = None) -> None: ...

    # -- saving -------------------------------------------------------------------------
    def _save_to(self, o: DomainObj, path: str, dxml: str | None, flags: int,
                 progress: JobProgress) -> None:
        """Job held: pause, migrate into `path`, stop QEMU (SHUTOFF/SAVED)."""
        node = self.node
        with node.lock:
            p: Proc | None = o.priv
            if p is None:
                raise not_running(D)
            was_running = o.state == DomainState.RUNNING
            d = o.def_
        if dxml is not None:
            nd = load_qemu_domain(dxml, node.caps())
            if nd.uuid != d.uuid or nd.name != d.name:
                raise invalid(Q, "the save image's XML must describe the same domain")
            xml = format_domain(nd, inactive=True, secure=True)
        else:
            xml = format_domain(d, inactive=True, secure=True)
        if flags & DomainSaveRestoreFlags.RUNNING:
            was_running = True
        elif flags & DomainSaveRestoreFlags.PAUSED:
            was_running = False
        if o.state == DomainState.RUNNING:
            p.paused_reason = DomainPausedReason.SAVE
            try:
                p.mon.command("stop")
            except QMPError as exc:
                raise monitor_error(exc, "stop") from None
        tmp = f"{path}.pyvirt-part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        ok = False
        try:
            write_header(fd, xml, was_running)
            try:
                p.mon.command("migrate-set-parameters", {"max-bandwidth": _MIG_BANDWIDTH})
                p.mon.command("getfd", {"fdname": "pyvirt-save"}, fds=[fd])
                p.mon.command("migrate", {"uri": "fd:pyvirt-save"})
                self._wait_migration(p, progress)
            except QMPError as exc:
                raise monitor_error(exc, "migrate") from None
            os.fsync(fd)
            ok = True
        finally:
            os.close(fd)
            if not ok:
                os.unlink(tmp)
                self._resume_after_failure(o, p, was_running)
        os.replace(tmp, path)
        # libvirt closes the monitor before it kills QEMU here: no SHUTDOWN event
        p.being_destroyed = True
        node.watcher.remove(p.pidfd)
        node.watcher.remove_monitor(p.mon)
        p.mon.close()
        terminate(p, 3.0)
        finish(node, o, p, DomainShutoffReason.SAVED, Ev.STOPPED, Stopped.SAVED)

    def _resume_after_failure(self, o: DomainObj, p: Proc, was_running: bool) -> None:
        if was_running and not p.stopped:
            try:
                p.running_reason = 7        # VIR_DOMAIN_RUNNING_SAVE_CANCELED
                p.mon.command("cont")
            except QMPError:
                pass

    def _wait_migration(self, p: Proc, progress: JobProgress, timeout: float = 3600.0) -> None:
        deadline = time.monotonic() + timeout
        delay = 0.0005
        while True:
            st = p.mon.execute("query-migrate")
            status = st.get("status")
            progress.update_from_migrate(st)
            if status == "completed":
                return
            if status in ("failed", "cancelled"):
                raise error(ErrorNumber.OPERATION_FAILED, Q,
                            f"migration out job: {st.get('error-desc', status)}")
            if time.monotonic() > deadline:
                raise error(ErrorNumber.OPERATION_TIMEOUT, Q, "saving the domain")
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def domain_save(self, dom: DomainHandle, path: str, dxml: str | None, flags: int) -> None:
        check_flags(flags, _SAVE_FLAGS, "qemuDomainSaveFlags", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
        with node.job(o, "save"), publish_job(node, o, JobProgress("save")) as progress:
            self._save_to(o, os.path.abspath(path), dxml, flags, progress)
        dom.id = -1

    def domain_managed_save(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, _SAVE_FLAGS, "qemuDomainManagedSave", Q)
        node = self.node
        with node.lock:
            o = self._obj(dom)
            if not o.active:
                raise not_running(D)
            if not o.persistent:
                raise invalid(Q, "cannot do managed save for transient domain")
        with node.job(o, "managed save"), \
                publish_job(node, o, JobProgress("managed save")) as progress:
            self._save_to(o, node.layout.managed_save_path(o.name), None, flags, progress)
            o.has_managed_save = True
        dom.id = -1

    def domain_has_managed_save_image(self, dom: DomainHandle, flags: int) -> bool:
        check_flags(flags, 0, "qemuDomainHasManagedSaveImage", Q)
        with self.node.lock:
            o = self._obj(dom)
            return os.path.exists(self.node.layout.managed_save_path(o.name))

    def domain_managed_save_remove(self, dom: DomainHandle, flags: int) -> None:
        check_flags(flags, 0, "qemuDomainManagedSaveRemove", Q)
        with self.node.lock:
            o = self._obj(dom)
            try:
                os.unlink(self.node.layout.managed_save_path(o.name))
            except FileNotFoundError:
                pass
            o.has_managed_save = False

    # -- restoring ----------------------------------------------------------------------
    def _restore_from(self, o: DomainObj, path: str, xml: str, was_running: bool,
                      offset: int, fd: int, flags: int) -> None:
        """Job held, `o` inactive: start QEMU on the stream in fd at offset."""
        d = load_qemu_domain(xml, self.node.caps())
        if flags & DomainSaveRestoreFlags.RUNNING:
            was_running = True
        elif flags & DomainSaveRestoreFlags.PAUSED:
            was_running = False
        os.lseek(fd, offset, os.SEEK_SET)
        progress = JobProgress("restore", stream_fd=fd, stream_start=offset)
        with publish_job(self.node, o, progress):
            self._start(o, 0, restored=True, incoming_fd=fd, was_running=was_running, base=d)

    def domain_restore(self, path: str, dxml: str | None, flags: int) -> None:
        check_flags(flags, _SAVE_FLAGS, "qemuDomainRestoreFlags", Q)
        node = self.node
        path = os.path.abspath(path)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            raise error(ErrorNumber.SYSTEM_ERROR, Q,
                        f"cannot open file '{path}': {e.strerror}", int1=e.errno or -1) from None
        try:
            xml, was_running, offset = read_header(fd, path)
            d = load_qemu_domain(dxml if dxml is not None else xml, node.caps())
            raw = raw_uuid(d)
            with node.lock:
                # name/UUID clashes now; "already active" under the job lock below
                o = node.domains.check_add(d.name, raw, live=False)
                added = o is None
                if o is None:
                    o = DomainObj(def_=d, name=d.name, raw_uuid=raw, persistent=False)
                    o.set_state(DomainState.SHUTOFF, DomainShutoffReason.UNKNOWN)
                    node.domains.add(o)
            try:
                with node.job(o, "restore"):
                    if o.active:
                        raise invalid(Q, f"domain '{d.name}' is already active")
                    self._restore_from(o, path, format_domain(d, inactive=True, secure=True),
                                       was_running, offset, fd, flags)
            except BaseException:
                if added:
                    with node.lock:
                        if not o.active:
                            node.domains.remove(o)
                raise
        finally:
            os.close(fd)

    def _restore_managed(self, o: DomainObj, flags: int) -> bool:
        """Start from the managed save image if there is one (job held); True if so.
        The image is removed once the domain runs from it (libvirt does the same)."""
        path = self.node.layout.managed_save_path(o.name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            xml, was_running, offset = read_header(fd, path)
            self._restore_from(o, path, xml, was_running, offset, fd,
                               DomainSaveRestoreFlags.PAUSED if flags & 1 else 0)
        finally:
            os.close(fd)
        os.unlink(path)
        o.has_managed_save = False
        return True
