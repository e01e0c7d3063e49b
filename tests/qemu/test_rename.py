"""virDomainRename on the QEMU driver: inactive persistent domains only, the config and
autostart mark move to the new name, lookups and events follow; libvirt 9.0's errors
(probed against a private libvirtd).  An interrupted rename is finished on reopen."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import ErrorDomain, ErrorNumber

from .helpers import config_on_disk, error_of, firmware_xml
from .test_lifecycle import DEFINED, UNDEFINED, Events

pytestmark = pytest.mark.qemu

Q, D = ErrorDomain.QEMU, ErrorDomain.DOMAIN
RENAMED_UNDEFINED, RENAMED_DEFINED = 1, 2


def test_rename_moves_config_autostart_and_lookups(conn: Any, root: Path,
                                                   event_loop: None) -> None:
    events = Events(conn)
    dom = conn.define_domain(firmware_xml("r1", vtype="qemu"))
    dom.set_autostart(True)
    events.wait(("r1", DEFINED, 0))
    uuid = dom.uuid_string
    dom.rename("r2", 0)
    assert dom.name == "r2"
    events.wait(("r1", UNDEFINED, RENAMED_UNDEFINED), ("r2", DEFINED, RENAMED_DEFINED))
    assert conn.lookup_domain_by_uuid_string(uuid).name == "r2"
    assert error_of(conn.lookup_domain_by_name, "r1") == (
        ErrorNumber.NO_DOMAIN, Q, "Domain not found: no domain with matching name 'r1'")
    etc = root / "etc" / "qemu"
    assert sorted(os.listdir(etc)) == ["autostart", "r2.xml"]
    assert os.listdir(etc / "autostart") == ["r2.xml"]
    assert os.readlink(etc / "autostart" / "r2.xml") == str(etc / "r2.xml")
    assert "<name>r2</name>" in config_on_disk(root, "r2")
    assert dom.autostart()
    # a new owner finds it under its new name
    conn.close()
    with pyvirt.connect(f"qemu:///embed?root={root}") as c:
        d = c.lookup_domain_by_name("r2")
        assert d.uuid_string == uuid and d.autostart()
        d.destroy()     # autostarted on open


def test_rename_errors(conn: Any, root: Path) -> None:
    dom = conn.define_domain(firmware_xml("r3", vtype="qemu"))
    conn.define_domain(firmware_xml("other", vtype="qemu"))
    assert error_of(dom.rename, "r3", 0) == (
        ErrorNumber.OPERATION_INVALID, D,
        "Requested operation is not valid: Can't rename domain to itself")
    assert error_of(dom.rename, "r4", 1) == (
        ErrorNumber.INVALID_ARG, Q, "unsupported flags (0x1) in function qemuDomainRename")
    assert error_of(dom.rename, "other", 0) == (
        ErrorNumber.OPERATION_INVALID, D,
        "Requested operation is not valid: domain with name 'other' already exists")
    assert error_of(dom.rename, "", 0) == (
        ErrorNumber.INVALID_ARG, D, "string new_name in virDomainRename must not be empty")
    assert error_of(dom.rename, "a/b", 0) == (
        ErrorNumber.XML_ERROR, Q, "XML error: name a/b cannot contain '/'")
    dom.create()
    assert error_of(dom.rename, "r4", 0) == (
        ErrorNumber.OPERATION_INVALID, Q,
        "Requested operation is not valid: cannot rename active domain")
    dom.managed_save(0)
    assert error_of(dom.rename, "r4", 0) == (
        ErrorNumber.OPERATION_INVALID, Q,
        "Requested operation is not valid: domain with a managed saved state can't be renamed")
    t = conn.create_domain(firmware_xml("tr", vtype="qemu"), 0)
    assert error_of(t.rename, "tr2", 0) == (
        ErrorNumber.OPERATION_INVALID, Q,
        "Requested operation is not valid: cannot rename active domain")
    t.destroy()
    assert sorted(os.listdir(root / "etc" / "qemu")) == ["autostart", "other.xml", "r3.xml"]


def test_interrupted_rename_is_finished_on_open(root: Path, qemu_bin: str) -> None:
    """A crash between the two steps of a rename leaves the new text under the old file
    name (never two configs, never none); the next owner completes the move."""
    uri = f"qemu:///embed?root={root}"
    with pyvirt.connect(uri) as c:
        dom = c.define_domain(firmware_xml("r5", vtype="qemu"))
        dom.set_autostart(True)
        uuid = dom.uuid_string
    etc = root / "etc" / "qemu"
    (etc / "r5.xml").write_text(config_on_disk(root, "r5").replace("<name>r5</name>",
                                                                   "<name>r6</name>"))
    with pyvirt.connect(uri) as c:
        d = c.lookup_domain_by_name("r6")
        assert d.uuid_string == uuid
        assert [x.name for x in c.list_all_domains()] == ["r6"]
        if d.is_active():       # the autostart mark moved with it
            d.destroy()
        else:
            raise AssertionError("autostart did not follow the interrupted rename")
    assert sorted(os.listdir(etc)) == ["autostart", "r6.xml"]
    assert os.listdir(etc / "autostart") == ["r6.xml"]


def test_rename_interrupted_after_the_move_keeps_autostart(root: Path, qemu_bin: str) -> None:
    """A crash after the config took its new name but before the old autostart mark went:
    the new mark was made first, so the domain still autostarts, and the stale mark (on
    no config) is pruned rather than waiting for a future domain of the old name."""
    uri = f"qemu:///embed?root={root}"
    with pyvirt.connect(uri) as c:
        dom = c.define_domain(firmware_xml("r7", vtype="qemu"))
        dom.set_autostart(True)
    etc = root / "etc" / "qemu"
    text = config_on_disk(root, "r7").replace("<name>r7</name>", "<name>r8</name>")
    (etc / "r8.xml").write_text(text)                       # the move happened ...
    os.unlink(etc / "r7.xml")
    os.symlink(etc / "r8.xml", etc / "autostart" / "r8.xml")  # ... after the new mark
    with pyvirt.connect(uri) as c:
        d = c.lookup_domain_by_name("r8")
        assert d.is_active(), "autostart was lost by the interrupted rename"
        d.destroy()
    assert os.listdir(etc / "autostart") == ["r8.xml"]
