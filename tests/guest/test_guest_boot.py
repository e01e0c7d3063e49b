"""Boot the real test guest with raw QEMU (TCG) and check everything tests rely on."""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from pyvirt.testing import GuestImage
from pyvirt.testing.rawqemu import RawGuest

pytestmark = [pytest.mark.qemu, pytest.mark.slow, pytest.mark.usefixtures("qemu_available"),
              pytest.mark.timeout(300)]

# Generous bounds: the guest is ready after ~2 s under TCG on an idle machine, but this
# machine's speed drifts up to 2x and other test suites share its 2 cores.
READY_TIMEOUT = 60.0
POWERDOWN_TIMEOUT = 15.0


def _echo_roundtrip(g: RawGuest) -> None:
    marker = f"marker-{random.randrange(10**9)}"
    start = g.mark()
    g.send_line(f"echo {marker}")
    # the command's output is alone on its line; the echoed command line starts with "echo "
    g.wait_for(rf"(?m)^{marker}\r?$", timeout=20, start=start)


def _assert_powers_off(g: RawGuest) -> float:
    assert g.proc is not None and g.qmp is not None
    took = g.powerdown(timeout=POWERDOWN_TIMEOUT)
    assert g.proc.returncode == 0
    assert g.image.poweroff_line in g.output
    ev = g.qmp.wait_event("SHUTDOWN", timeout=2)
    assert ev is not None, f"no SHUTDOWN event; events: {g.qmp.events}"
    assert ev["data"]["guest"] is True and ev["data"]["reason"] == "guest-shutdown"
    return took


@pytest.mark.parametrize("memory_mib", [128, 64])
def test_boot_counter_shell_powerdown(guest_image: GuestImage, memory_mib: int) -> None:
    with RawGuest(guest_image, memory_mib=memory_mib) as g:
        assert g.proc is not None
        pid = g.proc.pid
        try:
            ready = g.wait_ready(timeout=READY_TIMEOUT)
            assert ready < READY_TIMEOUT
            assert g.output.count(guest_image.ready_line) == 1

            first = g.wait_counter(timeout=20)
            later = g.wait_counter(above=first + 3, timeout=20)
            values = g.counters()
            assert values == list(range(values[0], values[-1] + 1)), "counter skipped or repeated"
            assert values[0] == 0 and later > first

            _echo_roundtrip(g)
            _assert_powers_off(g)
        finally:
            g.kill()
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed and reaped


def test_counter_continues_after_stop_cont(guest_image: GuestImage) -> None:
    with RawGuest(guest_image) as g:
        assert g.qmp is not None
        g.wait_ready(timeout=READY_TIMEOUT)
        g.wait_counter(above=2, timeout=20)
        g.qmp.execute("stop")
        mark = g.mark()
        last = g.counters()[-1]
        g.qmp.execute("cont")
        g.wait_counter(above=last + 3, timeout=20)
        # the line being sent when the guest stopped may be split around mark, so the
        # first complete line after it is last + 1 or last + 2
        assert g.counters(mark)[0] in (last + 1, last + 2)
        values = g.counters()
        assert values == list(range(values[0], values[-1] + 1))


def test_save_restore_keeps_memory(guest_image: GuestImage, tmp_path: Path) -> None:
    state = tmp_path / "guest.state"
    with RawGuest(guest_image, memory_mib=64) as g:
        g.wait_ready(timeout=READY_TIMEOUT)
        g.wait_counter(above=5, timeout=30)
        g.save(state)
        last = g.counters()[-1]
    assert state.stat().st_size > 0
    with RawGuest(guest_image, memory_mib=64, restore_from=state) as g:
        g.wait_counter(above=last + 3, timeout=30)
        values = g.counters()
        # the guest goes on where it was: no boot, no restart at 0 (the line being sent
        # at save time may arrive split, hence last + 2)
        assert values[0] in (last + 1, last + 2), (last, values)
        assert values == list(range(values[0], values[-1] + 1))
        assert guest_image.ready_line not in g.output
        _echo_roundtrip(g)
        _assert_powers_off(g)


def test_reboot_prints_ready_again(guest_image: GuestImage) -> None:
    with RawGuest(guest_image) as g:
        assert g.qmp is not None
        g.wait_ready(timeout=READY_TIMEOUT)
        g.wait_counter(above=3, timeout=20)

        # typed reboot: busybox init stops everything, the kernel resets the machine
        mark = g.mark()
        g.send_line("reboot")
        g.wait_ready(timeout=READY_TIMEOUT, start=mark)
        assert g.wait_counter(timeout=20, start=mark) >= 0
        assert g.counters(mark)[0] == 0  # a fresh boot counts from 0

        # QMP system_reset (a hard reset from outside)
        mark = g.mark()
        g.qmp.execute("system_reset")
        g.wait_ready(timeout=READY_TIMEOUT, start=mark)
        assert any(e["event"] == "RESET" for e in g.qmp.events)
        _echo_roundtrip(g)
        _assert_powers_off(g)


def test_powerdown_right_after_ready(guest_image: GuestImage) -> None:
    """READY promises that the power button is already watched."""
    with RawGuest(guest_image) as g:
        g.wait_ready(timeout=READY_TIMEOUT)
        t0 = time.monotonic()
        _assert_powers_off(g)
        assert time.monotonic() - t0 < POWERDOWN_TIMEOUT


def test_counter_can_be_turned_off(guest_image: GuestImage) -> None:
    with RawGuest(guest_image, extra_cmdline="pyvirt.counter=0") as g:
        g.wait_ready(timeout=READY_TIMEOUT)
        _echo_roundtrip(g)
        assert g.counters() == []
        _assert_powers_off(g)
