"""pyvirtd side by side with a private libvirtd, libvirt-python as the client, one run.

    PYTHONPATH=. .venv/bin/python benches/bench_rpc_daemon.py [--calls N] [--rounds R]
        [--clients 50] [--seconds S] [--no-qemu] [--json FILE]
    .venv/bin/python -m pytest benches/bench_rpc_daemon.py -s      # a short run, as a test

What issue 4 asks to measure, over each daemon's unix socket, with the same client
(Debian's libvirt-python) on the same machine in the same run:
- latency (p50, p99) and calls per second of dom.info(), dom.state() and
  conn.lookupByName() on one connection, for the test driver (test:///default: the
  RPC path alone) and for the qemu driver with a running guest (qemu:///system);
- aggregate calls per second of info() from 50 concurrent clients (10 processes of 5
  threads: libvirt-python releases the GIL while it waits);
- each daemon's resident memory with 10 running guests.
Rounds alternate the daemons (pyvirtd, libvirtd, pyvirtd, ...) because this machine's
speed drifts up to 2x within minutes; each ratio is computed per round, then the median
is taken. Ratios are libvirtd / pyvirtd for times (> 1: pyvirtd is faster) and
pyvirtd / libvirtd for calls per second. No figure is asserted anywhere.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid as _uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.interop.peers import (LibvirtdProcess, PyvirtdProcess,  # noqa: E402
                                 firmware_guest, kill_guests, libvirtd_available)

OPS = ("info", "state", "lookupByName")


def _op(conn: Any, dom: Any, name: str, op: str) -> Any:
    if op == "info":
        return dom.info
    if op == "state":
        return dom.state
    return lambda: conn.lookupByName(name)


def latency(uri: str, name: str, op: str, calls: int) -> list[float]:
    """Seconds per call of one operation, `calls` times after a warm-up."""
    import libvirt
    conn = libvirt.open(uri)
    try:
        dom = conn.lookupByName(name)
        f = _op(conn, dom, name, op)
        for _ in range(min(200, calls)):
            f()
        out = []
        clock = time.perf_counter
        for _ in range(calls):
            t = clock()
            f()
            out.append(clock() - t)
        return out
    finally:
        conn.close()


def _client_proc(uri: str, name: str, threads: int, start: float, stop: float,
                 q: Any) -> None:
    import libvirt
    counts = [0] * threads

    def run(i: int) -> None:
        conn = libvirt.open(uri)
        dom = conn.lookupByName(name)
        while time.time() < start:
            time.sleep(0.001)
        n = 0
        while time.time() < stop:
            dom.info()
            n += 1
        counts[i] = n
        conn.close()

    ts = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(sum(counts))


def concurrent(uri: str, name: str, clients: int, seconds: float) -> float:
    """Aggregate info() calls per second of `clients` connections at once."""
    procs_n = max(1, clients // 5)
    per = [clients // procs_n + (1 if i < clients % procs_n else 0) for i in range(procs_n)]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start = time.time() + 2.0 + 0.02 * clients     # every connection opened by then
    stop = start + seconds
    ps = [ctx.Process(target=_client_proc, args=(uri, name, n, start, stop, q)) for n in per]
    for p in ps:
        p.start()
    total = sum(q.get(timeout=120 + seconds) for _ in ps)
    for p in ps:
        p.join(30)
    return total / seconds


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def _qemu_ok() -> bool:
    if shutil.which("qemu-system-x86_64") is None:
        return False
    try:
        import pyvirt.drivers.qemu  # noqa: F401
    except ImportError:
        return False
    return True


def _print_json(path: str) -> None:
    print(table(json.loads(Path(path).read_text())))


def run(calls: int = 2000, rounds: int = 3, clients: int = 50, seconds: float = 3.0,
        qemu: bool = True) -> dict[str, Any]:
    why = libvirtd_available()
    if why:
        raise SystemExit(f"cannot run a private libvirtd here: {why}")
    qemu = qemu and _qemu_ok()
    tmp = Path(tempfile.mkdtemp(prefix="pvb-"))     # short: QEMU socket paths live here
    uuids: set[str] = set()
    results: dict[str, Any] = {"calls": calls, "rounds": rounds, "clients": clients}
    pyd = PyvirtdProcess(tmp / "p", tcp=False).start()
    lvd = LibvirtdProcess(tmp / "l").start()
    try:
        peers = {"pyvirtd": pyd, "libvirtd": lvd}
        targets = {"test": {k: (d.uri("test", "/default", "unix") if k == "pyvirtd" else
                                d.uri("test", "/default", "unix"), "test")
                            for k, d in peers.items()}}
        holders = []
        import libvirt
        for k, (uri, _) in targets["test"].items():
            holders.append(libvirt.open(uri))     # keep test:///default's state alive
        if qemu:
            targets["qemu"] = {}
            for k, d in peers.items():
                u = str(_uuid.uuid4())
                uuids.add(u)
                uri = d.uri("qemu", "/system", "unix")
                c = libvirt.open(uri)
                dom = c.defineXML(firmware_guest(f"bench-{k}", u))
                dom.create()
                holders.append(c)
                targets["qemu"][k] = (uri, f"bench-{k}")
        # -- latency, interleaved rounds
        for drv, per in targets.items():
            for op in OPS:
                samples: dict[str, list[float]] = {k: [] for k in per}
                ratios = []
                for _ in range(rounds):
                    r = {}
                    for k, (uri, name) in per.items():
                        xs = latency(uri, name, op, calls)
                        samples[k] += xs
                        r[k] = statistics.median(xs)
                    ratios.append(r["libvirtd"] / r["pyvirtd"])
                row = {k: {"p50_us": _pct(xs, 0.5) * 1e6, "p99_us": _pct(xs, 0.99) * 1e6,
                           "calls_per_s": len(xs) / sum(xs)} for k, xs in samples.items()}
                row["ratio_libvirtd_over_pyvirtd_p50"] = statistics.median(ratios)
                results[f"{drv}/{op}"] = row
        # -- 50 concurrent clients, interleaved
        for drv, per in targets.items():
            agg: dict[str, list[float]] = {k: [] for k in per}
            for _ in range(max(1, rounds - 1)):
                for k, (uri, name) in per.items():
                    agg[k].append(concurrent(uri, name, clients, seconds))
            results[f"{drv}/concurrent{clients}"] = {
                k: {"calls_per_s": statistics.median(v)} for k, v in agg.items()}
            results[f"{drv}/concurrent{clients}"]["ratio_pyvirtd_over_libvirtd"] = \
                statistics.median(agg["pyvirtd"]) / statistics.median(agg["libvirtd"])
        # -- memory with 10 running guests each
        if qemu:
            for k, d in peers.items():
                c = libvirt.open(d.uri("qemu", "/system", "unix"))
                for i in range(9):                 # one already runs
                    u = str(_uuid.uuid4())
                    uuids.add(u)
                    c.defineXML(firmware_guest(f"mem-{k}-{i}", u)).create()
                holders.append(c)
            time.sleep(1)
            pid = {"pyvirtd": pyd.proc.pid, "libvirtd": lvd.pid}
            results["memory_10_guests_kib"] = {k: rss_kib(p) for k, p in pid.items()}
        for c in holders:
            try:
                for dom in c.listAllDomains():
                    if dom.UUIDString() in uuids:
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
            except libvirt.libvirtError:
                pass
            c.close()
    finally:
        pyd.stop()
        lvd.stop()
        kill_guests(uuids)
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def table(r: dict[str, Any]) -> str:
    lines = [f"{'row':28} {'pyvirtd p50/p99 µs':>20} {'libvirtd p50/p99 µs':>21} "
             f"{'calls/s pyvirtd':>16} {'libvirtd':>9} {'ratio':>6}"]
    for key, row in r.items():
        if not isinstance(row, dict):
            continue
        if isinstance(row.get("pyvirtd"), dict) and "p50_us" in row["pyvirtd"]:
            p, lv = row["pyvirtd"], row["libvirtd"]
            lines.append(f"{key:28} {p['p50_us']:9.0f}/{p['p99_us']:<10.0f} "
                         f"{lv['p50_us']:10.0f}/{lv['p99_us']:<10.0f} {p['calls_per_s']:16.0f} "
                         f"{lv['calls_per_s']:9.0f} {row['ratio_libvirtd_over_pyvirtd_p50']:6.2f}")
        elif "ratio_pyvirtd_over_libvirtd" in row:
            lines.append(f"{key:28} {'':20} {'':21} {row['pyvirtd']['calls_per_s']:16.0f} "
                         f"{row['libvirtd']['calls_per_s']:9.0f} "
                         f"{row['ratio_pyvirtd_over_libvirtd']:6.2f}")
        else:
            lines.append(f"{key:28} pyvirtd {row['pyvirtd'] / 1024:.1f} MiB, "
                         f"libvirtd {row['libvirtd'] / 1024:.1f} MiB")
    return "\n".join(lines)


def test_daemon_side_by_side() -> None:
    """A short run, printed (pytest -s); nothing is asserted about speed."""
    r = run(calls=300, rounds=2, clients=50, seconds=1.5)
    print("\n" + table(r))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--json", help="write the figures here too")
    a = ap.parse_args()
    r = run(a.calls, a.rounds, a.clients, a.seconds, not a.no_qemu)
    if a.json:
        Path(a.json).write_text(json.dumps(r, indent=2))
    print(table(r))


if __name__ == "__main__":
    main()
