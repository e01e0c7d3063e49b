"""Long-running jobs of the QEMU driver (save, managed save, restore) and their progress.

A save holds the domain's job lock for as long as QEMU streams the guest's memory into
the file, so virDomainGetJobInfo must not wait for that lock (libvirt answers it from
a query job that runs beside the async one): the job publishes its progress in
`node.jobs` instead, and the query only reads it.

Progress comes from QEMU, as libvirt's qemuDomainGetJobInfo takes it:
- saving: QMP query-migrate's `ram` block (total, transferred, remaining bytes), which
  the save's wait loop reads every few milliseconds anyway; libvirt reports these as the
  memory figures and, for a save to a file, the same as the data figures
  (QEMU_DOMAIN_JOB_STATS_TYPE_SAVEDUMP);
- restoring: QEMU reads the stream from a file descriptor it shares with us (one open
  file description), so the file offset says how much of the stream it has loaded.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ...constants import DomainJobType, ErrorDomain
from ...types import DomainJobInfo
from ..domobj import DomainObj
from ..handles import DomainHandle
from ..util import not_running
from .node import QemuNode

__all__ = ["JobProgress", "JobSlots", "publish_job"]

D = ErrorDomain.DOMAIN


@dataclass
class JobProgress:
    """What one save or restore has done so far (bytes; `started` is monotonic)."""

    operation: str
    started: float = field(default_factory=time.monotonic)
    total: int = 0
    processed: int = 0
    remaining: int = 0
    stream_fd: int = -1         # restore: the fd QEMU reads the stream from
    stream_start: int = 0       # restore: where the stream starts in the file
    lock: threading.Lock = field(default_factory=threading.Lock)

    def update_from_migrate(self, st: dict[str, Any]) -> None:
        """Take the figures of one query-migrate reply."""
        ram = st.get("ram")
        if not isinstance(ram, dict):
            return
        with self.lock:
            self.total = int(ram.get("total", 0))
            self.processed = int(ram.get("transferred", 0))
            self.remaining = int(ram.get("remaining", 0))

    def sample(self) -> tuple[int, int, int]:
        """(total, processed, remaining) now."""
        with self.lock:
            if self.stream_fd < 0:
                return self.total, self.processed, self.remaining
            try:
                size = os.fstat(self.stream_fd).st_size
                pos = os.lseek(self.stream_fd, 0, os.SEEK_CUR)
            except OSError:
                return self.total, self.processed, self.remaining
            total = max(size - self.stream_start, 0)
            done = min(max(pos - self.stream_start, 0), total)
            return total, done, total - done

    def info(self) -> DomainJobInfo:
        total, done, left = self.sample()
        elapsed = int((time.monotonic() - self.started) * 1000)
        return DomainJobInfo(DomainJobType.UNBOUNDED, elapsed, 0, total, done, left,
                             total, done, left, 0, 0, 0)


@contextmanager
def publish_job(node: QemuNode, o: DomainObj, progress: JobProgress) -> Iterator[JobProgress]:
    """`with publish_job(node, o, progress):` shows progress for the job's length."""
    key = bytes(o.raw_uuid)
    with node.lock:
        node.jobs[key] = progress
    try:
        yield progress
    finally:
        with node.lock:
            if node.jobs.get(key) is progress:
                del node.jobs[key]
        with progress.lock:         # a restore closes its stream fd after this
            progress.stream_fd = -1


class JobSlots:
    """domain_get_job_info for QemuDriver."""

    node: QemuNode

    if TYPE_CHECKING:
        def _obj(self, dom: DomainHandle) -> DomainObj: ...

    def domain_get_job_info(self, dom: DomainHandle) -> DomainJobInfo:
        with self.node.lock:
            o = self._obj(dom)
            progress: JobProgress | None = self.node.jobs.get(bytes(o.raw_uuid))
            if progress is None:
                # libvirt: an inactive domain has no job to show, an idle one type NONE
                if not o.active:
                    raise not_running(D)
                return DomainJobInfo(DomainJobType.NONE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        return progress.info()
