"""Monitor workloads on a running guest: QMP round trip, event latency, memory peeks.

- qmp.query_status: `{"execute":"query-status"}` through qemuMonitorCommand (libvirt_qemu
  and pyvirt.libvirt_qemu), against a bare QMP socket on raw QEMU;
- events.lifecycle: from the suspend() call until the SUSPENDED lifecycle callback ran
  (in the event-loop thread of the target's library); raw QEMU: from sending `stop` until
  its STOP event was read off the socket;
- memory.peek: memoryPeek(0, size, VIR_MEMORY_PHYSICAL) of 4 KiB and 1 MiB; raw QEMU:
  `pmemsave` to a file and reading it back (what libvirt does underneath).
"""
from __future__ import annotations

import contextlib
import os
import queue
import time
from collections.abc import Callable
from typing import Any

from .core import Context, Measurement, Metric, NotApplicable, Workload, timed_each
from .targets import Target
from .wl_guest import GuestState, RunningGuestWorkload

__all__ = ["WORKLOADS"]

_QUERY_STATUS = '{"execute":"query-status"}'
_SUSPENDED, _RESUMED = 3, 4         # VIR_DOMAIN_EVENT_SUSPENDED / _RESUMED


class QmpRoundTrip(RunningGuestWorkload):
    name = "qmp.query_status"
    group = "monitor"
    title = "QMP query-status round trip"
    metrics = (Metric("query_status", "query-status, sent and answered"),)

    def trial(self, st: GuestState) -> Measurement:
        n = st.ctx.sizes.qmp_calls
        if st.target.raw:
            qmp = st.raw.qmp
            return {"query_status": timed_each(lambda i: qmp.execute("query-status"), n)}
        command = st.target.qemu_api().qemuMonitorCommand
        dom = st.dom
        return {"query_status": timed_each(lambda i: command(dom, _QUERY_STATUS, 0), n)}


class EventLatency(RunningGuestWorkload):
    name = "events.lifecycle"
    group = "monitor"
    title = "lifecycle event latency"
    metrics = (Metric("suspend_event", "suspend() call to SUSPENDED callback"),)

    def check(self, target: Target, ctx: Context) -> None:
        super().check(target, ctx)
        if not ctx.event_loops and not target.raw:
            raise NotApplicable("no event loop (--no-event-loops)")

    def setup(self, target: Target, ctx: Context) -> GuestState:
        st = super().setup(target, ctx)
        if not target.raw:
            events: queue.Queue[tuple[float, int]] = queue.Queue()

            def callback(conn: Any, dom: Any, event: int, detail: int, opaque: Any) -> None:
                events.put((time.perf_counter(), event))
            cb_id = st.conn.domainEventRegisterAny(
                st.dom, target.api().VIR_DOMAIN_EVENT_ID_LIFECYCLE, callback, None)
            st.extra.update(events=events, cb_id=cb_id)
        return st

    @staticmethod
    def _wait(events: queue.Queue[tuple[float, int]], want: int) -> float:
        deadline = time.monotonic() + 10.0
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no lifecycle event {want} within 10 s")
            t, event = events.get(timeout=left)
            if event == want:
                return t

    def trial(self, st: GuestState) -> Measurement:
        lat = []
        if st.target.raw:
            qmp = st.raw.qmp
            for _ in range(st.ctx.sizes.events):
                qmp.events.clear()
                t0 = time.perf_counter()
                qmp.execute("stop")
                t_event, _ = qmp.wait_event("STOP")
                lat.append(t_event - t0)
                qmp.execute("cont")
                qmp.wait_event("RESUME")
        else:
            events: queue.Queue[tuple[float, int]] = st.extra["events"]
            for _ in range(st.ctx.sizes.events):
                while not events.empty():
                    events.get_nowait()
                t0 = time.perf_counter()
                st.dom.suspend()
                lat.append(self._wait(events, _SUSPENDED) - t0)
                st.dom.resume()
                self._wait(events, _RESUMED)
        return {"suspend_event": (sum(lat) / len(lat), lat)}

    def teardown(self, st: GuestState) -> None:
        cb_id = st.extra.get("cb_id")
        if cb_id is not None and st.conn is not None:
            with contextlib.suppress(Exception):  # a broken connection has no callbacks
                st.conn.domainEventDeregisterAny(cb_id)
        super().teardown(st)


class MemoryPeek(RunningGuestWorkload):
    name = "memory.peek"
    group = "monitor"
    title = "read guest physical memory"
    metrics = (Metric("peek_4k", "memoryPeek 4 KiB"), Metric("peek_1m", "memoryPeek 1 MiB"))

    def trial(self, st: GuestState) -> Measurement:
        n = st.ctx.sizes.peeks
        out: Measurement = {}
        for metric, size in (("peek_4k", 4096), ("peek_1m", 1 << 20)):
            peek = self._raw_peek(st, size) if st.target.raw else self._api_peek(st, size)
            out[metric] = timed_each(peek, n)
        return out

    @staticmethod
    def _raw_peek(st: GuestState, size: int) -> Callable[[int], None]:
        qmp = st.raw.qmp
        path = str(st.raw.dir / f"{st.raw.name}.peek")

        def peek(i: int) -> None:
            qmp.execute("pmemsave", {"val": 0, "size": size, "filename": path})
            with open(path, "rb") as f:
                data = f.read()
            os.unlink(path)
            if len(data) != size:
                raise RuntimeError(f"pmemsave wrote {len(data)} bytes, not {size}")
        return peek

    @staticmethod
    def _api_peek(st: GuestState, size: int) -> Callable[[int], None]:
        dom, flag = st.dom, st.target.api().VIR_MEMORY_PHYSICAL

        def peek(i: int) -> None:
            if len(dom.memoryPeek(0, size, flag)) != size:
                raise RuntimeError(f"memoryPeek returned a short buffer, not {size}")
        return peek


WORKLOADS: tuple[Workload, ...] = (QmpRoundTrip(), EventLatency(), MemoryPeek())
