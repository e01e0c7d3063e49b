"""save/restore and managed save: the guest comes back where it was, memory intact."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pyvirt
from pyvirt.constants import (
    DomainPausedReason,
    DomainRunningReason,
    DomainShutoffReason,
    DomainState,
    ErrorNumber,
)
from pyvirt.testing import GuestImage

from .helpers import console_text, firmware_xml, guest_xml, last_counter, wait_for, wait_ready
from .test_lifecycle import RESUMED, STARTED, STOPPED, SUSPENDED, Events

pytestmark = pytest.mark.qemu


@pytest.fixture
def events(conn: Any, event_loop: None) -> Events:
    return Events(conn)


def _st(dom: Any) -> tuple[int, int]:
    s = dom.state()
    return (s.state, s.reason)


@pytest.mark.slow
def test_save_restore_keeps_the_guest_running_on(conn: Any, events: Events, guest: GuestImage,
                                                 root: Path) -> None:
    log = root / "s1.console"
    dom = conn.define_domain(guest_xml("s1", guest, log))
    dom.create()
    wait_ready(log)
    wait_for(lambda: last_counter(log) >= 3, 20, "the counter")
    image = root / "s1.save"
    dom.save(str(image))
    assert _st(dom) == (DomainState.SHUTOFF, DomainShutoffReason.SAVED) and dom.id == -1
    events.wait(("s1", SUSPENDED, 0), ("s1", STOPPED, 4))
    at_save = last_counter(log)
    conn.restore_domain(str(image))
    dom = conn.lookup_domain_by_name("s1")
    assert _st(dom) == (DomainState.RUNNING, DomainRunningReason.RESTORED)
    events.wait(("s1", STARTED, 2), ("s1", RESUMED, 2))
    # the counter continues from where it was; the guest did not boot again
    wait_for(lambda: last_counter(log) > at_save + 2, 20, "the counter to continue")
    text = console_text(log)
    assert text.count(guest.ready_line) == 1
    after = text[text.rfind(f"{guest.counter_prefix}{at_save}"):]
    assert f"{guest.counter_prefix}0\n" not in after.replace("\r", "")
    assert dom.is_persistent()
    dom.destroy()


def test_save_paused_restores_paused(conn: Any, events: Events) -> None:
    dom = conn.define_domain(firmware_xml("s2", "qemu"))
    dom.create(1)
    image = conn._hv.node.layout.root + "/s2.save"
    dom.save(image)
    events.got.clear()
    conn.restore_domain(image)
    assert _st(dom) == (DomainState.PAUSED, DomainPausedReason.MIGRATION)
    events.wait(("s2", STARTED, 2), ("s2", SUSPENDED, 4))
    dom.destroy()
    conn.restore_domain(image, None, 2)     # VIR_DOMAIN_SAVE_RUNNING
    assert dom.state().state == DomainState.RUNNING
    dom.destroy()


@pytest.mark.slow
def test_managed_save(conn: Any, events: Events, guest: GuestImage, root: Path) -> None:
    log = root / "s3.console"
    dom = conn.define_domain(guest_xml("s3", guest, log, shared=True))
    dom.create()
    wait_ready(log)
    dom.managed_save()
    assert dom.has_managed_save_image()
    assert _st(dom) == (DomainState.SHUTOFF, DomainShutoffReason.SAVED)
    assert (root / "lib" / "qemu" / "save" / "s3.save").exists()
    e = pytest.raises(pyvirt.libvirtError, dom.undefine)
    assert e.value.get_error_code() == ErrorNumber.OPERATION_INVALID
    at_save = last_counter(log)
    dom.create()                # starts from the image, which then goes away
    assert _st(dom) == (DomainState.RUNNING, DomainRunningReason.RESTORED)
    assert not dom.has_managed_save_image()
    wait_for(lambda: last_counter(log) > at_save, 20, "the counter to continue")
    assert console_text(log).count(guest.ready_line) == 1
    dom.managed_save()
    dom.managed_save_remove()
    dom.create()                # no image any more: a fresh boot
    wait_ready(log, 2)
    dom.destroy()


def test_bad_images(conn: Any, root: Path) -> None:
    bad = root / "bad.save"
    bad.write_bytes(b"not a save image at all" * 10)
    with pytest.raises(pyvirt.libvirtError) as e:
        conn.restore_domain(str(bad))
    assert "image magic is incorrect" in str(e.value)
    with pytest.raises(pyvirt.libvirtError) as e:
        conn.restore_domain(str(root / "missing.save"))
    assert e.value.get_error_code() == ErrorNumber.SYSTEM_ERROR
    transient = conn.create_domain(firmware_xml("s4", "qemu"))
    with pytest.raises(pyvirt.libvirtError) as e:
        transient.managed_save()
    assert "transient" in str(e.value)
    transient.destroy()
    assert not os.path.exists(root / "s4.save")
