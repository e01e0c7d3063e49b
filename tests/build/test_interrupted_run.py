"""A test run stopped with SIGTERM (what `timeout` and CI cancels send) still stops the
daemons its fixtures started: tests/conftest.py turns SIGTERM into pytest's Ctrl+C,
whose teardown runs the fixtures' finalizers."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_INNER = '''
import time
from pathlib import Path

import pytest

from pyvirt.testing.peers import PrivatePyvirtd


@pytest.fixture
def daemon(tmp_path):
    with PrivatePyvirtd(tmp_path / "d", tcp=False) as d:
        yield d


def test_runs_until_stopped(daemon):
    Path(__file__).with_name("pid").write_text(str(daemon.pid))
    time.sleep(120)
'''


def test_sigterm_stops_what_fixtures_started(tmp_path: Path) -> None:
    tests = tmp_path / "inner"
    tests.mkdir()
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    (tests / "conftest.py").write_text(conftest)
    (tests / "test_inner.py").write_text(_INNER)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(tests), str(tests)], cwd=tests, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        pidfile = tests / "pid"
        deadline = time.monotonic() + 60
        while not pidfile.exists() or not pidfile.read_text():
            assert run.poll() is None, run.stdout.read().decode() if run.stdout else ""
            assert time.monotonic() < deadline, "the inner run did not start its daemon"
            time.sleep(0.05)
        pid = int(pidfile.read_text())
        os.kill(pid, 0)                                  # running
        run.send_signal(signal.SIGTERM)
        out, _ = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert b"KeyboardInterrupt" in out, out.decode(errors="replace")
