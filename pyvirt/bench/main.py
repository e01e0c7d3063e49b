"""pyvirt-bench's command line: pick targets and workloads, run them, write the report.

    pyvirt-bench [--quick] [--targets pyvirt,pyvirtd,libvirt,qemu] [--workloads test,guest]
                 [--trials N] [--warmup N] [--accel auto|kvm|tcg] [--out DIR] [--no-plots]
    pyvirt-bench --list

Writes DIR/report.json, DIR/table.txt, DIR/table.md and DIR/plots/<workload>.png; prints
the table on stdout and a progress bar on stderr.  Private daemons and guests live in a
temp directory removed at the end; every process the run started is stopped by its PID,
also on Ctrl+C or SIGTERM (the partial report is still written).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from . import wl_guest, wl_monitor, wl_rpc, wl_test
from .core import Context, Sizes, Workload
from .machine import choose_accel, describe, load_average
from .report import build_report, render_table
from .runner import Progress, WorkloadResult, run_workload
from .targets import TARGETS, Target, make_target

__all__ = ["all_workloads", "main", "select_workloads"]


def all_workloads() -> list[Workload]:
    return [*wl_test.WORKLOADS, *wl_guest.WORKLOADS, *wl_monitor.WORKLOADS, *wl_rpc.WORKLOADS]


def select_workloads(spec: str) -> list[Workload]:
    """Workloads named by a comma list of names, groups ("guest") or "all", in the
    harness's order."""
    every = all_workloads()
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens or "all" in tokens:
        return every
    chosen = set()
    for tok in tokens:
        hits = [w.name for w in every
                if tok in (w.name, w.group) or w.name.startswith(tok + ".")]
        if not hits:
            names = ", ".join(sorted({w.group for w in every} | {w.name for w in every}))
            raise SystemExit(f"pyvirt-bench: unknown workload {tok!r}; known: {names}")
        chosen.update(hits)
    return [w for w in every if w.name in chosen]


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="pyvirt-bench",
        description="pyvirt against libvirt and raw QEMU, side by side, in one run.")
    ap.add_argument("--targets", default=",".join(TARGETS),
                    help=f"comma list of {', '.join(TARGETS)} (default: all)")
    ap.add_argument("--workloads", default="all",
                    help="comma list of workload names or groups (see --list; default: all)")
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and 3 trials: a run of a minute or two")
    ap.add_argument("--trials", type=int, help="measured trials per target (default 10, "
                    "quick 3)")
    ap.add_argument("--warmup", type=int, help="discarded trials per target first (default 1)")
    ap.add_argument("--accel", choices=("auto", "kvm", "tcg"), default="auto",
                    help="for firmware-only guests (default: KVM when usable)")
    ap.add_argument("--out", type=Path, help="output directory (default "
                    "bench-results/YYYYmmdd-HHMMSS)")
    ap.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    ap.add_argument("--no-event-loops", action="store_true",
                    help="do not register libvirt's and pyvirt's default event loops (as an "
                    "application without event callbacks; events.lifecycle becomes n/a)")
    ap.add_argument("--strict", action="store_true",
                    help="exit with status 1 when any measurement failed")
    ap.add_argument("--list", action="store_true", help="list the workloads and exit")
    return ap


def _start_event_loops() -> None:
    """Register and run the default event loop of both libraries, before any connection
    is opened (libvirt delivers events and keepalives only on connections opened after)."""
    import pyvirt

    def run(step: Any) -> None:
        while True:
            step()

    loops: list[ModuleType] = [pyvirt]
    with contextlib.suppress(ImportError):
        loops.append(importlib.import_module("libvirt"))
    for mod in loops:
        mod.virEventRegisterDefaultImpl()
        threading.Thread(target=run, args=(mod.virEventRunDefaultImpl,), daemon=True,
                         name=f"{mod.__name__}-events").start()


def _quiet_libvirt() -> None:
    """Errors arrive as exceptions; libvirt's default handler would also print them
    over the progress bar."""
    with contextlib.suppress(ImportError):
        importlib.import_module("libvirt").registerErrorHandler(lambda ctx, err: None, None)


