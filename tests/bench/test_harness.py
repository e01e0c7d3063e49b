"""pyvirt-bench: the report's structure after a --quick run, cleanup, and the pure parts.

The slow tests run the real harness as a subprocess (`python -m pyvirt.bench --quick`) on
the test driver and one guest workload, on every target this machine can run, and check
what the report contains, never what it measured.  They then check that nothing the run
started is left: no process naming the run's id, no private directory.
"""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pyvirt.bench.core import LATENCY, RATE, Metric, Workload
from pyvirt.bench.main import select_workloads
from pyvirt.bench.report import FORMAT, build_report, render_table
from pyvirt.bench.runner import Cell, WorkloadResult
from pyvirt.bench.stats import percentile, subsample, summarize, time_ratio
from tests.procs import children

REPO = Path(__file__).resolve().parents[2]
TARGETS = ["pyvirt", "pyvirtd", "libvirt", "qemu"]
WORKLOADS = ["test.define", "test.lookup_info", "guest.lifecycle"]
TRIALS = 2


# ------------------------------------------------------------------ pure parts

def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 90) == 5
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90) == pytest.approx(9.1)
    assert math.isnan(percentile([], 50))


def test_time_ratio_pairs_trials_and_inverts_rates() -> None:
    # trial-by-trial: A is twice as fast as B in every trial, whatever the drift
    assert time_ratio(LATENCY, [1, 10, 100], [2, 20, 200]) == 0.5
    # rates: A does twice B's operations per second: half the time
    assert time_ratio(RATE, [200, 2000], [100, 1000]) == 0.5
    assert time_ratio(LATENCY, [], []) is None


def test_summarize_uses_p90_for_latencies_and_p10_for_rates() -> None:
    lat = summarize(LATENCY, [1, 2, 3], [0.1, 0.2])
    assert {"n", "median", "p90", "latency_p50", "latency_p99"} <= set(lat)
    assert "p10" not in lat
    rate = summarize(RATE, [100, 200, 300], [])
    assert rate["p10"] == pytest.approx(120) and "p90" not in rate


def test_subsample_keeps_extremes_and_size() -> None:
    vals = [float(i) for i in range(10000)]
    out = subsample(vals, 100)
    assert len(out) == 100 and out[0] == 0 and out[-1] == 9999


def test_select_workloads_by_name_group_and_unknown() -> None:
    assert [w.name for w in select_workloads("test.define")] == ["test.define"]
    assert {w.group for w in select_workloads("rpc")} == {"rpc"}
    assert len(select_workloads("all")) == len(select_workloads(""))
    with pytest.raises(SystemExit, match="unknown workload"):
        select_workloads("nonsense")


def test_table_lists_every_metric_with_na_reasons() -> None:
    class W(Workload):
        name, group, title = "x.y", "x", "a workload"
        metrics = (Metric("lat", "a latency"), Metric("ops", "a rate", RATE))

    cells = {"lat": {"pyvirt": Cell(values=[1e-3, 2e-3], dist=[1e-3]),
                     "libvirt": Cell(values=[2e-3, 4e-3]),
                     "qemu": Cell("n/a", "no such thing")},
             "ops": {"pyvirt": Cell(values=[100.0, 200.0], dist=[0.01, 0.005]),
                     "libvirt": Cell("failed", "boom")}}
    machine = {"date": "d", "cpu": "c", "cores": 2, "kernel": "k", "qemu": "7.2", "libvirt": "9",
               "pyvirt": "0", "pyvirt_core": "c", "accel": "kvm", "accel_note": "",
               "load_before": [1.0], "load_after": [2.0]}
    config = {"targets": ["pyvirt", "libvirt", "qemu"], "trials": 2, "warmup": 1}
    report = build_report(machine, config, {}, [WorkloadResult(W(), "desc", cells, 1.0)])
    assert report["format"] == FORMAT
    (lat, ops) = report["workloads"][0]["metrics"]
    assert lat["ratios"] == [{"a": "pyvirt", "b": "libvirt", "time_ratio": 0.5}]
    assert ops["results"]["libvirt"] == {"status": "failed", "why": "boom"}
    table = render_table(report)
    assert report["machine_line"] in table
    assert "n/a qemu: no such thing [x.y]" in table and "failed libvirt: boom [x.y]" in table
    assert "latency p50 / p99" in table
    assert render_table(report, markdown=True).count("\n| ") >= 3


