"""A root whose paths are too long for a unix socket address (107 bytes) still works:
capabilities are probed and guests start, are found again by a new owner, and stop."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

import pyvirt
from pyvirt.constants import DomainState

from .helpers import firmware_xml

pytestmark = pytest.mark.qemu


def test_long_root(qemu_bin: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="pyvirt-long-"))
    root = base / ("r" * (110 - len(str(base))))
    root.mkdir()
    assert len(str(root / "run")) > 107
    try:
        with pyvirt.connect(f"qemu:///embed?root={root}") as c:
            dom = c.define_domain(firmware_xml("long-root", vtype="qemu"))
            dom.create()
            assert dom.state().state is DomainState.RUNNING
        with pyvirt.connect(f"qemu:///embed?root={root}") as c:
            dom = c.lookup_domain_by_name("long-root")
            assert dom.state().state is DomainState.RUNNING
            dom.destroy()
            dom.undefine()
    finally:
        shutil.rmtree(base, ignore_errors=True)
