"""Statistics: percentiles, one summary per metric and target, ratios of paired trials.

Latencies are summarised by their median and 90th percentile over the trials; rates by
their median and the pessimistic 10th percentile (the rate nine trials in ten beat).
A ratio between two targets is computed trial by trial (trial i of A against trial i of
B, which ran next to each other) and the median of those ratios is reported: on a
machine whose speed drifts from minute to minute, neighbours in time share the drift and
the ratio cancels it, where a ratio of two medians would not.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .core import LATENCY, RATE

__all__ = ["percentile", "subsample", "summarize", "time_ratio"]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return math.nan
    s = sorted(values)
    if len(s) == 1:
        return float(s[0])
    pos = (len(s) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return float(s[lo] + (s[hi] - s[lo]) * (pos - lo))


def summarize(kind: str, values: Sequence[float], dist: Sequence[float]) -> dict[str, Any]:
    """median and p90 (latency) or p10 (rate) over the trial values; p50/p99 of the
    individual latencies behind them."""
    out: dict[str, Any] = {"n": len(values), "median": percentile(values, 50)}
    if kind == RATE:
        out["p10"] = percentile(values, 10)
    else:
        out["p90"] = percentile(values, 90)
    if values:
        out["min"] = min(values)
        out["max"] = max(values)
    if dist:
        out["latency_p50"] = percentile(dist, 50)
        out["latency_p99"] = percentile(dist, 99)
        out["latency_n"] = len(dist)
    return out


def time_ratio(kind: str, a: Sequence[float], b: Sequence[float]) -> float | None:
    """Median over paired trials of A's time divided by B's (for rates: B's rate
    divided by A's, the same thing): below 1, A is faster."""
    pairs = [(x, y) for x, y in zip(a, b) if x > 0 and y > 0]
    if not pairs:
        return None
    if kind == LATENCY:
        ratios = [x / y for x, y in pairs]
    else:
        ratios = [y / x for x, y in pairs]
    return percentile(ratios, 50)


def subsample(values: Sequence[float], limit: int) -> list[float]:
    """At most `limit` values, evenly spaced over the sorted list (the distribution's
    shape is kept; for the JSON file and the plots)."""
    if len(values) <= limit:
        return list(values)
    s = sorted(values)
    step = (len(s) - 1) / (limit - 1)
    return [s[round(i * step)] for i in range(limit)]
