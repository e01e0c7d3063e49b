"""Differential: the same sizing calls (setMemory, setMaxMemory, setVcpus, getVcpus,
getVcpusFlags with every flag combination's errors, rename, getJobInfo) on pyvirt's embedded QEMU driver and on a real
libvirtd's QEMU driver, with firmware-only TCG guests; results and errors (code, origin,
message) must agree."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pyvirt

from .peers import LibvirtdProcess

pytestmark = [pytest.mark.interop, pytest.mark.qemu]

XML = """<domain type='qemu'><name>{name}</name><memory unit='MiB'>128</memory>
<currentMemory unit='MiB'>128</currentMemory><vcpu current='1'>3</vcpu>
<os><type arch='x86_64' machine='pc'>hvm</type></os><devices>{devices}</devices></domain>"""

# (libvirt-python method, pyvirt method, arguments); results compared as given
INACTIVE = [
    ("vcpus", "vcpus", ()), ("jobInfo", "job_info", ()),
    ("setMemoryFlags", "set_memory", (65536, 1)), ("setMemoryFlags", "set_memory", (65536, 0)),
    ("setMemoryFlags", "set_memory", (265536, 0)), ("setMemoryFlags", "set_memory", (65536, 64)),
    ("setMaxMemory", "set_max_memory", (262144,)), ("info", "info", ()),
    ("setMaxMemory", "set_max_memory", (98304,)), ("info", "info", ()),
    ("setVcpusFlags", "set_vcpus", (4, 6)), ("setVcpusFlags", "set_vcpus", (5, 2)),
    ("setVcpusFlags", "set_vcpus", (2, 2)), ("setVcpusFlags", "set_vcpus", (2, 1)),
    ("setVcpusFlags", "set_vcpus", (2, 8)), ("setVcpusFlags", "set_vcpus", (2, 64)),
    ("setVcpusFlags", "set_vcpus", (1, 6)), ("vcpusFlags", "vcpus_flags", (2,)),
    ("vcpusFlags", "vcpus_flags", (6,)), ("setVcpusFlags", "set_vcpus", (3, 6)),
    ("vcpusFlags", "vcpus_flags", (6,)), ("vcpusFlags", "vcpus_flags", (0,)),
    *[("vcpusFlags", "vcpus_flags", (f,)) for f in (1, 3, 8, 9, 10, 12, 16)],
    ("rename", "rename", ("d1", 0)), ("rename", "rename", ("d2", 1)),
    ("rename", "rename", ("other", 0)), ("rename", "rename", ("a/b", 0)),
    ("rename", "rename", ("d2", 0)), ("name", "name", ()),
]
ACTIVE = [
    *[("vcpusFlags", "vcpus_flags", (f,)) for f in (0, 1, 2, 5, 6)],
    ("maxVcpus", "max_vcpus", ()), ("jobInfo", "job_info", ()), ("vcpus", "vcpus", ()),
    ("setVcpusFlags", "set_vcpus", (4, 7)), ("setVcpusFlags", "set_vcpus", (4, 6)),
    ("setVcpusFlags", "set_vcpus", (5, 1)), ("setVcpusFlags", "set_vcpus", (2, 1)),
    *[("vcpusFlags", "vcpus_flags", (f,)) for f in (0, 1, 2, 5, 6)],
    ("vcpus", "vcpus", ()), ("setVcpusFlags", "set_vcpus", (3, 3)),
    *[("vcpusFlags", "vcpus_flags", (f,)) for f in (0, 1, 2, 5, 6)],
    ("rename", "rename", ("d3", 0)), ("setMaxMemory", "set_max_memory", (262144,)),
    ("setMemoryFlags", "set_memory", (262144, 6)), ("setMemoryFlags", "set_memory", (65536, 1)),
    ("setMemoryFlags", "set_memory", (999999, 1)), ("setMemoryFlags", "set_memory", (70000, 3)),
    ("info", "info", ()),
]
TRANSIENT = [
    ("setMemoryFlags", "set_memory", (65536, 1)), ("setMemoryFlags", "set_memory", (65536, 2)),
    ("rename", "rename", ("t2", 0)), ("setVcpusFlags", "set_vcpus", (1, 2)),
    *[("vcpusFlags", "vcpus_flags", (f,)) for f in (0, 1, 2, 3, 6, 8, 10, 12, 16)],
    ("vcpus", "vcpus", ()),
]


def _norm(op: str, value: Any) -> Any:
    """Comparable results: CPU times and host CPUs vary, so a vCPU list becomes its
    numbers and states and info() loses its CPU time; setters give 0 (libvirt-python)
    or None (pyvirt)."""
    if op == "vcpus":
        infos = value[0] if isinstance(value, tuple) else value   # libvirt: (infos, maps)
        return [(int(list(v)[0]), int(list(v)[1])) for v in infos]
    if op == "info":
        return [int(x) for x in list(value)[:4]]
    if op == "job_info":
        return [int(x) for x in value]
    return 0 if value is None else value


def _run(dom: Any, ops: list[tuple[str, str, tuple[Any, ...]]], lib: bool,
         err: type[Exception]) -> list[Any]:
    out = []
    for lv_name, py_name, args in ops:
        try:
            attr = getattr(dom, lv_name if lib else py_name)
            got = attr(*args) if callable(attr) else attr
            out.append((py_name, args, "ok", _norm(py_name, got)))
        except err as e:
            if lib:
                out.append((py_name, args, e.get_error_code(),  # type: ignore[attr-defined]
                            e.get_error_domain(), e.get_error_message()))  # type: ignore[attr-defined]
            else:
                out.append((py_name, args, e.code, e.domain, str(e)))  # type: ignore[attr-defined]
    return out


def test_sizing_calls_agree_with_libvirtd(libvirtd: LibvirtdProcess, lv: Any,
                                          tmp_path: Path) -> None:
    ref = lv.open(libvirtd.uri("qemu", "/system", "tcp"))
    mine = pyvirt.connect(f"qemu:///embed?root={tmp_path}")
    results: list[list[Any]] = []
    try:
        for conn, lib, err in ((ref, True, lv.libvirtError), (mine, False, pyvirt.libvirtError)):
            define = conn.defineXML if lib else conn.define_domain
            create = conn.createXML if lib else conn.create_domain
            dom = define(XML.format(name="d1", devices=""))
            other = define(XML.format(name="other", devices=""))
            got = _run(dom, INACTIVE, lib, err)
            dom.setVcpusFlags(1, 2) if lib else dom.set_vcpus(1, 2)
            dom.create()
            got += _run(dom, ACTIVE, lib, err)
            dom.destroy()
            t = create(XML.format(name="t1", devices="<memballoon model='none'/>"), 0)
            got += _run(t, TRANSIENT, lib, err)
            t.destroy()
            for d in (dom, other):
                d.undefine()
            results.append(got)
    finally:
        mine.close()
        ref.close()
    theirs, ours = results
    assert len(theirs) == len(ours)
    for a, b in zip(theirs, ours):
        assert a == b
