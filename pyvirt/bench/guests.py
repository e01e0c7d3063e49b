"""Guests for the QEMU workloads: their XML, starting them on each target, cleaning up.

Two kinds, as shared/PEERS.md dictates on this kind of machine:
- firmware-only (SeaBIOS, no disk, 64 MiB): runs under KVM here, so lifecycle, suspend,
  QMP, events, memory peeks and concurrent starts use it, under KVM when /dev/kvm is
  usable and TCG otherwise (the report says which);
- the test guest (pyvirt.testing: a Debian kernel + busybox initramfs) under TCG, for
  what needs an operating system's memory to be real: save and restore.
The XML is the same text for pyvirt, pyvirtd and libvirt; raw QEMU gets the equivalent
command line (peers.RawQemu, pyvirt.testing.rawqemu.RawGuest).
"""
from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

from ..testing.peers import wait_pid_exit
from .core import Context, NotApplicable

__all__ = [
    "cleanup_domains",
    "destroy_until_exit",
    "firmware_xml",
    "os_guest_xml",
    "vtype",
    "wait_console",
    "wait_running",
]


def vtype(ctx: Context) -> str:
    """The domain type for firmware-only guests: kvm, or qemu (TCG) without KVM."""
    return "kvm" if ctx.accel == "kvm" else "qemu"


def firmware_xml(name: str, virt: str, memory_mib: int = 64) -> str:
    return f"""<domain type='{virt}'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices><memballoon model='none'/></devices>
</domain>"""


def os_guest_xml(name: str, ctx: Context, console: Path, memory_mib: int = 64) -> str:
    """The test guest under TCG (its kernel hangs under this machine's KVM), its serial
    console logged to `console` so that readiness can be seen from outside."""
    image = ctx.guest_image()
    if memory_mib < image.min_memory_mib:
        raise NotApplicable(f"the test guest needs {image.min_memory_mib} MiB")
    return f"""<domain type='qemu'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{image.kernel}</kernel>
    <initrd>{image.initrd}</initrd>
    <cmdline>{image.cmdline}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <serial type='pty'><log file='{console}' append='on'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>"""


def wait_console(path: Path, line: str, timeout: float = 120.0, count: int = 1) -> None:
    """Wait until `line` appeared `count` times in a console log."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            if path.read_text(errors="replace").count(line) >= count:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {line!r} in {path} after {timeout:.0f} s")
        time.sleep(0.05)


def wait_running(dom: Any, running: int = 1, timeout: float = 30.0) -> None:
    """Check (poll briefly) that the domain reports VIR_DOMAIN_RUNNING."""
    deadline = time.monotonic() + timeout
    while dom.state(0)[0] != running:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{dom.name()} is not running: state {dom.state(0)}")
        time.sleep(0.01)


def destroy_until_exit(dom: Any, pid: int) -> float:
    """destroy(), timed until both the call returned and the QEMU process has exited."""
    pidfd = os.pidfd_open(pid)
    try:
        t0 = time.perf_counter()
        dom.destroy()
        if not wait_pid_exit(pidfd, 30.0):
            raise TimeoutError(f"QEMU {pid} still runs 30 s after destroy")
        return time.perf_counter() - t0
    finally:
        os.close(pidfd)


def cleanup_domains(conn: Any, names: list[str]) -> None:
    """Destroy (if running) and undefine each named domain that exists; errors ignored,
    the target's close() kills whatever survives by PID."""
    for n in names:
        with contextlib.suppress(Exception):
            dom = conn.lookupByName(n)
            with contextlib.suppress(Exception):
                if dom.isActive():
                    dom.destroy()
            with contextlib.suppress(Exception):
                if dom.isPersistent():
                    dom.undefine()
