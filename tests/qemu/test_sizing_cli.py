"""pyvirsh's sizing commands on a real QEMU guest: setmem, setmaxmem, setvcpus,
vcpucount, vcpuinfo, domrename, domjobinfo, run as a user runs them (one process, the
commands separated by ';')."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import pyvirt

from .helpers import sized_xml

pytestmark = pytest.mark.qemu


def test_sizing_commands_on_a_qemu_guest(root: Path, qemu_bin: str) -> None:
    uri = f"qemu:///embed?root={root}"
    xml = root / "c1.xml"
    xml.write_text(sized_xml("c1"))
    script = (f"define {xml}; setmem c1 64M --config; setmaxmem c1 256M; setvcpus c1 2 --config; "
              "vcpucount c1; start c1; setvcpus c1 3; vcpucount c1 --live; vcpuinfo c1; "
              "setmem c1 100M; domjobinfo c1; setmaxmem c1 512M; destroy c1; "
              "domrename c1 c2; dumpxml c2 --inactive")
    p = subprocess.run([sys.executable, "-m", "pyvirt.cli", "-c", uri, script],
                       capture_output=True, text=True, timeout=120, check=False)
    try:
        out = p.stdout
        assert "maximum      config         3\ncurrent      config         2\n" in out
        assert "started\n\n\n3\n\nVCPU:" in out   # setvcpus (no output), vcpucount --live, vcpuinfo
        vcpus = re.findall(r"VCPU:\s+(\d+)\nCPU:\s+\d+\nState:\s+running\n", out)
        assert vcpus == ["0", "1", "2"]
        assert "Job type:         None        \n" in out
        assert "Domain successfully renamed\n" in out
        assert "<name>c2</name>" in out
        assert "<memory unit='KiB'>262144</memory>" in out
        assert "<currentMemory unit='KiB'>65536</currentMemory>" in out
        assert "<vcpu placement='static' current='2'>3</vcpu>" in out
        # setmaxmem on the running guest fails as virsh's does, and nothing else did
        assert p.stderr == ("error: Unable to change MaxMemorySize\nerror: Requested "
                            "operation is not valid: cannot resize the maximum memory on an "
                            "active domain\n")
    finally:
        with pyvirt.connect(uri) as c:
            for d in c.list_all_domains():
                if d.is_active():
                    d.destroy()
