"""Job progress (virDomainGetJobInfo, pyvirsh domjobinfo, save --verbose) of real saves
and restores: figures from QEMU (query-migrate while saving, the stream's file offset
while restoring).  The guest's RAM is a shared file filled with incompressible bytes, so
QEMU has real work to do (a firmware-only guest's RAM is almost all zero pages, which
QEMU saves in no time)."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.cli.main import main as pyvirsh
from pyvirt.constants import DomainJobType, ErrorDomain, ErrorNumber

from .helpers import error_of, fill_ram, firmware_xml

pytestmark = [pytest.mark.qemu, pytest.mark.slow]

MIB = 1 << 20
GUEST_MIB = 768
BIG_MIB = 1536


def _ram_path(conn: Any, dom: Any) -> str:
    path: str = conn._hv._obj(dom).priv.ram_path
    return path


def _sample_while(work: Any, probe: Any) -> list[Any]:
    """Run work() in a thread; meanwhile call probe() every 20 ms. Returns the samples."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as e:     # re-raised below
            failed.append(e)

    t = threading.Thread(target=run)
    t.start()
    samples = []
    while t.is_alive():
        try:
            samples.append(probe())
        except pyvirt.libvirtError as e:
            samples.append(e)
        time.sleep(0.02)
    t.join()
    if failed:
        raise failed[0]
    return samples


def _moving(samples: list[Any]) -> list[Any]:
    return [s for s in samples if not isinstance(s, Exception)
            and s.type == DomainJobType.UNBOUNDED and 0 < s.data_processed < s.data_total]


def test_job_info_of_save_and_restore(conn: Any, root: Path) -> None:
    dom = conn.define_domain(firmware_xml("j1", vtype="qemu", memory_mib=GUEST_MIB,
                                          shared=True))
    assert error_of(dom.job_info) == (
        ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN,
        "Requested operation is not valid: domain is not running")
    dom.create()
    assert list(dom.job_info()) == [DomainJobType.NONE] + [0] * 11
    fill_ram(_ram_path(conn, dom), GUEST_MIB)
    image = str(root / "j1.save")

    saving = _sample_while(lambda: dom.save(image), dom.job_info)
    moving = _moving(saving)
    assert moving, f"no progress seen while saving: {saving}"
    for s in moving:
        # libvirt's save-to-file figures: memory = data, nothing for files
        assert (s.mem_total, s.mem_processed, s.mem_remaining) == \
            (s.data_total, s.data_processed, s.data_remaining)
        assert s.file_total == s.file_processed == s.file_remaining == 0
        assert s.data_total >= GUEST_MIB * MIB
    elapsed = [s.time_elapsed for s in saving if not isinstance(s, Exception)]
    assert elapsed == sorted(elapsed) and elapsed[-1] > 0
    assert error_of(dom.job_info)[0] == ErrorNumber.OPERATION_INVALID   # saved: inactive

    restoring = _sample_while(lambda: conn.restore_domain(image), dom.job_info)
    moving = _moving(restoring)
    assert moving, f"no progress seen while restoring: {restoring}"
    # the stream QEMU reads: its length is the file's, less the header
    size = os.path.getsize(image)
    assert all(size - 16 * 4096 < s.data_total < size for s in moving)
    done = [s.data_processed for s in moving]
    assert done == sorted(done)
    assert list(dom.job_info()) == [DomainJobType.NONE] + [0] * 11
    dom.destroy()


def test_pyvirsh_domjobinfo_during_a_save(conn: Any, root: Path) -> None:
    dom = conn.define_domain(firmware_xml("j2", vtype="qemu", memory_mib=GUEST_MIB,
                                          shared=True))
    uri = conn.get_uri()
    out = io.StringIO()
    assert pyvirsh(["-c", uri, "domjobinfo", "j2"], stdout=out, stderr=io.StringIO()) == 1
    dom.create()
    out = io.StringIO()
    assert pyvirsh(["-c", uri, "domjobinfo", "j2"], stdout=out) == 0
    assert out.getvalue() == "Job type:         None        \n\n"    # virsh 9.0's
    fill_ram(_ram_path(conn, dom), GUEST_MIB)

    def domjobinfo() -> str:
        buf = io.StringIO()
        pyvirsh(["-c", uri, "domjobinfo", "j2"], stdout=buf, stderr=io.StringIO())
        return buf.getvalue()

    texts = _sample_while(lambda: dom.save(str(root / "j2.save")), domjobinfo)
    busy = [t for t in texts if "Unbounded" in t and "Data processed:" in t]
    assert busy, texts
    lines = busy[0].splitlines()
    assert lines[0] == "Job type:         Unbounded   "
    assert re.fullmatch(r"Time elapsed:     \d+ +ms", lines[1])
    assert [ln[:18] for ln in lines[2:8]] == [
        "Data processed:   ", "Data remaining:   ", "Data total:       ",
        "Memory processed: ", "Memory remaining: ", "Memory total:     "]
    assert re.fullmatch(r"Data total:       \d+\.\d{3} (MiB|GiB)", lines[4])


def test_pyvirsh_save_verbose_shows_progress(root: Path, qemu_bin: str) -> None:
    """`pyvirsh save --verbose` on a real guest, as a user runs it: the percentages
    between 0 and 100 come from QEMU while it writes the guest out."""
    uri = f"qemu:///embed?root={root}"
    with pyvirt.connect(uri) as c:
        # pyvirsh polls every 500 ms (as virsh): QEMU must take longer than that to
        # write the guest out, so a guest large enough that it does
        dom = c.define_domain(firmware_xml("j3", vtype="qemu", memory_mib=BIG_MIB,
                                           shared=True))
        dom.create()
        fill_ram(_ram_path(c, dom), BIG_MIB)
    # the test lets the root go; pyvirsh reattaches to the running guest and saves it
    image = root / "j3.save"
    p = subprocess.run([sys.executable, "-m", "pyvirt.cli", "-c", uri, "save", "j3",
                        str(image), "--verbose"], capture_output=True, text=True,
                       timeout=300, check=False)
    try:
        assert p.returncode == 0, p.stderr
        shown = [int(m) for m in re.findall(r"Save: \[ *(\d+) %\]", p.stderr)]
        assert shown[-1] == 100 and any(0 < v < 100 for v in shown), p.stderr
        assert shown == sorted(shown)
        assert f"Domain 'j3' saved to {image}" in p.stdout
    finally:
        with pyvirt.connect(uri) as c:
            d = c.lookup_domain_by_name("j3")
            if d.is_active():
                d.destroy()


def test_job_info_of_managed_save_and_its_restore(conn: Any) -> None:
    dom = conn.define_domain(firmware_xml("j4", vtype="qemu", memory_mib=GUEST_MIB,
                                          shared=True))
    dom.create()
    fill_ram(_ram_path(conn, dom), GUEST_MIB)
    saving = _sample_while(lambda: dom.managed_save(0), dom.job_info)
    assert _moving(saving), f"no progress seen during the managed save: {saving}"
    assert dom.has_managed_save_image(0)
    starting = _sample_while(lambda: dom.create(), dom.job_info)   # from the image
    assert _moving(starting), f"no progress seen while starting from it: {starting}"
    assert not dom.has_managed_save_image(0)
    dom.destroy()
