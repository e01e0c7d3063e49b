"""Build recipe for pyvirt's C core: one cffi module, pyvirt._core_c, from csrc/*.c.

cffi out-of-line API mode (as pynacl and argon2-cffi do it): setup.py names
`csrc/build_core.py:ffibuilder` in cffi_modules.  Declarations live once, in each hot
path's header; this script feeds the headers to `cdef` after dropping preprocessor
lines (cdef understands `#define NAME <integer>` and nothing else from cpp).

Adding a hot path is one entry in HOT_PATHS plus its `.c`/`.h` pair, e.g. "qmp" for
csrc/qmp.c + csrc/qmp.h.  Run this file directly to compile into a scratch directory
and see the compiler's warnings: `python csrc/build_core.py`.
"""
from __future__ import annotations

import os
import re
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))

# One name per hot path: csrc/<name>.h is declared, csrc/<name>.c is compiled.
HOT_PATHS: list[str] = ["fastxml", "evpoll", "qmp", "mempeek"]

# Warnings on; -O2 explicitly, whatever the interpreter's CFLAGS say.
EXTRA_COMPILE_ARGS = ["-O2", "-std=gnu11", "-Wall", "-Wextra", "-Wshadow",
                      "-Wno-unused-parameter", "-Wno-missing-field-initializers"]

_INT_DEFINE = re.compile(r"^\s*#\s*define\s+[A-Za-z_]\w*\s+-?(?:0x[0-9A-Fa-f]+|\d+)[uUlL]*\s*$")


def cdef_text(header: str) -> str:
    """A header's declarations as cdef wants them: cpp lines out, integer #defines kept."""
    lines = []
    for line in header.splitlines():
        if line.lstrip().startswith("#") and not _INT_DEFINE.match(line):
            continue
        lines.append(line)
    return "\n".join(lines)


def _rel(path: str) -> str:
    # setuptools wants sources relative to the project root (its cwd); fall back to the
    # absolute path when run from elsewhere.
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def make_ffibuilder(hot_paths: list[str] | None = None) -> FFI:
    """An FFI builder for the given hot paths (default: all of HOT_PATHS)."""
    names = HOT_PATHS if hot_paths is None else hot_paths
    ffi = FFI()
    for name in names:
        with open(os.path.join(HERE, f"{name}.h"), encoding="utf-8") as f:
            ffi.cdef(cdef_text(f.read()))
    ffi.set_source(
        "pyvirt._core_c",
        "".join(f'#include "{name}.h"\n' for name in names),
        sources=[_rel(os.path.join(HERE, f"{name}.c")) for name in names],
        include_dirs=[_rel(HERE)],
        extra_compile_args=EXTRA_COMPILE_ARGS,
    )
    return ffi


ffibuilder = make_ffibuilder()

if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        out = ffibuilder.compile(tmpdir=tmp, verbose=True)
        sys.stdout.write(f"built {os.path.basename(out)} (discarded)\n")
