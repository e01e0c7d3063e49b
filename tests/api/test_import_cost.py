"""`import pyvirt` loads the API and the local drivers' plumbing, not the wire protocol:
the RPC codecs come in with the first remote connection or the daemon."""
from __future__ import annotations

import subprocess
import sys


def test_import_pyvirt_loads_no_rpc_code() -> None:
    code = ("import sys, pyvirt, pyvirt.libvirt, pyvirt.stream; "
            "print(sorted(m for m in sys.modules if m.startswith('pyvirt.rpc')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
