"""Guest lifecycle workloads: start/destroy, suspend/resume and info, save/restore, N at once.

What "done" means, the same on every target:
- start: from defineXML until create() has returned and the domain runs (raw QEMU: from
  spawning `-S` until `cont` was answered);
- destroy: from the call until it returned and the QEMU process has exited (seen through
  a pidfd, so an API that returns before QEMU is gone is not credited for it);
- save / restore: the API calls (raw QEMU: stop + migrate to a file + the process gone;
  a new QEMU with -incoming, the stream loaded, cont).
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import dataclasses
import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..testing.peers import RawQemu
from .core import Context, Measurement, Metric, Workload, timed, timed_each
from .guests import (
    boot_disk,
    cleanup_domains,
    destroy_until_exit,
    firmware_xml,
    os_guest_xml,
    raw_disk_args,
    vtype,
    wait_console,
    wait_idle,
    wait_running,
)
from .targets import QemuTarget, Target

__all__ = ["WORKLOADS", "GuestState", "RunningGuestWorkload", "firmware_describe"]


@dataclasses.dataclass
class GuestState:
    """A target's connection (or raw QEMUs) and what a workload keeps across trials."""

    target: Target
    ctx: Context
    conn: Any = None
    dom: Any = None
    name: str = ""
    raw: Any = None
    names: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def close(self) -> None:
        if self.conn is not None:
            cleanup_domains(self.conn, self.names)
        if self.raw is not None:
            self.raw.close()
            self.raw = None


def firmware_describe(ctx: Context) -> str:
    note = f" ({ctx.accel_note})" if ctx.accel_note else ""
    return (f"firmware guest (SeaBIOS booting a one-sector disk that halts), 64 MiB, 1 vCPU, "
            f"{ctx.accel.upper()}{note}")


class _GuestWorkload(Workload):
    group = "guest"

    def describe(self, ctx: Context) -> str:
        return firmware_describe(ctx)

    def check(self, target: Target, ctx: Context) -> None:
        if not target.raw:
            target.qemu_uri()

    def setup(self, target: Target, ctx: Context) -> GuestState:
        st = GuestState(target, ctx)
        if not target.raw:
            st.conn = target.open_qemu()
        return st

    def teardown(self, st: GuestState) -> None:
        st.close()


def start_firmware(st: GuestState, label: str) -> tuple[float, Any]:
    """Define and start a firmware guest on an API target: (seconds, domain)."""
    name = st.ctx.name(label)
    st.names.append(name)
    xml = firmware_xml(name, vtype(st.ctx), boot_disk(st.ctx, name))
    t0 = time.perf_counter()
    dom = st.conn.defineXML(xml)
    dom.create()
    took = time.perf_counter() - t0
    wait_running(dom)
    return took, dom


def raw_firmware(st: GuestState, label: str) -> RawQemu:
    """A raw QEMU (not started) with the same firmware and boot disk as the API guests."""
    assert isinstance(st.target, QemuTarget)
    name = st.ctx.name(label)
    return st.target.raw_qemu(name, extra=raw_disk_args(boot_disk(st.ctx, name)))


def start_raw(st: GuestState, label: str) -> tuple[float, RawQemu]:
    q = raw_firmware(st, label)
    try:
        return timed(q.start), q
    except BaseException:
        q.close()
        raise


class GuestLifecycle(_GuestWorkload):
    name = "guest.lifecycle"
    title = "start and destroy a guest"
    metrics = (Metric("start", "define+start until running"),
               Metric("destroy", "destroy until the QEMU process has exited"))

    def trial(self, st: GuestState) -> Measurement:
        if st.target.raw:
            start, q = start_raw(st, "life")
            try:
                stop = timed(q.stop)
            finally:
                q.close()
        else:
            start, dom = start_firmware(st, "life")
            try:
                stop = destroy_until_exit(dom, st.target.qemu_pid(dom.name()))
            finally:
                cleanup_domains(st.conn, [st.names.pop()])
        return {"start": (start, [start]), "destroy": (stop, [stop])}


class RunningGuestWorkload(_GuestWorkload):
    """A workload measured on a running firmware guest (st.dom on an API target, st.raw,
    a started RawQemu, on the qemu target).  One such guest per target serves every
    workload of this kind in the run: SeaBIOS keeps a CPU busy for seconds under this
    machine's KVM before the boot sector halts, paid once instead of per workload.  The
    target stops it when the run ends; workloads must leave it running."""

    def setup(self, target: Target, ctx: Context) -> GuestState:
        shared = target.shared.get("running")
        if shared is None:
            shared = super().setup(target, ctx)
            try:
                if target.raw:
                    _, shared.raw = start_raw(shared, "run")
                    shared.extra["pid"] = shared.raw.pid
                else:
                    _, shared.dom = start_firmware(shared, "run")
                    shared.extra["pid"] = target.qemu_pid(shared.dom.name())
            except BaseException:
                shared.close()
                raise
            target.shared["running"] = shared
            target.on_close.append(shared.close)
        st = dataclasses.replace(shared, names=[], extra={"pid": shared.extra["pid"]})
        # a workload that failed half-way may have left it paused
        if target.raw:
            if st.raw.qmp.execute("query-status")["status"] == "paused":
                st.raw.qmp.execute("cont")
        elif st.dom.state(0)[0] == 3:                       # VIR_DOMAIN_PAUSED
            st.dom.resume()
        return st

    def settle(self, st: GuestState) -> None:
        wait_idle(st.extra["pid"])

    def teardown(self, st: GuestState) -> None:
        """Nothing: the shared guest is the target's (see the class docstring)."""


