"""Fixtures for the QEMU driver tests: the guest, private roots, connections, cleanup.

Every QEMU a test starts is stopped by its pid when the test ends, pass or fail; the
test process is a child subreaper (tests/conftest.py), so QEMUs orphaned by an owner
subprocess that a test killed are reparented here and found too.
"""
from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.testing import GuestImage, build_guest

from .helpers import kill_pids, qemu_children

@pytest.fixture(scope="session")
def qemu_bin() -> str:
    path = shutil.which("qemu-system-x86_64")
    if path is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
    return path


@pytest.fixture(scope="session")
def guest(qemu_bin: str) -> GuestImage:
    return build_guest()


@pytest.fixture(scope="session")
def kvm() -> None:
    from pyvirt.drivers.qemu.process import kvm_usable
    ok, why = kvm_usable()
    if not ok:
        pytest.skip(f"KVM is not usable here: {why}")


@pytest.fixture(autouse=True)
def _qemu_reaper() -> Iterator[None]:
    """Kill, by pid, every QEMU the test left behind, and fail the test for it."""
    before = set(qemu_children())
    yield
    left = [p for p in qemu_children() if p not in before]
    kill_pids(left)
    assert not left, f"the test left qemu processes running: {left}"


@pytest.fixture
def root() -> Iterator[Path]:
    d = Path(tempfile.mkdtemp(prefix="pyvirt-qemu-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def conn(root: Path, qemu_bin: str) -> Iterator[object]:
    """A connection to a private embedded root; its running guests are destroyed at
    the end."""
    import pyvirt
    c = pyvirt.connect(f"qemu:///embed?root={root}")
    try:
        yield c
    finally:
        destroy_all(c)
        c.close()


def destroy_all(c: object) -> None:
    import pyvirt
    if getattr(c, "closed", True):
        return
    for d in c.list_all_domains():  # type: ignore[attr-defined]
        try:
            if d.is_active():
                d.destroy()
        except pyvirt.libvirtError:
            pass