# ------------------------------------------------------------------ the real harness

def _processes_naming(*needles: str) -> list[tuple[int, str]]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        if any(n in cmd for n in needles):
            found.append((int(entry), cmd[:200]))
    return found


def _qemu_children(ppid: int) -> list[int]:
    return [c.pid for c in children(ppid)
            if c.comm.startswith(b"qemu-system") and b"guest=pvb" in c.cmdline]


def _bench(out: Path, *extra: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    return subprocess.Popen([sys.executable, "-m", "pyvirt.bench", "--out", str(out), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(REPO), start_new_session=True)


def _assert_cleaned_up(report: dict[str, Any]) -> None:
    run_id = report["config"]["run_id"]
    # every daemon, guest and work directory of the run carries the run id
    deadline = time.monotonic() + 10      # this machine's PID 1 reaps orphans slowly
    while (left := _processes_naming(f"pvb{run_id}", f"pyvirt-bench-{run_id}")) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, f"processes of run {run_id} left running: {left}"
    assert not list(Path("/tmp").glob(f"pyvirt-bench-{run_id}-*"))


def _check_cell(cell: dict[str, Any], kind: str) -> None:
    assert cell["status"] in ("ok", "n/a", "failed")
    if cell["status"] != "ok":
        assert cell["why"]
        return
    assert len(cell["values"]) == TRIALS and cell["n"] == TRIALS
    assert all(v > 0 for v in cell["values"])
    assert "median" in cell and ("p10" if kind == RATE else "p90") in cell
    assert isinstance(cell["latencies"], list)


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.timeout(900)
def test_quick_run_report_structure(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _bench(out, "--quick", "--trials", str(TRIALS), "--warmup", "1",
                  "--targets", ",".join(TARGETS), "--workloads", ",".join(WORKLOADS))
    try:
        stdout, stderr = proc.communicate(timeout=840)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    _assert_cleaned_up(report)

    assert report["format"] == FORMAT
    m = report["machine"]
    for key in ("date", "cpu", "cores", "kernel", "qemu", "libvirt", "accel", "load_before",
                "load_after"):
        assert key in m, key
    assert m["accel"] in ("kvm", "tcg") and len(m["load_after"]) == 3
    assert report["machine_line"].startswith(m["date"])
    assert report["config"]["targets"] == TARGETS and report["config"]["trials"] == TRIALS
    assert set(report["targets"]) == set(TARGETS)
    assert [w["name"] for w in report["workloads"]] == WORKLOADS

    by_name = {w["name"]: w for w in report["workloads"]}
    for w in report["workloads"]:
        assert w["description"] and w["metrics"]
        for metric in w["metrics"]:
            assert metric["kind"] in (LATENCY, RATE)
            assert set(metric["results"]) == set(TARGETS)
            for cell in metric["results"].values():
                _check_cell(cell, metric["kind"])
            ok = {t for t, c in metric["results"].items() if c["status"] == "ok"}
            for r in metric["ratios"]:
                assert {r["a"], r["b"]} <= ok and r["time_ratio"] > 0
    # what must work wherever the tests run: pyvirt's test driver; raw QEMU has none
    define = by_name["test.define"]["metrics"][0]["results"]
    assert define["pyvirt"]["status"] == "ok"
    assert define["qemu"]["status"] == "n/a"
    life = {mm["name"]: mm for mm in by_name["guest.lifecycle"]["metrics"]}
    assert set(life) == {"start", "destroy"}
    assert life["start"]["results"]["qemu"]["status"] == "ok"   # the floor always runs

    table = (out / "table.txt").read_text()
    assert table == stdout
    assert report["machine_line"] in table
    assert all(w in table for w in WORKLOADS)
    assert (out / "table.md").read_text().startswith(f"**{report['machine_line']}**")
    for w in WORKLOADS:
        png = out / "plots" / f"{w}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.timeout(300)
def test_sigterm_mid_run_stops_everything(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _bench(out, "--quick", "--trials", "1000", "--targets", "pyvirt,libvirt,qemu",
                  "--workloads", "guest.ops", "--no-plots")
    try:
        # wait until the run has its guests up (the embedded target's QEMU is its child)
        deadline = time.monotonic() + 180
        while not _qemu_children(proc.pid):
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "the run never started a guest"
            time.sleep(0.2)
        time.sleep(2)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    assert report["config"]["interrupted"] is True
    _assert_cleaned_up(report)
