"""PNG plots of the latency distributions: one file per workload, one panel per metric.

Each panel shows, per target, a box (quartiles, whiskers at the 5th and 95th
percentiles) over the individual latencies with the points themselves scattered on top;
for rate metrics the latencies are those of the single calls.  matplotlib runs on the
Agg backend (no display needed); without matplotlib the plots are skipped, with a note.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from .core import LATENCY
from .targets import TARGETS

__all__ = ["plots_unavailable", "write_plots"]

_COLORS = {"pyvirt": "#1f77b4", "pyvirtd": "#17becf", "libvirt": "#d62728", "qemu": "#7f7f7f"}


def plots_unavailable() -> str | None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return "matplotlib is not installed (pip install 'pyvirt[bench]')"
    return None


def _unit(values: list[float]) -> tuple[str, float]:
    v = min(values)
    if v < 1e-3:
        return "µs", 1e6
    if v < 1.0:
        return "ms", 1e3
    return "s", 1.0


def write_plots(report: dict[str, Any], out: Path) -> list[Path]:
    """Write out/<workload>.png for every workload with data; returns the paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    out.mkdir(parents=True, exist_ok=True)
    written = []
    rng = random.Random(0)          # the same jitter every run: plots stay comparable
    for wl in report["workloads"]:
        panels = []
        for m in wl["metrics"]:
            series = [(t, m["results"][t]["latencies"]) for t in TARGETS
                      if m["results"].get(t, {}).get("latencies")]
            if series:
                panels.append((m, series))
        if not panels:
            continue
        fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 0.6, 4.2),
                                 squeeze=False)
        for ax, (m, series) in zip(axes[0], panels):
            unit, k = _unit([min(v) for _, v in series])
            data = [[x * k for x in v] for _, v in series]
            labels = [t for t, _ in series]
            box = ax.boxplot(data, whis=(5, 95), showfliers=False, patch_artist=True,
                             medianprops={"color": "black"})
            ax.set_xticks(range(1, len(labels) + 1), labels)
            for patch, t in zip(box["boxes"], labels):
                patch.set_facecolor(_COLORS.get(t, "#cccccc"))
                patch.set_alpha(0.35)
            for i, vals in enumerate(data, start=1):
                xs = [i + rng.uniform(-0.18, 0.18) for _ in vals]
                ax.scatter(xs, vals, s=5, alpha=0.45, color=_COLORS.get(labels[i - 1], "k"),
                           linewidths=0)
            lo = min(min(v) for v in data)
            hi = max(max(v) for v in data)
            if lo > 0 and hi / lo > 30:
                ax.set_yscale("log")
                plain = FuncFormatter(lambda v, _: f"{v:g}")   # 20, not 2x10^1
                ax.yaxis.set_major_formatter(plain)
                ax.yaxis.set_minor_formatter(plain)
            what = m["title"] if m["kind"] == LATENCY else f"{m['name']}: latency per call"
            ax.set_title(what, fontsize=9)
            ax.set_ylabel(unit)
            ax.grid(axis="y", alpha=0.3)
        fig.suptitle(f"{wl['name']} — {wl['title']}", fontsize=10)
        fig.text(0.01, 0.01, report["machine_line"], fontsize=6, color="#555555")
        fig.tight_layout(rect=(0, 0.04, 1, 0.95))
        path = out / f"{wl['name']}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written
