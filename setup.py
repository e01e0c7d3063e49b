"""Build pyvirt, with its C core (pyvirt._core_c) when a compiler is available.

The C core is optional: every C function has a pure-Python twin. Without a working
compiler the install goes on with the twins and a warning; PYVIRT_REQUIRE_C=1 turns
a failed C build into an error (CI sets it, so a broken C core cannot hide).
"""
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

REQUIRE_C = os.environ.get("PYVIRT_REQUIRE_C") == "1"


class OptionalBuildExt(build_ext):
    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # a missing compiler surfaces here
            self._fail(exc)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._fail(exc)

    @staticmethod
    def _fail(exc: Exception) -> None:
        if REQUIRE_C:
            raise
        sys.stderr.write(
            f"WARNING: pyvirt's C core was not built ({exc}); "
            "using the pure-Python twins. Set PYVIRT_REQUIRE_C=1 to make this an error.\n")


setup(
    cffi_modules=["csrc/build_core.py:ffibuilder"],
    cmdclass={"build_ext": OptionalBuildExt},
)
