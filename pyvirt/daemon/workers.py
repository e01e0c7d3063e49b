"""A bounded pool of worker threads that run client calls (libvirtd's virThreadPool).

Between min_workers and max_workers threads take jobs from one queue; a thread is added
only when a job arrives and every thread is busy, so an idle daemon holds min_workers
threads. The queue itself is bounded by the callers: each client may have at most
max_client_requests calls in flight (the reader stops reading beyond that), and there
are at most max_clients clients.
"""
from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["WorkerPool"]

log = logging.getLogger("pyvirt.daemon")

Job = tuple[Callable[..., None], tuple[Any, ...]]


class WorkerPool:
    """Threads that run submitted functions; stop() lets running jobs finish."""

    def __init__(self, min_workers: int, max_workers: int, name: str = "pyvirtd-worker") -> None:
        if not 1 <= min_workers <= max_workers:
            raise ValueError("need 1 <= min_workers <= max_workers")
        self._min, self._max, self._name = min_workers, max_workers, name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._stopping = False
        for _ in range(min_workers):
            self._spawn()

    @property
    def size(self) -> int:
        """How many worker threads exist."""
        return len(self._threads)

    def _spawn(self) -> None:
        t = threading.Thread(target=self._run, name=f"{self._name}-{len(self._threads)}",
                             daemon=True)
        self._threads.append(t)
        self._idle += 1
        t.start()

    def submit(self, func: Callable[..., None], *args: Any) -> None:
        """Queue func(*args) for a worker."""
        with self._lock:
            if self._stopping:
                raise RuntimeError("worker pool is stopping")
            if self._idle == 0 and len(self._threads) < self._max:
                self._spawn()
            self._idle -= 1
        self._jobs.put((func, args))

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            func, args = job
            try:
                func(*args)
            except Exception:  # a job's bug must not kill the worker
                log.exception("worker job %r failed", func)
            finally:
                with self._lock:
                    self._idle += 1

    def stop(self, timeout: float = 10.0) -> None:
        """Refuse new jobs, let queued and running ones finish, join the threads."""
        with self._lock:
            self._stopping = True
            threads = list(self._threads)
        for _ in threads:
            self._jobs.put(None)
        for t in threads:
            t.join(timeout)
