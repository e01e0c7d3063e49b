"""Fixtures: a private pyvirtd for the remote driver to talk to, and an event loop."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt import eventloop
from tests.interop.peers import PyvirtdProcess


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyvirtdProcess]:
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd")) as d:
        yield d


@pytest.fixture(scope="session")
def event_loop_thread() -> Iterator[None]:
    """pyvirt's default event loop, run on a daemon thread (events and keepalive)."""
    eventloop.register_default_impl()
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            loop = eventloop.default_loop()
            if loop is None:
                return
            loop.run_once(200)

    t = threading.Thread(target=run, name="test-event-loop", daemon=True)
    t.start()
    yield
    stop.set()
    eventloop.interrupt()
    t.join(5)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path
