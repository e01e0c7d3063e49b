"""The harness's vocabulary: metrics, workloads, run sizes, the run context, n/a.

A workload is set up once per target, then measured trial by trial; each trial returns,
per metric, one value (seconds per operation, or operations per second for rates) and
the individual latencies behind it (for the distributions, plots and p50/p99).  A
workload or a single metric that a target cannot do raises or reports NotApplicable
with the reason, and the table says "n/a" instead of failing the run.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..testing.guest import GuestImage
    from .targets import Target

__all__ = [
    "LATENCY",
    "RATE",
    "Context",
    "Measurement",
    "Metric",
    "NotApplicable",
    "Sizes",
    "Workload",
    "timed",
    "timed_each",
]

LATENCY = "latency"     # seconds per operation: lower is better
RATE = "rate"           # operations per second: higher is better

Measurement = dict[str, tuple[float, list[float]]]
"""metric name -> (the trial's value, the individual latencies in seconds)."""


class NotApplicable(Exception):
    """The workload (or metric) cannot run on this target; str() says why."""


@dataclasses.dataclass(frozen=True)
class Metric:
    name: str           # unique within its workload: "start"
    title: str          # what is timed, for the table: "define+start until running"
    kind: str = LATENCY


@dataclasses.dataclass(frozen=True)
class Sizes:
    """How much each trial does; --quick shrinks everything to a run of a minute or two."""

    trials: int
    warmup: int
    test_domains: int           # N for the test-driver workloads
    test_calls: int             # listAllDomains calls, create/destroy cycles per trial
    guest_calls: int            # suspend/resume, info, state round trips per trial
    qmp_calls: int
    events: int                 # suspend->callback latencies per trial
    peeks: int
    concurrent: int             # guests started at once
    rpc_calls_1: int            # calls per trial with one client
    rpc_calls_each: int         # calls per client per trial with many clients
    rpc_clients: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(trials=10, warmup=1, test_domains=1000, test_calls=100, guest_calls=20,
                   qmp_calls=100, events=10, peeks=20, concurrent=10, rpc_calls_1=1000,
                   rpc_calls_each=40, rpc_clients=50)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(trials=3, warmup=1, test_domains=200, test_calls=20, guest_calls=5,
                   qmp_calls=20, events=3, peeks=5, concurrent=3, rpc_calls_1=200,
                   rpc_calls_each=6, rpc_clients=50)


@dataclasses.dataclass
class Context:
    """What every workload may use: sizes, a private work directory, names, the guest."""

    workdir: Path
    run_id: str
    sizes: Sizes
    accel: str                  # "kvm" or "tcg": what firmware-only guests run under
    accel_note: str             # why (KVM unusable: the reason)
    event_loops: bool = True    # both libraries' default event loops registered and run
    _guest: GuestImage | None = None
    _guest_error: str | None = None
    _serial: int = 0

    def name(self, *parts: object) -> str:
        """A domain name unique to this run (processes are found and checked by it)."""
        self._serial += 1
        return "-".join([f"pvb{self.run_id}", *map(str, parts), str(self._serial)])

    def guest_image(self) -> GuestImage:
        """The test guest (built on first use, cached across runs)."""
        if self._guest is None and self._guest_error is None:
            from ..testing.guest import GuestBuildError, build_guest
            try:
                self._guest = build_guest()
            except (GuestBuildError, OSError) as exc:
                self._guest_error = f"the test guest cannot be built: {exc}"
        if self._guest is None:
            raise NotApplicable(self._guest_error or "no test guest")
        return self._guest


class Workload:
    """One measured thing; subclasses set the class attributes and the four methods."""

    name = ""                   # "guest.lifecycle"
    group = ""                  # "guest"
    title = ""                  # one line for the table and the report
    metrics: tuple[Metric, ...] = ()

    def describe(self, ctx: Context) -> str:
        """What runs (guest kind, accelerator, sizes), for the report."""
        return ""

    def check(self, target: Target, ctx: Context) -> None:
        """Raise NotApplicable when this target cannot run the workload at all."""

    def metric_na(self, metric: str, target: Target) -> str | None:
        """Why a single metric cannot be measured on the target (None: it can)."""
        return None

    def setup(self, target: Target, ctx: Context) -> Any:
        """Prepare the target; the result is passed to trial() and teardown()."""
        return None

    def settle(self, state: Any) -> None:
        """Wait until the target is quiet, once every target is set up (guests started
        together settle together)."""

    def trial(self, state: Any) -> Measurement:
        raise NotImplementedError

    def teardown(self, state: Any) -> None:
        """Undo setup(); called whatever happened, also after a failed setup's partial
        state when setup stored it (setups clean up after themselves on failure)."""


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of fn takes."""
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_each(fn: Callable[[int], object], count: int) -> tuple[float, list[float]]:
    """Call fn(i) for i in range(count), timing each call: (mean, latencies)."""
    lat = []
    clock = time.perf_counter
    for i in range(count):
        t0 = clock()
        fn(i)
        lat.append(clock() - t0)
    return sum(lat) / len(lat), lat
