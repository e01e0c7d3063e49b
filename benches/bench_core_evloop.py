"""Event-loop dispatch cost per ready callback: the C poller vs its twin.

    .venv/bin/python -m pytest benches/bench_core_evloop.py
    PYTHONPATH=. .venv/bin/python benches/bench_core_evloop.py   # quick table, no pytest

One PollLoop.run_once() with N watches on N always-readable fds (eventfds holding a
count, never read) dispatches N callbacks; the same with N period-0 timers.  The time
per iteration divided by N is the cost of one ready callback: the epoll wait, turning
records into Python ints, the table lookup and the call of an empty callback.  The goal
for the C poller is well under 5 us per callback.
"""
from __future__ import annotations

import os
import timeit
from collections.abc import Iterator
from typing import Any

import pytest

from pyvirt import _core
from pyvirt.eventloop import PollLoop

N = 200     # below the poller's batch of 256 records per iteration


def _noop(*args: Any) -> None:
    pass


class Setup:
    """A loop with N ready watches (or N period-0 timers) on one implementation."""

    def __init__(self, impl: str, kind: str) -> None:
        self.loop = PollLoop(_core.get_impl(impl).new_poller())
        self.fds: list[int] = []
        if kind == "handles":
            for _ in range(N):
                fd = os.eventfd(1, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
                self.fds.append(fd)
                self.loop.add_handle(fd, 1, _noop)
        else:
            for _ in range(N):
                self.loop.add_timeout(0, _noop)
        assert self.loop.run_once(0) == N

    def run(self) -> int:
        return self.loop.run_once(0)

    def close(self) -> None:
        self.loop.close()
        for fd in self.fds:
            os.close(fd)


def impls() -> list[str]:
    return [n for n in ("c", "python") if n in _core.available_impls()]


@pytest.fixture(params=["handles", "timers"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=["c", "python"])
def setup(request: pytest.FixtureRequest, kind: str) -> Iterator[Setup]:
    if request.param not in _core.available_impls():
        pytest.skip(f"C core unavailable: {_core.c_unavailable_reason}")
    s = Setup(request.param, kind)
    yield s
    s.close()


def test_dispatch(benchmark: Any, setup: Setup, kind: str) -> None:
    benchmark.group = f"evloop-{kind} ({N} ready per iteration)"
    benchmark.extra_info["callbacks_per_iteration"] = N
    benchmark(setup.run)
    benchmark.extra_info["ns_per_callback"] = benchmark.stats.stats.mean / N * 1e9


def main() -> None:
    print(f"{'impl':8} {'kind':8} {'per iteration':>14} {'per callback':>13}")
    for impl in impls():
        for kind in ("handles", "timers"):
            s = Setup(impl, kind)
            try:
                n, _ = timeit.Timer(s.run).autorange()
                best = min(timeit.repeat(s.run, number=n, repeat=5)) / n
            finally:
                s.close()
            print(f"{impl:8} {kind:8} {best * 1e6:12.1f}us {best / N * 1e9:11.0f}ns")


if __name__ == "__main__":
    main()
