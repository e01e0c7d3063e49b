"""Helpers for pyvirsh's tests: running virsh and pyvirsh as processes, masking fields
that differ by time or host, and a private libvirtd for cross-process event tests."""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).with_name("data")
VIRSH = shutil.which("virsh")


@dataclass(frozen=True)
class Result:
    out: str
    err: str
    rc: int


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), LC_ALL="C")
    for name in ("VIRSH_DEFAULT_CONNECT_URI", "LIBVIRT_DEFAULT_URI"):
        env.pop(name, None)
    return env


def run(argv: list[str], stdin: str | None = None, cwd: Path = DATA,
        env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    p = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True,
                       text=True, cwd=cwd, env=env or _env(), timeout=timeout, check=False)
    return Result(p.stdout, p.stderr, p.returncode)


def run_virsh(args: list[str], stdin: str | None = None, cwd: Path = DATA) -> Result:
    """Run the real virsh. virsh 9.0's save/managedsave can hang for good when the
    test driver finishes the job before virsh starts watching it (its worker quits the
    GLib main loop before the loop runs), so a run that hangs is retried; the result of a
    run that completes is what the tests compare with."""
    assert VIRSH is not None
    for _ in range(4):
        try:
            return run([VIRSH, *args], stdin, cwd, timeout=60)
        except subprocess.TimeoutExpired:
            continue
    raise AssertionError(f"virsh {args} hung four times")


_WRAPPER = """#!{python}
import re
import sys
from {module} import {attr}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({attr}())
"""


@functools.cache
def _entry_point() -> str:
    """The installed `pyvirsh` script if pyvirt is pip-installed; otherwise the script pip
    would install, generated here from the entry point pyproject.toml declares."""
    for candidate in (Path(sys.executable).with_name("pyvirsh"), shutil.which("pyvirsh")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    with open(ROOT / "pyproject.toml", "rb") as f:
        spec = tomllib.load(f)["project"]["scripts"]["pyvirsh"]
    module, attr = spec.split(":")
    where = Path(tempfile.mkdtemp(prefix="pyvirsh-entry-")) / "pyvirsh"
    where.write_text(_WRAPPER.format(python=sys.executable, module=module, attr=attr))
    where.chmod(0o755)
    return str(where)


PYVIRSH_WAYS = ["module", "entry-point"]


def pyvirsh_command(way: str) -> list[str]:
    if way == "module":
        return [sys.executable, "-m", "pyvirt.cli"]
    return [_entry_point()]


def _runner(way: str) -> Callable[..., Result]:
    prefix = pyvirsh_command(way)

    def runner(args: list[str], stdin: str | None = None, cwd: Path = DATA) -> Result:
        return run([*prefix, *args], stdin, cwd)

    return runner


@pytest.fixture(params=PYVIRSH_WAYS)
def pyvirsh(request: pytest.FixtureRequest) -> Callable[..., Result]:
    """Run pyvirsh, as `python -m pyvirt.cli` and as the installed script."""
    return _runner(request.param)


@pytest.fixture
def pyvirsh_module() -> Callable[..., Result]:
    """Run pyvirsh as `python -m pyvirt.cli` only: for the long differential tables
    (the script is the same program; test_differential runs a sample through it)."""
    return _runner("module")


needs_virsh = pytest.mark.skipif(VIRSH is None, reason="the real virsh is not installed")

_CPU_TIME = re.compile(r"^(CPU time:\s+)\d+\.\ds$", re.MULTILINE)
_TIMING = re.compile(r"^\(Time: \d+\.\d+ ms\)$", re.MULTILINE)


def mask(text: str) -> str:
    """Blank the fields that depend on when or where the command ran."""
    text = _CPU_TIME.sub(r"\1<cpu-time>", text)
    return _TIMING.sub("(Time: <ms>)", text)
