"""Helpers for the QEMU driver tests: guest XML, waiting, QEMU processes of this run."""
from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyvirt.testing import COUNTER_RE, READY_LINE, GuestImage
from tests.procs import children
from tests.procs import kill_and_reap as kill_pids  # SIGKILL by pid, reap what is ours

__all__ = [
    "config_on_disk",
    "console_text",
    "error_of",
    "expect_errors",
    "fill_ram",
    "firmware_xml",
    "guest_xml",
    "kill_pids",
    "last_counter",
    "qemu_children",
    "sized_xml",
    "wait_for",
    "wait_ready",
]


def guest_xml(name: str, image: GuestImage, log: str | Path, *, memory_mib: int = 128,
              shared: bool = False, vtype: str = "qemu", extra_devices: str = "",
              on_poweroff: str = "destroy", uuid: str | None = None) -> str:
    """The test guest (TCG: the kernel only boots there, see shared/PEERS.md), its
    serial console on a pty logged to `log`."""
    backing = ("<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
               if shared else "")
    u = f"<uuid>{uuid}</uuid>" if uuid else ""
    return f"""<domain type='{vtype}'>
  <name>{name}</name>{u}
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  {backing}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image.kernel}</kernel>
    <initrd>{image.initrd}</initrd>
    <cmdline>{image.cmdline}</cmdline>
  </os>
  <on_poweroff>{on_poweroff}</on_poweroff>
  <devices>
    <serial type='pty'><log file='{log}' append='on'/></serial>
    <memballoon model='none'/>
    {extra_devices}
  </devices>
</domain>"""


def firmware_xml(name: str, vtype: str = "kvm", memory_mib: int = 64, shared: bool = False,
                 extra: str = "") -> str:
    """A guest with firmware only (SeaBIOS finds nothing to boot and waits): what runs
    under this machine's paravirtual KVM."""
    backing = ("<memoryBacking><source type='file'/><access mode='shared'/></memoryBacking>"
               if shared else "")
    return f"""<domain type='{vtype}'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  {backing}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><memballoon model='none'/>{extra}</devices>
</domain>"""


def wait_for(pred: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def console_text(log: str | Path) -> str:
    try:
        return Path(log).read_text(errors="replace")
    except FileNotFoundError:
        return ""


def last_counter(log: str | Path) -> int:
    found = COUNTER_RE.findall(console_text(log))
    return int(found[-1]) if found else -1


def wait_ready(log: str | Path, count: int = 1, timeout: float = 60.0) -> None:
    wait_for(lambda: console_text(log).count(READY_LINE) >= count, timeout,
             f"{READY_LINE} x{count} in {log}")


def qemu_children(parent: int | None = None) -> list[int]:
    """qemu-system processes whose parent is this process (this run's QEMUs: started here,
    or orphans reparented here because the test process is a child subreaper)."""
    # exited ones (zombies, state Z) are not running: tests/conftest.py reaps them
    return sorted(c.pid for c in children(parent)
                  if c.comm.startswith(b"qemu-system") and c.state != "Z")


def sized_xml(name: str, *, balloon: bool = True, vcpus: str = "<vcpu current='1'>3</vcpu>",
              memory_mib: int = 128, current_mib: int = 128) -> str:
    """A firmware-only TCG guest for the sizing tests (nothing to boot; what matters
    there is QEMU): a virtio balloon unless `balloon` is false."""
    extra = "" if balloon else "<memballoon model='none'/>"
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <currentMemory unit='MiB'>{current_mib}</currentMemory>
  {vcpus}
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>{extra}</devices>
</domain>"""


def error_of(fn: Callable[..., Any], *args: Any) -> tuple[int, int, str]:
    """(code, domain, message) of the libvirtError fn(*args) raises."""
    import pyvirt
    try:
        fn(*args)
    except pyvirt.libvirtError as e:
        return (e.code, e.domain, str(e))
    raise AssertionError(f"{fn} did not fail")


def expect_errors(*cases: tuple[Callable[..., Any], tuple[Any, ...], tuple[int, int, str]]
                  ) -> None:
    """Each (fn, args, (code, domain, message)): fn(*args) fails with exactly that."""
    for fn, args, want in cases:
        assert error_of(fn, *args) == want, (fn, args)


def config_on_disk(root: Path, name: str) -> str:
    return (root / "etc" / "qemu" / f"{name}.xml").read_text()


def fill_ram(ram_path: str, mib: int) -> None:
    """Random bytes over the guest's RAM above 16 MiB (SeaBIOS, idle, lives below),
    a 4 MiB random block repeated: QEMU compares nothing but zero pages."""
    block = os.urandom(4 << 20)
    with open(ram_path, "r+b") as f:
        f.seek(16 << 20)
        for _ in range((mib - 16) // 4):
            f.write(block)
