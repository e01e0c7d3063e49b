"""Building pyvirt: the C core is optional unless PYVIRT_REQUIRE_C=1, and PYVIRT_IMPL
chooses strictly. Runs real builds in a scratch copy of the source tree."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("src") / "pyvirt-src"
    shutil.copytree(ROOT, dst, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.so", "__pycache__", ".hypothesis", "*.egg-info",
        "tests", "benches", ".benchmarks"))
    return dst


def _build(tree: Path, **env: str) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, **env)
    e.pop("PYVIRT_IMPL", None)
    return subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=tree,
                          env=e, capture_output=True, text=True, timeout=600)


# The venv's editable install of the main tree adds an import finder that would find
# pyvirt._core_c in the main tree when the scratch tree has none: drop it, so that only
# the scratch tree's build counts.
_ONLY_THIS_TREE = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'Editable' "
                   "not in getattr(f, '__name__', type(f).__name__)]; ")


def _impl(tree: Path, impl: str | None = None) -> subprocess.CompletedProcess[str]:
    e = dict(os.environ, PYTHONPATH=str(tree))
    e.pop("PYVIRT_IMPL", None)
    if impl:
        e["PYVIRT_IMPL"] = impl
    code = _ONLY_THIS_TREE + "import pyvirt._core as c; print(c.__file__, c.__impl__)"
    r = subprocess.run([sys.executable, "-c", code], cwd=tree, env=e, capture_output=True,
                       text=True, timeout=120)
    if r.returncode == 0:
        where, _, what = r.stdout.strip().rpartition(" ")
        assert where.startswith(str(tree)), where
        r.stdout = what + "\n"
    return r


def test_without_a_compiler_the_twins_are_used(tree: Path) -> None:
    r = _build(tree, CC="/bin/false", LDSHARED="/bin/false")
    assert r.returncode == 0, r.stderr
    assert "pure-Python twins" in r.stderr
    assert not list(tree.glob("pyvirt/_core_c*.so"))
    assert _impl(tree).stdout.strip() == "python"
    strict = _impl(tree, "c")
    assert strict.returncode != 0 and "ImportError" in strict.stderr


def test_require_c_makes_a_failed_build_an_error(tree: Path) -> None:
    r = _build(tree, CC="/bin/false", LDSHARED="/bin/false", PYVIRT_REQUIRE_C="1")
    assert r.returncode != 0


def test_with_a_compiler_the_c_core_is_used(tree: Path) -> None:
    r = _build(tree, PYVIRT_REQUIRE_C="1")
    assert r.returncode == 0, r.stderr
    assert _impl(tree).stdout.strip() == "c"
    assert _impl(tree, "python").stdout.strip() == "python"
