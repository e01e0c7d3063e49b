"""Long operations show progress: save/managedsave poll the job while the call runs in a
thread (virsh's virshWatchJob), driven here by a stand-in domain whose job advances only
when the test lets it, so nothing depends on timing."""
from __future__ import annotations

import io
import threading
from dataclasses import dataclass

import pytest

from pyvirt.cli import cmd_domsave
from pyvirt.cli.cmd_domsave import watch_job
from pyvirt.cli.control import Control
from pyvirt.errors import libvirtError


@dataclass
class Job:
    data_total: int
    data_remaining: int


class SlowDomain:
    """save() blocks until `steps` progress reports have been read by the watcher."""

    def __init__(self, steps: list[int], total: int = 1000) -> None:
        self.steps, self.total = list(steps), total
        self.polled = threading.Semaphore(0)
        self.remaining = total

    def job_info(self) -> Job:
        if self.steps:
            self.remaining = self.steps.pop(0)
        self.polled.release()
        return Job(self.total, self.remaining)

    def save(self) -> None:
        for _ in range(len(self.steps)):
            assert self.polled.acquire(timeout=60)


@pytest.fixture(autouse=True)
def fast_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_domsave, "POLL_SECONDS", 0.01)


def ctl() -> Control:
    return Control(stdout=io.StringIO(), stderr=io.StringIO())


def test_progress_is_shown_while_the_job_runs() -> None:
    c, dom = ctl(), SlowDomain([1000, 750, 500, 1])
    assert watch_job(c, dom, True, "Save", dom.save) is None  # type: ignore[arg-type]
    shown = c.err.getvalue()  # type: ignore[attr-defined]
    steps = shown.split("\r")[1:]
    # 0, 25, 50, 99 % as the job advanced (repeats while it stalls), then 100 % at the end
    assert steps[-1] == "Save: [100 %]"
    for expected in ("Save: [  0 %]", "Save: [ 25 %]", "Save: [ 50 %]", "Save: [ 99 %]"):
        assert expected in steps
    assert steps.index("Save: [ 25 %]") < steps.index("Save: [ 50 %]")


def test_no_progress_without_verbose() -> None:
    c, dom = ctl(), SlowDomain([1000, 500])
    assert watch_job(c, dom, False, "Save", dom.save) is None  # type: ignore[arg-type]
    assert c.err.getvalue() == ""  # type: ignore[attr-defined]


def test_failure_is_returned_and_no_100_percent() -> None:
    c = ctl()
    err = libvirtError("boom")

    class Failing(SlowDomain):
        def save(self) -> None:
            raise err

    dom = Failing([])
    assert watch_job(c, dom, True, "Save", dom.save) is err  # type: ignore[arg-type]
    assert "100 %" not in c.err.getvalue()  # type: ignore[attr-defined]
