"""Helpers shared by the C core tests (imported by name: tests/core is on sys.path).

With PYVIRT_IMPL set (CI runs the suite once per value) only that implementation is
tested; unset, every importable one is, so one pytest run covers C and twin.  A C
parameter that cannot run is skipped with the reason pyvirt._core recorded.
"""
from __future__ import annotations

import gc
import os

import pytest
from hypothesis import HealthCheck, settings

from pyvirt import _core

# Applied per test (not as a global profile, which would change other suites too).
CORE_SETTINGS = settings(
    deadline=None, max_examples=int(os.environ.get("PYVIRT_CORE_EXAMPLES", "150")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture])


def impls_in_play() -> list[str]:
    """The implementation names this run tests."""
    env = os.environ.get(_core.IMPL_ENV, "").strip().lower()
    return [env] if env else ["c", "python"]


def impl_param(name: str) -> object:
    if name not in _core.available_impls():
        return pytest.param(name, marks=pytest.mark.skip(
            reason=f"C core unavailable: {_core.c_unavailable_reason}"))
    return name


IMPL_PARAMS = [impl_param(n) for n in impls_in_play()]


def open_fds() -> set[int]:
    gc.collect()
    return {int(n) for n in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{n}")}