class GuestOps(RunningGuestWorkload):
    name = "guest.ops"
    title = "calls on a running guest"
    metrics = (Metric("suspend_resume", "suspend + resume round trip"),
               Metric("info", "info()"),
               Metric("state", "state()"))

    def metric_na(self, metric: str, target: Target) -> str | None:
        if target.raw and metric in ("info", "state"):
            return "no such call: QEMU's own status call is qmp.query_status"
        return None

    def trial(self, st: GuestState) -> Measurement:
        n = st.ctx.sizes.guest_calls
        if st.target.raw:
            qmp = st.raw.qmp

            def stop_cont(i: int) -> None:
                qmp.execute("stop")
                qmp.execute("cont")
            out = {"suspend_resume": timed_each(stop_cont, n)}
            qmp.events.clear()      # STOP/RESUME events nobody reads
            return out
        dom = st.dom

        def suspend_resume(i: int) -> None:
            dom.suspend()
            dom.resume()
        return {"suspend_resume": timed_each(suspend_resume, n),
                "info": timed_each(lambda i: dom.info(), n * 5),
                "state": timed_each(lambda i: dom.state(0), n * 5)}


class GuestSaveRestore(_GuestWorkload):
    name = "guest.saverestore"
    title = "save to a file and restore a booted guest"
    metrics = (Metric("save", "save (guest stopped, state in a file)"),
               Metric("restore", "restore until running"))

    def describe(self, ctx: Context) -> str:
        return ("the test guest (Debian kernel + busybox, booted to its shell), 64 MiB, "
                "1 vCPU, TCG (its kernel hangs under this kind of machine's KVM)")

    def check(self, target: Target, ctx: Context) -> None:
        super().check(target, ctx)
        ctx.guest_image()

    def setup(self, target: Target, ctx: Context) -> GuestState:
        st = super().setup(target, ctx)
        st.name = ctx.name("save")
        (ctx.workdir / "save").mkdir(exist_ok=True)
        try:
            st.extra["console"] = console = ctx.workdir / "save" / f"{st.name}.console"
            if target.raw:
                st.raw = self._raw_guest(st)
                st.raw.start()
            else:
                st.names.append(st.name)
                st.dom = st.conn.defineXML(os_guest_xml(st.name, ctx, console))
                st.dom.create()
        except BaseException:
            st.close()
            raise
        return st

    @staticmethod
    def _raw_guest(st: GuestState) -> RawQemu:
        assert isinstance(st.target, QemuTarget)
        image = st.ctx.guest_image()
        return st.target.raw_qemu(st.name, accel="tcg", extra=[
            *image.qemu_args(), "-serial", f"file:{st.extra['console']}"])

    def settle(self, st: GuestState) -> None:
        # booted to its shell: the guests of all targets boot at the same time
        from ..testing.guest import READY_LINE
        wait_console(st.extra["console"], READY_LINE, timeout=300)

    def trial(self, st: GuestState) -> Measurement:
        path = st.ctx.workdir / "save" / f"{st.name}.{st.target.name}.sav"
        try:
            if st.target.raw:
                save, restore = self._raw(st, path)
            else:
                save = timed(lambda: st.dom.save(str(path)))
                restore = timed(lambda: st.conn.restore(str(path)))
                wait_running(st.dom)
        finally:
            path.unlink(missing_ok=True)
        return {"save": (save, [save]), "restore": (restore, [restore])}

    def _raw(self, st: GuestState, path: Path) -> tuple[float, float]:
        old = st.raw

        def save() -> None:
            old.save(path)
            old.stop()          # libvirt's save ends the QEMU process too
        took_save = timed(save)
        old.close()
        st.raw = self._raw_guest(st)
        took_restore = timed(lambda: st.raw.start(restore_from=path))
        return took_save, took_restore


def _all_at_once(pool: concurrent.futures.ThreadPoolExecutor,
                 calls: list[Callable[[], object]]) -> float:
    """Run the calls on the pool at once; seconds until the last one finished.  Every
    call has finished (or failed) before the first failure is raised, so that cleanup
    never races a start still under way."""
    t0 = time.perf_counter()
    futures = [pool.submit(c) for c in calls]
    concurrent.futures.wait(futures)
    took = time.perf_counter() - t0
    for f in futures:
        f.result()
    return took


class GuestConcurrent(_GuestWorkload):
    name = "guest.concurrent"
    title = "N guests started at once"
    metrics = (Metric("start_n", "define+start N guests concurrently, until all run"),)

    def describe(self, ctx: Context) -> str:
        return f"N={ctx.sizes.concurrent}, one thread each, one connection; " + \
            firmware_describe(ctx)

    def trial(self, st: GuestState) -> Measurement:
        n = st.ctx.sizes.concurrent
        with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
            if st.target.raw:
                assert isinstance(st.target, QemuTarget)
                qs = [raw_firmware(st, "many") for _ in range(n)]
                try:
                    took = _all_at_once(pool, [q.start for q in qs])
                finally:
                    for f in [pool.submit(q.close) for q in qs]:
                        with contextlib.suppress(Exception):
                            f.result()
            else:
                names = [st.ctx.name("many") for _ in range(n)]
                st.names.extend(names)
                xmls = [firmware_xml(nm, vtype(st.ctx), boot_disk(st.ctx, nm)) for nm in names]

                def one(xml: str) -> None:
                    st.conn.defineXML(xml).create()
                try:
                    took = _all_at_once(pool, [functools.partial(one, x) for x in xmls])
                finally:
                    for f in [pool.submit(cleanup_domains, st.conn, [nm]) for nm in names]:
                        f.result()
                    del st.names[-n:]
        return {"start_n": (took, [took])}


WORKLOADS: tuple[Workload, ...] = (GuestLifecycle(), GuestOps(), GuestSaveRestore(),
                                   GuestConcurrent())
