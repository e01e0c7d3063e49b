"""The run loop: set up each target, warm up, then trials interleaved target by target.

For one workload: setup on every target (a target that cannot do it is n/a, with the
reason), `warmup` discarded trials per target, then trial 1 on A, trial 1 on B, ...,
trial 2 on A, trial 2 on B, ... (A B A B), so every target sees the same minutes of a
machine whose speed drifts, and trial i of A can be paired with trial i of B.  A trial
that raises marks that target's metrics "failed" (with the error) and the run goes on.
Teardown runs on every target that was set up, whatever happened.
"""
from __future__ import annotations

import dataclasses
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, TextIO

from .core import Context, NotApplicable, Workload
from .targets import Target

__all__ = ["Cell", "Progress", "WorkloadResult", "run_workload"]


@dataclasses.dataclass
class Cell:
    """One metric on one target: its trial values and the latencies behind them."""

    status: str = "ok"                                  # "ok", "n/a" or "failed"
    why: str = ""
    values: list[float] = dataclasses.field(default_factory=list)
    dist: list[float] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class WorkloadResult:
    workload: Workload
    description: str
    cells: dict[str, dict[str, Cell]]                   # metric -> target -> cell
    seconds: float


class Progress:
    """A one-line progress bar on stderr (a line per workload when it is not a tty)."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.t0 = time.monotonic()
        self.label = ""

    def discount(self, steps: int) -> None:
        """Steps that will not run after all (a target was n/a)."""
        self.total = max(self.total - steps, self.done, 1)
        self._draw()

    def step(self, label: str) -> None:
        head = label.split(" · ")[0]
        if not self.tty and head != self.label.split(" · ")[0]:
            el = int(time.monotonic() - self.t0)
            self.stream.write(f"[{el // 60}:{el % 60:02d} {self.done}/{self.total}] {head}\n")
            self.stream.flush()
        self.label = label
        self._draw()

    def advance(self) -> None:
        self.done += 1
        self._draw()

    def note(self, text: str) -> None:
        """A line of its own above the bar."""
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self._draw()

    def _draw(self) -> None:
        if not self.tty:
            return
        frac = min(self.done / self.total, 1.0)
        width = 24
        full = int(frac * width)
        el = int(time.monotonic() - self.t0)
        bar = "#" * full + "." * (width - full)
        line = (f"[{bar}] {frac * 100:3.0f}% {self.done}/{self.total} "
                f"{el // 60}:{el % 60:02d}  {self.label}")
        self.stream.write("\r\x1b[K" + line[:118])
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _error(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(exc).__name__}: {exc}"[:400] + where


def run_workload(wl: Workload, targets: Sequence[Target], ctx: Context,
                 progress: Progress) -> WorkloadResult:
    """Measure one workload on every target, interleaved; see the module docstring."""
    t_start = time.monotonic()
    sizes = ctx.sizes
    per_target = sizes.warmup + sizes.trials
    cells: dict[str, dict[str, Cell]] = {m.name: {} for m in wl.metrics}
    states: dict[str, Any] = {}
    active: list[Target] = []

    def mark(t: Target, status: str, why: str) -> None:
        for m in wl.metrics:
            c = cells[m.name].setdefault(t.name, Cell())
            if c.status == "ok":
                c.status, c.why = status, why

    for t in targets:
        progress.step(f"{wl.name} · {t.name} · setting up")
        try:
            why = t.status()
            if why:
                raise NotApplicable(why)
            wl.check(t, ctx)
            states[t.name] = wl.setup(t, ctx)
            active.append(t)
        except NotApplicable as exc:
            mark(t, "n/a", str(exc))
            progress.discount(per_target)
        except Exception as exc:  # noqa: BLE001 - reported in the table, run goes on
            mark(t, "failed", f"setup: {_error(exc)}")
            progress.note(f"{wl.name} on {t.name}: setup failed: {_error(exc)}")
            progress.discount(per_target)
    for t in list(active):
        progress.step(f"{wl.name} · {t.name} · settling")
        try:
            wl.settle(states[t.name])
        except Exception as exc:  # noqa: BLE001 - reported in the table, run goes on
            mark(t, "failed", f"setup: {_error(exc)}")
            active.remove(t)
            progress.discount(per_target)
    for t in active:
        for m in wl.metrics:
            cell = cells[m.name].setdefault(t.name, Cell())
            why = wl.metric_na(m.name, t)
            if why:
                cell.status, cell.why = "n/a", why

    try:
        for rnd in range(per_target):
            warm = rnd < sizes.warmup
            for t in list(active):
                what = "warm-up" if warm else f"trial {rnd - sizes.warmup + 1}/{sizes.trials}"
                progress.step(f"{wl.name} · {t.name} · {what}")
                try:
                    meas = wl.trial(states[t.name])
                except NotApplicable as exc:
                    mark(t, "n/a", str(exc))
                    active.remove(t)
                    progress.discount(per_target - rnd)
                    continue
                except Exception as exc:  # noqa: BLE001 - reported, the others go on
                    mark(t, "failed", _error(exc))
                    progress.note(f"{wl.name} on {t.name}: {_error(exc)}")
                    active.remove(t)
                    progress.discount(per_target - rnd)
                    continue
                progress.advance()
                if warm:
                    continue
                for name, (value, dist) in meas.items():
                    cell = cells[name][t.name]
                    if cell.status == "ok":
                        cell.values.append(value)
                        cell.dist.extend(dist)
    finally:
        for name, state in states.items():
            progress.step(f"{wl.name} · {name} · cleaning up")
            try:
                wl.teardown(state)
            except Exception as exc:  # noqa: BLE001 - cleanup problems are reported
                progress.note(f"{wl.name} on {name}: teardown: {_error(exc)}")
    return WorkloadResult(wl, wl.describe(ctx), cells, time.monotonic() - t_start)
