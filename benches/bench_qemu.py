"""QEMU driver micro paths with pytest-benchmark: QMP round trips, suspend/resume,
event latency, memoryPeek.

    .venv/bin/python -m pytest benches/bench_qemu.py --benchmark-group-by=group \
        --benchmark-columns=median,ops

Each group puts pyvirt next to its floor in the same run: the QMP round trip through
the C core, through its pure-Python twin, through the public API (libvirt_qemu's
qemuMonitorCommand path) and over a tight raw Python socket loop; suspend/resume
through the API next to bare QMP stop/cont; memoryPeek on the shared-mapping path next
to QMP pmemsave.  Guests are firmware-only under KVM when it is usable (the figures in
shared/PEERS.md were taken that way), TCG otherwise.  `pyvirt-bench` (pyvirt/bench)
puts start, destroy, suspend/resume, QMP, events and memoryPeek next to libvirt and raw
QEMU in one interleaved run.
"""
from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import pyvirt
from pyvirt import _core, eventloop
from pyvirt.drivers.qemu.memory import peek_via_qemu
from pyvirt.drivers.qemu.process import kvm_usable
from pyvirt.drivers.qemu.qmp import QMPClient

pytestmark = pytest.mark.qemu
VTYPE = "kvm" if kvm_usable()[0] else "qemu"


def firmware_xml(name: str, shared: bool = False, memory_mib: int = 64) -> str:
    backing = ("<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
               if shared else "")
    return (f"<domain type='{VTYPE}'><name>{name}</name><memory unit='MiB'>{memory_mib}"
            f"</memory><vcpu>1</vcpu>{backing}<os><type arch='x86_64' machine='pc'>hvm</type>"
            "</os><devices><memballoon model='none'/></devices></domain>")


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    root = tempfile.mkdtemp(prefix="pyvirt-bench-")
    c = pyvirt.connect(f"qemu:///embed?root={root}")
    try:
        yield c
    finally:
        for d in c.list_all_domains():
            if d.is_active():
                d.destroy()
        c.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def dom(conn: Any) -> Any:
    return conn.create_domain(firmware_xml("bench-qmp", shared=True))


def _monitor_path(conn: Any, name: str) -> str:
    return conn._hv.node.domains.by_name[name].priv.monitor_path  # type: ignore[no-any-return]


# ---- QMP round trip ------------------------------------------------------------------

@pytest.fixture(scope="module")
def spare(conn: Any) -> Any:
    """A second guest whose monitor the bench connects to directly (QEMU takes one
    client at a time; the driver's own client stays on the first guest)."""
    d = conn.create_domain(firmware_xml("bench-raw"))
    node = conn._hv.node
    p = node.domains.by_name["bench-raw"].priv
    node.watcher.remove_monitor(p.mon)
    p.mon.close()               # free the monitor for the raw clients below
    return d


@pytest.mark.benchmark(group="qmp round trip (query-status)")
def test_qmp_raw_socket(benchmark: Any, conn: Any, spare: Any) -> None:
    s = socket.socket(socket.AF_UNIX)
    s.connect(_monitor_path(conn, "bench-raw"))
    f = s.makefile("rb")
    f.readline()
    s.sendall(b'{"execute":"qmp_capabilities"}\n')
    f.readline()

    def once() -> None:
        s.sendall(b'{"execute":"query-status"}\n')
        json.loads(f.readline())
    try:
        benchmark(once)
    finally:
        f.close()
        s.close()


@pytest.mark.parametrize("impl", _core.available_impls())
@pytest.mark.benchmark(group="qmp round trip (query-status)")
def test_qmp_client(benchmark: Any, conn: Any, spare: Any, impl: str) -> None:
    c = QMPClient("bench", impl=_core.get_impl(impl).qmp)  # type: ignore[arg-type]
    c.connect(_monitor_path(conn, "bench-raw"), 10)
    try:
        benchmark(c.execute, "query-status")
    finally:
        c.close()


@pytest.mark.benchmark(group="qmp round trip (query-status)")
def test_qmp_through_api(benchmark: Any, dom: Any) -> None:
    """Domain.qemu_monitor_command: what libvirt_qemu.qemuMonitorCommand runs."""
    benchmark(dom.qemu_monitor_command, '{"execute":"query-status"}')


# ---- suspend / resume ----------------------------------------------------------------

@pytest.mark.benchmark(group="suspend+resume")
def test_suspend_resume_api(benchmark: Any, dom: Any) -> None:
    def once() -> None:
        dom.suspend()
        dom.resume()
    benchmark(once)


@pytest.mark.benchmark(group="suspend+resume")
def test_stop_cont_qmp(benchmark: Any, conn: Any, dom: Any) -> None:
    mon = conn._hv.node.domains.by_name["bench-qmp"].priv.mon

    def once() -> None:
        mon.command("stop")
        mon.command("cont")
    benchmark(once)
    conn._hv.node.flush_status()


# ---- event latency -------------------------------------------------------------------

@pytest.mark.benchmark(group="event latency (suspend call to callback)")
def test_event_latency(benchmark: Any, conn: Any, dom: Any) -> None:
    eventloop.run_default_in_thread()
    got = threading.Event()

    def cb(c: Any, d: Any, ev: int, detail: int, opaque: Any) -> None:
        if ev == 3:
            got.set()
    cid = conn.domain_event_register_any(dom, 0, cb)

    def once() -> None:
        got.clear()
        dom.suspend()
        got.wait(5)
        dom.resume()
    try:
        benchmark(once)
    finally:
        conn.domain_event_deregister_any(cid)


# ---- memoryPeek ----------------------------------------------------------------------

@pytest.mark.parametrize("size", [4096, 1 << 20], ids=["4KiB", "1MiB"])
@pytest.mark.benchmark(group="memoryPeek")
def test_peek_shared_mapping(benchmark: Any, dom: Any, size: int) -> None:
    benchmark(dom.memory_peek, 0x100000, size, 2)


@pytest.mark.parametrize("size", [4096, 1 << 20], ids=["4KiB", "1MiB"])
@pytest.mark.benchmark(group="memoryPeek")
def test_peek_pmemsave(benchmark: Any, conn: Any, dom: Any, size: int) -> None:
    node = conn._hv.node
    mon = node.domains.by_name["bench-qmp"].priv.mon
    benchmark(peek_via_qemu, node, mon, 0x100000, size, False)
