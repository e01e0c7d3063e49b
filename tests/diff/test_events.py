"""Differential test of lifecycle events: libvirt-python and pyvirt deliver the same
events (numbers, details, domains, order per transition) through the default loop."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("libvirt")
pytestmark = pytest.mark.interop

SCRIPT = Path(__file__).with_name("events_script.py")
ROOT = Path(__file__).resolve().parents[2]


def _run(which: str) -> list[object]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, str(SCRIPT), which], capture_output=True, text=True,
                       timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_events_same_as_libvirt() -> None:
    theirs = _run("libvirt")
    ours = _run("pyvirt")
    for want, got in zip(theirs, ours):
        assert got == want
    assert len(ours) == len(theirs)
