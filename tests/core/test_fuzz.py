"""Bounded libFuzzer runs of the C core under ASan+UBSan (marker: fuzz).

Each harness (csrc/fuzz/<target>_fuzz.c) is built with clang and run for
PYVIRT_FUZZ_SECONDS (default 20); any crash, sanitizer report or leak fails the test.
Skipped, with the reason, when clang or its libFuzzer runtime is not installed.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import sys

import pytest

pytestmark = [
    pytest.mark.fuzz,
    pytest.mark.skipif(os.environ.get("PYVIRT_IMPL", "").strip().lower() == "python",
                       reason="fuzzes the C core; runs in the PYVIRT_IMPL=c (or unset) pass"),
]

_SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "csrc" / "fuzz" / "run_fuzz.py"


def _runner():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("pyvirt_run_fuzz", _SCRIPT)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("target", ["fastxml", "evpoll"])
def test_fuzz_target(target: str, tmp_path: pathlib.Path) -> None:
    fz = _runner()
    try:
        binary = fz.build(target, tmp_path)
    except fz.ToolchainMissing as e:
        pytest.skip(str(e))
    seconds = int(os.environ.get("PYVIRT_FUZZ_SECONDS", "20"))
    proc = fz.run(binary, target, seconds, tmp_path)
    crashes = sorted(p.name for p in tmp_path.glob("*-*") if p.is_file()
                     and p.name.split("-")[0] in ("crash", "leak", "timeout", "oom"))
    assert proc.returncode == 0, f"{target} fuzzer found {crashes}:\n{proc.stderr[-3000:]}"
