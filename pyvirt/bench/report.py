"""The report: the JSON document, and the side-by-side table (terminal text, Markdown).

Cells are "median / p90" of the trial values (rates: "median / p10", the pessimistic
tenth percentile); RPC rows add the p50 / p99 latency of every call.  Ratio columns are
time ratios from paired trials (stats.time_ratio): "pyvirt÷libvirt 0.25" means pyvirt
took a quarter of libvirt's time.  Reasons for n/a and failures are listed under the table.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .core import LATENCY, RATE
from .machine import machine_line
from .runner import WorkloadResult
from .stats import subsample, summarize, time_ratio
from .targets import TARGETS

__all__ = ["FORMAT", "RATIO_PAIRS", "build_report", "render_table"]

FORMAT = "pyvirt-bench/1"
# the ratio columns shown, when both targets were selected (the JSON has every pair)
RATIO_PAIRS = (("pyvirt", "libvirt"), ("pyvirtd", "libvirt"), ("libvirt", "qemu"),
               ("pyvirt", "qemu"))
_DIST_LIMIT = 2000


def build_report(machine: dict[str, Any], config: dict[str, Any],
                 targets: dict[str, dict[str, Any]], results: Sequence[WorkloadResult]
                 ) -> dict[str, Any]:
    """The whole run as one JSON-able document."""
    workloads = []
    for res in results:
        wl = res.workload
        metrics = []
        for m in wl.metrics:
            per = res.cells[m.name]
            cells: dict[str, Any] = {}
            for tname, cell in per.items():
                entry: dict[str, Any] = {"status": cell.status}
                if cell.why:
                    entry["why"] = cell.why
                if cell.values:
                    entry["values"] = cell.values
                    entry.update(summarize(m.kind, cell.values, cell.dist))
                    entry["latencies"] = subsample(cell.dist, _DIST_LIMIT)
                cells[tname] = entry
            ratios = []
            names = [t for t in TARGETS if per.get(t) and per[t].status == "ok"
                     and per[t].values]
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    r = time_ratio(m.kind, per[a].values, per[b].values)
                    if r is not None:
                        ratios.append({"a": a, "b": b, "time_ratio": r})
            metrics.append({"name": m.name, "title": m.title, "kind": m.kind,
                            "unit": "s" if m.kind == LATENCY else "1/s",
                            "results": cells, "ratios": ratios})
        workloads.append({"name": wl.name, "group": wl.group, "title": wl.title,
                          "description": res.description, "seconds": round(res.seconds, 2),
                          "metrics": metrics})
    return {"format": FORMAT, "machine": machine, "machine_line": machine_line(machine),
            "config": config, "targets": targets, "workloads": workloads}


def _unit(kind: str, values: list[float]) -> tuple[str, float]:
    """A display unit for a row and the factor to convert into it."""
    if not values:
        return "", 1.0
    v = min(values)
    if kind == RATE:
        if v >= 1e6:
            return "M/s", 1e-6
        if v >= 1e3:
            return "k/s", 1e-3
        return "/s", 1.0
    if v < 1e-3:
        return "µs", 1e6
    if v < 1.0:
        return "ms", 1e3
    return "s", 1.0


def _num(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "?"
    a = abs(v)
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _rows(report: dict[str, Any], shown: list[str]) -> tuple[list[str], list[list[str]],
                                                             list[str]]:
    pairs = [(a, b) for a, b in RATIO_PAIRS if a in shown and b in shown]
    header = ["workload", "metric", "unit", *shown, *(f"{a}÷{b}" for a, b in pairs)]
    rows: list[list[str]] = []
    reasons: dict[tuple[str, str, str], list[str]] = {}
    for wl in report["workloads"]:
        for m in wl["metrics"]:
            res = m["results"]
            meds = [res[t]["median"] for t in shown if t in res and "median" in res[t]]
            unit, k = _unit(m["kind"], meds)
            spread = "p10" if m["kind"] == RATE else "p90"
            row = [wl["name"], m["name"], unit]
            for t in shown:
                c = res.get(t, {})
                if c.get("status") == "ok" and "median" in c:
                    row.append(f"{_num(c['median'] * k)} / {_num(c[spread] * k)}")
                else:
                    status = c.get("status", "n/a")
                    row.append(status)
                    if c.get("why"):
                        reasons.setdefault((status, t, c["why"]), []).append(
                            f"{wl['name']}:{m['name']}")
            ratio = {(r["a"], r["b"]): r["time_ratio"] for r in m["ratios"]}
            row += [_num(ratio[p]) if p in ratio else "" for p in pairs]
            rows.append(row)
            if m["kind"] == RATE and any("latency_p50" in res.get(t, {}) for t in shown):
                lats = [res[t]["latency_p50"] for t in shown if "latency_p50" in res.get(t, {})]
                lunit, lk = _unit(LATENCY, lats)
                lrow = ["", "└ latency p50 / p99", lunit]
                for t in shown:
                    c = res.get(t, {})
                    lrow.append(f"{_num(c['latency_p50'] * lk)} / {_num(c['latency_p99'] * lk)}"
                                if "latency_p50" in c else "")
                lrow += [""] * len(pairs)
                rows.append(lrow)
    notes = []
    for (status, t, why), where in reasons.items():
        groups = sorted({w.split(":")[0] for w in where})
        notes.append(f"{status} {t}: {why} [{', '.join(groups)}]")
    return header, rows, notes


def render_table(report: dict[str, Any], markdown: bool = False) -> str:
    """The side-by-side table, headed by the machine line, n/a reasons below."""
    shown = [t for t in TARGETS if t in report["config"]["targets"]]
    header, rows, notes = _rows(report, shown)
    cfg = report["config"]
    legend = (f"cells: median / p90 over {cfg['trials']} trials after {cfg['warmup']} warm-up "
              f"(rates: median / p10); A÷B: A's time over B's, median of paired trials "
              f"(< 1: A is faster){' · quick run' if cfg.get('quick') else ''}")
    lines = []
    if markdown:
        lines += [f"**{report['machine_line']}**", "", legend, "",
                  "| " + " | ".join(header) + " |",
                  "|" + "|".join("---" if i < 2 else "---:" for i in range(len(header))) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
        if notes:
            lines += [""] + [f"- {n}" for n in notes]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 3 else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    lines += [report["machine_line"], legend, "", fmt(header),
              "  ".join("-" * w for w in widths)]
    lines += [fmt(r) for r in rows]
    if notes:
        lines += [""] + notes
    return "\n".join(lines) + "\n"
