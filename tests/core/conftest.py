"""Fixtures for the C core tests: each test runs on every implementation in play."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from coretest import IMPL_PARAMS, open_fds

from pyvirt import _core


@pytest.fixture(params=IMPL_PARAMS)
def impl(request: pytest.FixtureRequest) -> _core.Impl:
    """Each implementation in play ("c" and/or "python")."""
    return _core.get_impl(request.param)


@pytest.fixture
def both() -> tuple[_core.Impl, _core.Impl]:
    """(C, twin), for differential tests; skipped unless both can run."""
    if "c" not in _core.available_impls():
        pytest.skip(f"differential test needs the C core: {_core.c_unavailable_reason}")
    return _core.get_impl("c"), _core.get_impl("python")


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    """Fail the test if it leaves file descriptors open."""
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, {fd: os.readlink(f"/proc/self/fd/{fd}") for fd in leaked}
