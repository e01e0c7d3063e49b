"""The API description and what pyvirt exposes agree, in both directions, in all three
namings; the generated modules are current."""
from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bindings.gen.model import CLASSES, LV_CLASS, load  # noqa: E402

import pyvirt  # noqa: E402
import pyvirt.capi  # noqa: E402
import pyvirt.libvirt as lv  # noqa: E402
from pyvirt import _api  # noqa: E402
from pyvirt.drivers import base  # noqa: E402

API = load()
# The C layer's last-error shim has no Pythonic twin on purpose: only that layer keeps
# a global "last error" (STYLE.md 3).
C_SHIM = {"virGetLastError", "virResetLastError", "virGetLastErrorMessage",
          "virGetLastErrorCode", "virGetLastErrorDomain"}


def test_generated_files_are_current() -> None:
    r = subprocess.run([sys.executable, str(ROOT / "bindings" / "generate.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_generated_files_say_so() -> None:
    for rel in ("pyvirt/_api.py", "pyvirt/libvirt.py", "pyvirt/capi.py", "pyvirt/constants.py",
                "pyvirt/types.py", "pyvirt/drivers/base.py"):
        assert "do not edit" in (ROOT / rel).read_text().splitlines()[0], rel


def _public(obj: object) -> set[str]:
    return {n for n in dir(obj) if not n.startswith("_")}


@pytest.mark.parametrize("cls", CLASSES)
def test_pythonic_classes_match_description(cls: str) -> None:
    described = {m.py for m in API.of(cls)}
    exposed = _public(getattr(_api, cls))
    assert described - exposed == set(), "described but missing"
    assert exposed - described == set(), "exposed but not described"


def test_module_functions_exist() -> None:
    for m in API.of("module"):
        mod = importlib.import_module(m.module)
        assert callable(getattr(mod, m.py, None)), f"{m.module}.{m.py}"


@pytest.mark.parametrize("cls", CLASSES)
def test_libvirt_python_classes_match_description(cls: str) -> None:
    described = {c.lv for m in API.of(cls) for c in m.c}
    exposed = {n for n in _public(getattr(lv, LV_CLASS[cls]))}
    assert described - exposed == set(), "described but missing"
    assert exposed - described == set(), "exposed but not described"


def test_libvirt_python_module_functions_match_description() -> None:
    described = {c.lv for m in API.of("module") for c in m.c}
    exposed = {n for n, v in vars(lv).items()
               if not n.startswith(("_", "VIR_")) and inspect.isfunction(v)}
    assert described - exposed == set()
    assert exposed - described == set()


def test_c_names_match_description() -> None:
    described = {c.name for m in API.methods for c in m.c}
    exposed = {n for n, v in vars(pyvirt.capi).items()
               if n.startswith("vir") and inspect.isfunction(v)}
    assert described - exposed == set(), "described but missing"
    assert exposed - described - C_SHIM == set(), "exposed but not described"


def test_constants_cover_libvirt_python() -> None:
    """Every VIR_* name of the real libvirt-python exists with the same number."""
    real = pytest.importorskip("libvirt")
    names = {n for n in dir(real) if n.startswith("VIR_")}
    missing = sorted(n for n in names if not hasattr(lv, n))
    assert missing == []
    differ = sorted(n for n in names if getattr(lv, n) != getattr(real, n))
    assert differ == []


def test_libvirt_python_names_cover_our_subset_of_the_real_ones() -> None:
    """Every libvirt-python name we expose is one the real libvirt-python has too."""
    real = pytest.importorskip("libvirt")
    for cls in CLASSES:
        ours = _public(getattr(lv, LV_CLASS[cls]))
        theirs = _public(getattr(real, LV_CLASS[cls]))
        assert ours - theirs == set(), cls


def test_driver_tables_list_every_slot_once() -> None:
    tables = {"hypervisor": base.HypervisorDriver, "network": base.NetworkDriver,
              "storage": base.StorageDriver}
    for slot, table in base.SLOTS.items():
        assert callable(getattr(tables[table], slot))
    for cls in tables.values():
        assert {n for n in _public(cls) if n not in ("close", "name")} <= set(base.SLOTS)


def test_unfilled_slot_is_no_support() -> None:
    drv = base.HypervisorDriver()
    with pytest.raises(pyvirt.libvirtError) as e:
        drv.connect_get_type()
    assert e.value.get_error_code() == pyvirt.VIR_ERR_NO_SUPPORT
    assert "virConnectGetType" in str(e.value)
