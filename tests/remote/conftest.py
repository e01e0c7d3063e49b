"""Fixtures: a private pyvirtd for the remote driver to talk to, and an event loop."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import PyvirtdProcess, ensure_event_loop


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyvirtdProcess]:
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd")) as d:
        yield d


@pytest.fixture(scope="session")
def event_loop_thread() -> None:
    """pyvirt's default event loop, running (events and keepalive)."""
    ensure_event_loop()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path
