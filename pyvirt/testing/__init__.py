"""Test support for pyvirt: a real, tiny Linux guest built on demand from Debian packages.

`build_guest()` returns a `GuestImage` (kernel, initramfs, kernel command line and the
line formats the guest prints); `pyvirt.testing.rawqemu.RawGuest` boots it with a plain
qemu-system-x86_64 process for tests that must not depend on pyvirt's own drivers.

The names below are loaded lazily so that `python -m pyvirt.testing.guest` runs cleanly.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .guest import (
        COUNTER_PREFIX,
        COUNTER_RE,
        DEFAULT_CMDLINE,
        POWEROFF_LINE,
        READY_LINE,
        SHELL_PROMPT,
        GuestBuildError,
        GuestImage,
        build_guest,
        default_cache_dir,
    )

__all__ = [
    "COUNTER_PREFIX",
    "COUNTER_RE",
    "DEFAULT_CMDLINE",
    "POWEROFF_LINE",
    "READY_LINE",
    "SHELL_PROMPT",
    "GuestBuildError",
    "GuestImage",
    "build_guest",
    "default_cache_dir",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module(".guest", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
