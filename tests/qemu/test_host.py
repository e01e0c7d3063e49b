"""Connection-level calls: URIs, capabilities probed from the binary (and cached), the
console stream, node facts."""
from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

import pyvirt
from pyvirt.constants import ErrorNumber
from pyvirt.testing import GuestImage

from .helpers import firmware_xml, guest_xml, wait_ready

pytestmark = pytest.mark.qemu


def test_uris(qemu_bin: str, root: Path) -> None:
    from pyvirt.drivers import qemu
    from pyvirt.uri import parse
    assert qemu.open(parse("qemu:///system"), 0, None) is None
    assert qemu.open(parse("qemu:///session"), 0, None) is None
    with pytest.raises(pyvirt.libvirtError) as e:
        pyvirt.connect("qemu:///embed")
    assert e.value.get_error_code() == ErrorNumber.INVALID_ARG
    with pytest.raises(pyvirt.libvirtError):
        pyvirt.connect("qemu:///embed?root=relative/path")
    with pyvirt.connect(f"qemu:///embed?root={root}") as c:
        assert c.get_uri() == f"qemu:///embed?root={root}"
        assert c.get_type() == "QEMU" and c.get_version() >= 7000000
        assert c.is_alive() and c.get_max_vcpus(None) >= 1
        info = c.get_node_info()
        assert info.cpus == os.cpu_count() and info.memory > 0


def test_capabilities(conn: Any, root: Path) -> None:
    caps = etree.fromstring(conn.get_capabilities().encode())
    machines = caps.xpath("//guest/arch[@name='x86_64']/machine/text()")
    assert "pc" in machines and "q35" in machines
    assert caps.xpath("//machine[text()='pc']/@canonical")[0].startswith("pc-i440fx-")
    types = caps.xpath("//guest/arch/domain/@type")
    assert "qemu" in types
    from pyvirt.drivers.qemu.process import kvm_usable
    assert ("kvm" in types) == kvm_usable()[0]
    cache = list((root / "cache" / "qemu").glob("caps-*.json"))
    assert len(cache) == 1      # probed once, then read from here


def test_domain_capabilities(conn: Any) -> None:
    doc = etree.fromstring(conn.get_domain_capabilities(None, None, None, "qemu").encode())
    assert doc.findtext("domain") == "qemu"
    assert doc.findtext("machine").startswith("pc-i440fx-")
    models = doc.xpath("//mode[@name='custom']/model/text()")
    assert "qemu64" in models and "Skylake-Client" in models
    q35 = etree.fromstring(conn.get_domain_capabilities(None, "x86_64", "q35", "qemu").encode())
    assert q35.findtext("machine").startswith("pc-q35-")
    for args, code in [((None, "aarch64", None, None), ErrorNumber.INVALID_ARG),
                       ((None, None, "nosuchmachine", None), ErrorNumber.INVALID_ARG),
                       ((None, None, None, "xen"), ErrorNumber.INVALID_ARG)]:
        with pytest.raises(pyvirt.libvirtError) as e:
            conn.get_domain_capabilities(*args)
        assert e.value.get_error_code() == code


@pytest.mark.slow
def test_console_stream(conn: Any, guest: GuestImage, root: Path) -> None:
    log = root / "c1.console"
    dom = conn.define_domain(guest_xml("c1", guest, log))
    dom.create(1)                       # paused: attach before the guest prints anything
    stream = dom.open_console(None, 0)
    try:
        with pytest.raises(pyvirt.libvirtError) as e:
            dom.open_console(None, 0)   # one session at a time...
        assert "Active console session" in str(e.value)
        dom.resume()
        buf = b""
        deadline = time.monotonic() + 60
        while guest.ready_line.encode() not in buf:
            assert time.monotonic() < deadline, buf[-500:]
            if select.select([stream.fileno()], [], [], 1)[0]:
                buf += stream.recv(4096)
        stream.send(b"echo pyvirt-$((6*7))\r")
        while b"pyvirt-42" not in buf:
            assert time.monotonic() < deadline, buf[-500:]
            if select.select([stream.fileno()], [], [], 1)[0]:
                buf += stream.recv(4096)
        forced = dom.open_console("serial0", 1)     # ...unless forced
        forced.close()
    finally:
        stream.close()
    wait_ready(log)
    dom.destroy()


def test_console_errors(conn: Any) -> None:
    dom = conn.create_domain(firmware_xml("c2", "qemu"))
    with pytest.raises(pyvirt.libvirtError) as e:
        dom.open_console(None, 0)
    assert "cannot find character device" in str(e.value)
    dom.destroy()
    with pytest.raises(pyvirt.libvirtError) as e:
        dom.open_console(None, 0)
