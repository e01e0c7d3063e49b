"""pyvirt's QEMU driver side by side with raw QEMU and a private libvirtd, one run.

    PYTHONPATH=. .venv/bin/python benches/bench_qemu_side.py [--rounds N] [--no-libvirt]
    .venv/bin/python -m pytest benches/bench_qemu_side.py -s       # the same, as a test

Every operation is measured in interleaved rounds (pyvirt, raw QEMU, libvirt, pyvirt,
...) because this machine's speed drifts up to 2x within minutes; the table gives
medians and each peer's ratio to pyvirt, computed per round and then the median taken.
The guest is the one shared/PEERS.md measured: 64 MiB, one vCPU, no disk, firmware
only, under KVM when it is usable (TCG otherwise).  No timing is asserted.

Rows: define+start until running; destroy until QEMU has exited; suspend and resume;
a QMP round trip through the public API (libvirt_qemu.qemuMonitorCommand's path) and
over a tight raw Python socket loop; lifecycle event latency (suspend call to
callback); memoryPeek of 4 KiB and 1 MiB (libvirt: 64 KiB chunks, its RPC limit);
save and restore; 10 guests started concurrently; memory held by the owning process
per running guest.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pyvirt
from pyvirt import eventloop
from pyvirt.drivers.qemu.process import kvm_usable

try:
    from bench_qemu_peers import PrivateLibvirtd, RawQemu, libvirt_available
except ImportError:  # imported as benches.bench_qemu_side
    from .bench_qemu_peers import PrivateLibvirtd, RawQemu, libvirt_available

VTYPE = "kvm" if kvm_usable()[0] else "qemu"
ACCEL = "kvm" if VTYPE == "kvm" else "tcg"


def xml(name: str, shared: bool = False) -> str:
    backing = ("<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
               if shared else "")
    return (f"<domain type='{VTYPE}'><name>{name}</name><memory unit='MiB'>64</memory>"
            f"<vcpu>1</vcpu>{backing}<os><type arch='x86_64' machine='pc'>hvm</type></os>"
            "<devices><memballoon model='none'/></devices></domain>")


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def med_time(fn: Callable[[], Any], n: int) -> float:
    return statistics.median(timed(fn) for _ in range(n))


class Table:
    def __init__(self) -> None:
        self.rows: dict[str, dict[str, list[float]]] = {}

    def add(self, row: str, who: str, seconds: float) -> None:
        self.rows.setdefault(row, {}).setdefault(who, []).append(seconds)

    def render(self) -> str:
        out = [f"{'operation':44} {'pyvirt':>10} {'raw QEMU':>10} {'libvirt':>10} "
               f"{'raw/pyvirt':>10} {'libvirt/pyvirt':>14}"]
        for row, by in self.rows.items():
            def fmt(who: str) -> str:
                v = by.get(who)
                if not v:
                    return "-"
                m = statistics.median(v)
                return f"{m * 1e3:.3f}ms" if m >= 1e-3 else f"{m * 1e6:.0f}us"

            def ratio(who: str) -> str:
                a, b = by.get(who), by.get("pyvirt")
                if not a or not b:
                    return "-"
                return f"{statistics.median(x / y for x, y in zip(a, b)):.2f}x"
            out.append(f"{row:44} {fmt('pyvirt'):>10} {fmt('raw'):>10} {fmt('libvirt'):>10} "
                       f"{ratio('raw'):>10} {ratio('libvirt'):>14}")
        return "\n".join(out)


def _uss_kib() -> int:
    """Private memory of this process (USS), KiB."""
    total = 0
    with open("/proc/self/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total


def run(rounds: int = 5, with_libvirt: bool = True, out: Any = sys.stdout) -> Table:
    if shutil.which("qemu-system-x86_64") is None:
        raise RuntimeError("qemu-system-x86_64 is not installed")
    tab = Table()
    root = tempfile.mkdtemp(prefix="pyvirt-side-")
    try:
        eventloop.register_default_impl()
    except pyvirt.libvirtError:
        pass
    loop_stop = threading.Event()
    threading.Thread(target=lambda: [eventloop.run_default_impl() for _ in iter(
        loop_stop.is_set, True)], daemon=True).start()
    conn = pyvirt.connect(f"qemu:///embed?root={root}")
    lvd = None
    lv = None
    if with_libvirt and libvirt_available() is None:
        import libvirt
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(
            loop_stop.is_set, True)], daemon=True).start()
        lvd = PrivateLibvirtd()
        lv = libvirt.open(lvd.unix_uri())      # its unix socket, as local clients use
    elif with_libvirt:
        out.write(f"libvirt column skipped: {libvirt_available()}\n")
    try:
        conn.define_domain(xml("warm")).undefine()      # capabilities probed before timing
        for r in range(rounds):
            _round(tab, conn, lv, r, lvd.tmp if lvd is not None else root)
            out.write(f"round {r + 1}/{rounds} done\n")
            out.flush()
        _concurrent(tab, conn, lv)
        per_guest = _memory_per_guest(conn)
    finally:
        for d in conn.list_all_domains():
            if d.is_active():
                d.destroy()
        conn.close()
        if lv is not None:
            for d in lv.listAllDomains():
                if d.isActive():
                    d.destroy()
            lv.close()
        if lvd is not None:
            lvd.stop()
        loop_stop.set()
        eventloop.interrupt()
        shutil.rmtree(root, ignore_errors=True)
    out.write(f"\nguest: 64 MiB, 1 vCPU, firmware only, accel {ACCEL}; {rounds} rounds\n")
    out.write(tab.render() + "\n")
    out.write(f"owner process memory per running guest (USS): {per_guest:.0f} KiB\n")
    return tab


def _round(tab: Table, conn: Any, lv: Any, r: int, save_dir: str) -> None:
    name = f"side{r}"
    # define+start until running / destroy until exited
    t0 = time.perf_counter()
    dom = conn.define_domain(xml(name, shared=True))
    dom.create()
    tab.add("define+start until running (64 MiB, no disk)", "pyvirt", time.perf_counter() - t0)
    raw = RawQemu(accel=ACCEL)
    tab.add("define+start until running (64 MiB, no disk)", "raw", timed(raw.start))
    if lv is not None:
        t0 = time.perf_counter()
        ldom = lv.defineXML(xml(name))
        ldom.create()
        tab.add("define+start until running (64 MiB, no disk)", "libvirt",
                time.perf_counter() - t0)
    # suspend / resume
    s, rz = _pair(dom.suspend, dom.resume)
    tab.add("suspend", "pyvirt", s)
    tab.add("resume", "pyvirt", rz)
    if lv is not None:
        s, rz = _pair(ldom.suspend, ldom.resume)
        tab.add("suspend", "libvirt", s)
        tab.add("resume", "libvirt", rz)
    # QMP round trip
    tab.add("QMP round trip (query-status)", "pyvirt",
            med_time(lambda: dom.qemu_monitor_command('{"execute":"query-status"}'), 200))
    tab.add("QMP round trip (query-status)", "raw", _raw_qmp(raw))
    if lv is not None:
        import libvirt_qemu
        tab.add("QMP round trip (query-status)", "libvirt", med_time(
            lambda: libvirt_qemu.qemuMonitorCommand(ldom, '{"execute":"query-status"}', 0),
            200))
    # event latency
    tab.add("lifecycle event: suspend call to callback", "pyvirt", _event_latency(conn, dom))
    if lv is not None:
        tab.add("lifecycle event: suspend call to callback", "libvirt",
                _event_latency_lv(lv, ldom))
    # memoryPeek
    for size, label in ((4096, "4 KiB"), (1 << 20, "1 MiB")):
        row = f"memoryPeek {label} (physical)"
        tab.add(row, "pyvirt", med_time(lambda: dom.memory_peek(0x100000, size, 2), 50))
        tab.add(row, "raw", _raw_pmemsave(raw, size))
        if lv is not None:
            chunk = min(size, 65536)
            tab.add(row, "libvirt", med_time(lambda: [ldom.memoryPeek(
                0x100000 + o, chunk, 2) for o in range(0, size, chunk)], 10))
    # destroy (the guests started above: a restored QEMU, whose memory the incoming
    # stream touched throughout, takes longer to exit and would not compare with raw)
    tab.add("destroy until QEMU has exited", "pyvirt", timed(dom.destroy))
    tab.add("destroy until QEMU has exited", "raw", timed(raw.stop))
    raw.close()
    if lv is not None:
        tab.add("destroy until QEMU has exited", "libvirt", timed(ldom.destroy))
    # save / restore, on guests started afresh
    dom.create()
    path = os.path.join(conn._hv.node.layout.root, f"{name}.save")
    tab.add("save (64 MiB guest)", "pyvirt", timed(lambda: dom.save(path)))
    tab.add("restore (64 MiB guest)", "pyvirt", timed(lambda: conn.restore_domain(path)))
    os.unlink(path)
    dom.destroy()
    dom.undefine()
    if lv is not None:
        ldom.create()
        lpath = os.path.join(save_dir, f"{name}.save")
        tab.add("save (64 MiB guest)", "libvirt", timed(lambda: ldom.save(lpath)))
        tab.add("restore (64 MiB guest)", "libvirt", timed(lambda: lv.restore(lpath)))
        os.unlink(lpath)
        ldom.destroy()
        ldom.undefine()


def _pair(a: Callable[[], Any], b: Callable[[], Any], n: int = 100) -> tuple[float, float]:
    ta, tb = [], []
    for _ in range(n):
        ta.append(timed(a))
        tb.append(timed(b))
    return statistics.median(ta), statistics.median(tb)


def _raw_qmp(raw: RawQemu, n: int = 200) -> float:
    s = raw.sock
    assert s is not None
    f = s.makefile("rb")
    try:
        def once() -> None:
            s.sendall(b'{"execute":"query-status"}\n')
            while True:
                line = f.readline()
                if b'"return"' in line:
                    json.loads(line)
                    return
        return med_time(once, n)
    finally:
        f.close()


def _raw_pmemsave(raw: RawQemu, size: int, n: int = 20) -> float:
    s = raw.sock
    assert s is not None
    f = s.makefile("rb")
    path = os.path.join("/dev/shm" if os.path.isdir("/dev/shm") else raw.tmp, "raw-peek")
    try:
        def once() -> None:
            s.sendall(json.dumps({"execute": "pmemsave", "arguments": {
                "val": 0x100000, "size": size, "filename": path}}).encode() + b"\n")
            while b'"return"' not in f.readline():
                pass
            with open(path, "rb") as g:
                g.read()
            os.unlink(path)
        return med_time(once, n)
    finally:
        f.close()


def _event_latency(conn: Any, dom: Any, n: int = 50) -> float:
    got = threading.Event()
    stamp: list[float] = [0.0]

    def cb(c: Any, d: Any, ev: int, detail: int, opaque: Any) -> None:
        if ev == 3:
            stamp[0] = time.perf_counter()
            got.set()
    cid = conn.domain_event_register_any(dom, 0, cb)
    lat = []
    try:
        for _ in range(n):
            got.clear()
            t = time.perf_counter()
            dom.suspend()
            got.wait(5)
            lat.append(stamp[0] - t)
            dom.resume()
    finally:
        conn.domain_event_deregister_any(cid)
    return statistics.median(lat)


def _event_latency_lv(lv: Any, dom: Any, n: int = 50) -> float:
    got = threading.Event()
    stamp: list[float] = [0.0]

    def cb(c: Any, d: Any, ev: int, detail: int, opaque: Any) -> None:
        if ev == 3:
            stamp[0] = time.perf_counter()
            got.set()
    cid = lv.domainEventRegisterAny(dom, 0, cb, None)
    lat = []
    try:
        for _ in range(n):
            got.clear()
            t = time.perf_counter()
            dom.suspend()
            got.wait(5)
            lat.append(stamp[0] - t)
            dom.resume()
    finally:
        lv.domainEventDeregisterAny(cid)
    return statistics.median(lat)


def _concurrent(tab: Table, conn: Any, lv: Any, count: int = 10) -> None:
    row = f"{count} guests started concurrently"
    doms = [conn.define_domain(xml(f"conc{i}")) for i in range(count)]
    tab.add(row, "pyvirt", timed(lambda: _all(d.create for d in doms)))
    for d in doms:
        d.destroy()
        d.undefine()
    raws = [RawQemu(accel=ACCEL) for _ in range(count)]
    tab.add(row, "raw", timed(lambda: _all(r.start for r in raws)))
    for r in raws:
        r.stop()
        r.close()
    if lv is not None:
        ldoms = [lv.defineXML(xml(f"conc{i}")) for i in range(count)]
        tab.add(row, "libvirt", timed(lambda: _all(d.create for d in ldoms)))
        for d in ldoms:
            d.destroy()
            d.undefine()


def _all(fns: Any) -> None:
    errors: list[BaseException] = []

    def call(fn: Callable[[], Any]) -> None:
        try:
            fn()
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=call, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def _memory_per_guest(conn: Any, count: int = 10) -> float:
    """KiB of private memory the owner holds per running guest (USS growth / count)."""
    doms = [conn.define_domain(xml(f"mem{i}", shared=True)) for i in range(count)]
    doms[0].create()
    doms[0].memory_peek(0x100000, 4096, 2)      # one guest warm: code paths loaded
    doms[0].destroy()
    gc.collect()
    before = _uss_kib()
    for d in doms:
        d.create()
        d.qemu_monitor_command('{"execute":"query-status"}')
    gc.collect()
    after = _uss_kib()
    for d in doms:
        d.destroy()
        d.undefine()
    return (after - before) / count


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-libvirt", action="store_true")
    a = ap.parse_args()
    run(a.rounds, not a.no_libvirt)


def test_side_by_side() -> None:
    """pytest entry: runs the comparison and prints the table (no timing asserted)."""
    import pytest
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    run(int(os.environ.get("PYVIRT_SIDE_ROUNDS", "3")), True)


if __name__ == "__main__":
    main()
