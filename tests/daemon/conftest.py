"""Fixtures: a private pyvirtd per test (or per module), stopped by its PID."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import PyvirtdProcess


@pytest.fixture
def pyvirtd(tmp_path: Path) -> Iterator[PyvirtdProcess]:
    """A fresh pyvirtd with its root under the test's temp dir."""
    with PyvirtdProcess(tmp_path / "pyvirtd") as d:
        yield d


@pytest.fixture(scope="module")
def shared_pyvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyvirtdProcess]:
    """One pyvirtd for a module's read-mostly tests."""
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd")) as d:
        yield d


def start_pyvirtd(root: Path, config: str | None = None, **kw: object) -> PyvirtdProcess:
    return PyvirtdProcess(root, config=config, **kw).start()  # type: ignore[arg-type]
