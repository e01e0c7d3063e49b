"""Fixtures for the real test guest: one (cached) build per session."""
from __future__ import annotations

import shutil

import pytest

from pyvirt.testing import GuestImage, build_guest


@pytest.fixture(scope="session")
def guest_image() -> GuestImage:
    """The test guest, built into the default cache ($PYVIRT_GUEST_CACHE or
    ~/.cache/pyvirt/guest) on first use; later sessions reuse it."""
    return build_guest()


@pytest.fixture(scope="session")
def qemu_available() -> None:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
