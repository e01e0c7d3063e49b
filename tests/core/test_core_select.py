"""pyvirt._core: choosing C or Python (PYVIRT_IMPL), the C build recipe, error codes."""
from __future__ import annotations

import errno
import importlib.util
import os
import pathlib
import subprocess
import sys

import pytest

from pyvirt import _core
from pyvirt._twins import abc
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import libvirtError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def probe(env_impl: str | None, block_c: bool = False) -> subprocess.CompletedProcess[str]:
    """Import pyvirt._core in a fresh interpreter; print __impl__ and the reason."""
    env = {k: v for k, v in os.environ.items() if k != _core.IMPL_ENV}
    if env_impl is not None:
        env[_core.IMPL_ENV] = env_impl
    code = ("import sys\n" + ("sys.modules['pyvirt._core_c'] = None\n" if block_c else "") +
            "import pyvirt._core as c\nprint(c.__impl__, c.c_unavailable_reason, sep='|')")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_impl_is_published() -> None:
    assert _core.__impl__ in ("c", "python")
    env = os.environ.get(_core.IMPL_ENV)
    if env:
        assert _core.__impl__ == env
    assert _core.parse_domain_summary == _core.get_impl(_core.__impl__).fastxml.parse_domain_summary


def test_python_when_asked() -> None:
    p = probe("python")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "python|PYVIRT_IMPL=python"


def test_c_when_asked() -> None:
    if "c" not in _core.available_impls():
        pytest.skip(f"C core unavailable: {_core.c_unavailable_reason}")
    p = probe("c")
    assert (p.returncode, p.stdout.strip()) == (0, "c|None"), p.stderr


def test_best_available_when_unset() -> None:
    p = probe(None)
    want = "c" if "c" in _core.available_impls() else "python"
    assert p.returncode == 0 and p.stdout.startswith(want + "|"), p.stderr


def test_silent_fallback_records_why() -> None:
    p = probe(None, block_c=True)
    assert p.returncode == 0 and p.stderr == ""
    impl, reason = p.stdout.strip().split("|")
    assert impl == "python" and "not importable" in reason


def test_strict_c_request_fails_clearly() -> None:
    p = probe("c", block_c=True)
    assert p.returncode != 0
    assert "ImportError: PYVIRT_IMPL=c but the C core cannot be used" in p.stderr
    assert "build_ext --inplace" in p.stderr


def test_bogus_value_is_refused() -> None:
    p = probe("rust")
    assert p.returncode != 0 and "PYVIRT_IMPL='rust'" in p.stderr


def test_get_impl() -> None:
    assert _core.get_impl("python").name == "python"
    with pytest.raises(ValueError):
        _core.get_impl("fortran")


def test_c_constants_match_the_python_side() -> None:
    if "c" not in _core.available_impls():
        pytest.skip(f"C core unavailable: {_core.c_unavailable_reason}")
    from pyvirt import _core_c  # type: ignore[attr-defined]
    lib, ffi = _core_c.lib, _core_c.ffi
    for name in dir(abc.FxReason):
        if not name.startswith("_"):
            assert getattr(lib, f"PV_FX_{'E_' if name not in ('OK',) else ''}{name}") == \
                getattr(abc.FxReason, name), name
    for name in dir(abc.FxField):
        if not name.startswith("_"):
            assert getattr(lib, f"PV_FX_F_{name}") == getattr(abc.FxField, name)
    assert (lib.PV_EV_READABLE, lib.PV_EV_WRITABLE, lib.PV_EV_ERROR, lib.PV_EV_HANGUP) == \
        (abc.EV_READABLE, abc.EV_WRITABLE, abc.EV_ERROR, abc.EV_HANGUP)
    assert ffi.sizeof("struct pv_fx_domain") == _core._FX_RES.size


def test_error_from_code() -> None:
    e = abc.error_from_code(-errno.EBADF, "cannot watch fd 9", ErrorDomain.EVENT)
    assert isinstance(e, libvirtError)
    assert (e.get_error_code(), e.get_error_domain(), e.get_int1()) == \
        (ErrorNumber.SYSTEM_ERROR, ErrorDomain.EVENT, errno.EBADF)
    assert str(e) == f"cannot watch fd 9: {os.strerror(errno.EBADF)}"
    assert abc.error_from_code(-errno.ENOMEM, "x").get_error_code() == ErrorNumber.NO_MEMORY
    assert abc.error_from_code(-errno.EINVAL, "x").get_error_code() == ErrorNumber.INVALID_ARG
    f = abc.error_from_code(-errno.EINVAL, "fast-parse", parse=(abc.FxReason.DTD, 3, 0))
    assert isinstance(f, abc.FastParseError) and f.offset == 3


def _build_core() -> object:
    spec = importlib.util.spec_from_file_location("pyvirt_build_core",
                                                  ROOT / "csrc" / "build_core.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_build_recipe() -> None:
    bc: object = _build_core()
    assert bc.HOT_PATHS[:2] == ["fastxml", "evpoll"]  # type: ignore[attr-defined]
    text = bc.cdef_text("#ifndef X\n#define X\n#include <a.h>\n#define N 4\n"  # type: ignore
                        "#define M 0x10u\nint f(int);\n#endif\n")
    assert text.split("\n") == ["#define N 4", "#define M 0x10u", "int f(int);"]
    # One entry per hot path: a builder for a subset is just a shorter list.
    decls = bc.make_ffibuilder(["fastxml"])._parser._declarations  # type: ignore[attr-defined]
    assert "function pv_fx_parse_domain" in decls and "function pv_ev_new" not in decls
