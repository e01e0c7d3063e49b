#!/usr/bin/env python3
"""Regenerate every generated module from the API description.

    python bindings/generate.py          # write the files
    python bindings/generate.py --check  # exit 1 if any file is stale (used by the tests)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bindings.gen import capi, constants, drivers, lvapi, pyapi, types  # noqa: E402
from bindings.gen import remote, wire  # noqa: E402
from bindings.gen.common import ROOT  # noqa: E402

TARGETS = {
    "pyvirt/constants.py": constants.render,
    "pyvirt/constants.pyi": constants.render_stub,
    "pyvirt/types.py": types.render,
    "pyvirt/drivers/base.py": drivers.render,
    "pyvirt/_api.py": pyapi.render,
    "pyvirt/libvirt.py": lvapi.render,
    "pyvirt/capi.py": capi.render,
    "pyvirt/rpc/procedures.py": wire.render,
    "pyvirt/daemon/_dispatch_gen.py": remote.render_server,
    "pyvirt/drivers/remote/_slots_gen.py": remote.render_client,
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale files")
    args = ap.parse_args()
    stale = []
    for rel, render in TARGETS.items():
        path = ROOT / rel
        text = render()
        old = path.read_text() if path.exists() else None
        if old != text:
            stale.append(rel)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text)
    if args.check and stale:
        print("stale generated files (run python bindings/generate.py):", *stale, sep="\n  ")
        return 1
    for rel in stale:
        print("wrote", rel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
