"""The real virsh sizes a real QEMU guest through pyvirtd's qemu driver: setmem,
setmaxmem, setvcpus (live hotplug), vcpucount, vcpuinfo, domjobinfo, domrename; and its
save --verbose shows the progress pyvirtd reports while the save runs."""
from __future__ import annotations

import re
import subprocess
import uuid as _uuid
from pathlib import Path

import pytest

from tests.qemu.helpers import fill_ram  # makes a guest's RAM incompressible

from .peers import PyvirtdProcess, kill_guests
from .test_qemu_pyvirtd import qemu_daemon  # noqa: F401  (the module's pyvirtd fixture)

pytestmark = [pytest.mark.qemu, pytest.mark.interop]


def test_virsh_sizes_a_qemu_guest(qemu_daemon: PyvirtdProcess,  # noqa: F811
                                  tmp_path: Path, virsh: str) -> None:
    u = str(_uuid.uuid4())
    name = f"pvs-{u[:8]}"
    xml = tmp_path / "g.xml"
    xml.write_text(f"""<domain type='qemu'><name>{name}</name><uuid>{u}</uuid>
  <memory unit='MiB'>128</memory><vcpu current='1'>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>""")
    script = (f"define {xml}; setmem {name} 64M --config; setmaxmem {name} 256M; "
              f"start {name}; setvcpus {name} 2 --live; vcpucount {name}; vcpuinfo {name}; "
              f"domjobinfo {name}; setmem {name} 100M; destroy {name}; "
              f"domrename {name} {name}-b; dumpxml {name}-b --inactive; undefine {name}-b")
    try:
        p = subprocess.run([virsh, "-c", qemu_daemon.uri("qemu", "/system", "tcp"), script],
                           capture_output=True, text=True, timeout=120, check=False)
    finally:
        kill_guests({u})
    assert p.returncode == 0 and p.stderr == "", p.stderr
    out = p.stdout
    assert ("maximum      config         2\nmaximum      live           2\n"
            "current      config         1\ncurrent      live           2\n") in out
    assert out.count("State:          running\n") == 2
    assert "Job type:         None        \n" in out
    assert "Domain successfully renamed\n" in out
    assert f"<name>{name}-b</name>" in out
    assert "<memory unit='KiB'>262144</memory>" in out
    assert "<currentMemory unit='KiB'>65536</currentMemory>" in out


@pytest.mark.slow
def test_virsh_save_verbose_through_pyvirtd(qemu_daemon: PyvirtdProcess,  # noqa: F811
                                            tmp_path: Path, virsh: str) -> None:
    """virsh polls virDomainGetJobInfo while its save runs, over the same connection:
    pyvirtd answers it during the save, with QEMU's progress."""
    u = str(_uuid.uuid4())
    name = f"pvj-{u[:8]}"
    xml = tmp_path / "g.xml"
    xml.write_text(f"""<domain type='qemu'><name>{name}</name><uuid>{u}</uuid>
  <memory unit='MiB'>1536</memory><vcpu>1</vcpu>
  <memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>
  <os><type arch='x86_64' machine='pc'>hvm</type></os></domain>""")
    uri = qemu_daemon.uri("qemu", "/system", "tcp")
    try:
        p = subprocess.run([virsh, "-c", uri, f"create {xml}"], capture_output=True,
                           text=True, timeout=120, check=False)
        assert p.returncode == 0, p.stderr
        ram = list(Path("/dev/shm").glob(f"pyvirt-*/{u}-*.ram"))
        assert len(ram) == 1
        fill_ram(str(ram[0]), 1536)
        p = subprocess.run([virsh, "-c", uri, f"save {name} {tmp_path / 's.img'} --verbose"],
                           capture_output=True, text=True, timeout=300, check=False)
    finally:
        kill_guests({u})
    assert p.returncode == 0, p.stderr
    shown = [int(m) for m in re.findall(r"Save: \[ *(\d+) %\]", p.stderr)]
    assert shown[-1] == 100 and any(0 < v < 100 for v in shown), p.stderr
    assert shown == sorted(shown)