def _interrupt_on_signals() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl+C, so that every finally stops its process."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)


def _targets_info(targets: Sequence[Target]) -> dict[str, dict[str, Any]]:
    out = {}
    for t in targets:
        why = t.status()
        out[t.name] = {"title": t.title, "available": why is None,
                       **({"why": why} if why else {}), "versions": t.versions()}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.list:
        for w in all_workloads():
            print(f"{w.name:22} {w.group:7} {w.title}: "
                  f"{', '.join(m.name for m in w.metrics)}")
        return 0
    names = [t.strip() for t in args.targets.split(",") if t.strip()]
    bad = [t for t in names if t not in TARGETS]
    if bad or not names:
        raise SystemExit(f"pyvirt-bench: unknown target(s) {bad}; known: {', '.join(TARGETS)}")
    names = [t for t in TARGETS if t in names]
    workloads = select_workloads(args.workloads)
    sizes = Sizes.quick() if args.quick else Sizes.full()
    if args.trials is not None or args.warmup is not None:
        sizes = dataclasses.replace(
            sizes, trials=max(1, args.trials if args.trials is not None else sizes.trials),
            warmup=max(0, args.warmup if args.warmup is not None else sizes.warmup))
    out: Path = args.out or Path("bench-results") / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)

    accel, accel_note = choose_accel(args.accel)
    machine = describe(accel, accel_note)
    run_id = secrets.token_hex(3)
    # under /tmp, not --out: unix socket paths must stay short (sockaddr_un: 107 bytes)
    workdir = Path(tempfile.mkdtemp(prefix=f"pyvirt-bench-{run_id}-"))
    ctx = Context(workdir=workdir, run_id=run_id, sizes=sizes, accel=accel,
                  accel_note=accel_note, event_loops=not args.no_event_loops)
    config = {"targets": names, "workloads": [w.name for w in workloads],
              "trials": sizes.trials, "warmup": sizes.warmup, "quick": args.quick,
              "sizes": dataclasses.asdict(sizes), "accel": accel, "run_id": run_id,
              "out": str(out), "event_loops": ctx.event_loops, "interrupted": False}
    _interrupt_on_signals()
    _quiet_libvirt()
    if ctx.event_loops:
        _start_event_loops()

    targets = [make_target(n, ctx) for n in names]
    progress = Progress(len(workloads) * len(targets) * (sizes.warmup + sizes.trials))
    results: list[WorkloadResult] = []
    t0 = time.monotonic()
    try:
        for wl in workloads:
            results.append(run_workload(wl, targets, ctx, progress))
    except KeyboardInterrupt:
        config["interrupted"] = True
        progress.note("interrupted: stopping every process this run started")
    finally:
        progress.step("stopping daemons and guests")
        for t in targets:
            try:
                t.close()
            except Exception as exc:  # noqa: BLE001 - report and go on stopping the rest
                progress.note(f"closing {t.name}: {exc}")
        progress.close()
        shutil.rmtree(workdir, ignore_errors=True)
    config["seconds"] = round(time.monotonic() - t0, 1)
    machine["load_after"] = load_average()

    report = build_report(machine, config, _targets_info(targets), results)
    (out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    table = render_table(report)
    (out / "table.txt").write_text(table)
    (out / "table.md").write_text(render_table(report, markdown=True))
    sys.stdout.write(table)
    if not args.no_plots:
        from .plots import plots_unavailable, write_plots
        why = plots_unavailable()
        if why:
            print(f"plots skipped: {why}", file=sys.stderr)
        else:
            write_plots(report, out / "plots")
    print(f"\nreport: {out / 'report.json'} (table.txt, table.md, plots/) "
          f"in {config['seconds']} s", file=sys.stderr)
    if config["interrupted"]:
        return 130
    failed = any(c.get("status") == "failed" for w in report["workloads"]
                 for m in w["metrics"] for c in m["results"].values())
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
