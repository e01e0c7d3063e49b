"""Guests for the QEMU workloads: their XML, starting them on each target, cleaning up.

Two kinds, as shared/PEERS.md dictates on this kind of machine:
- firmware-only (SeaBIOS, 64 MiB) with a one-sector boot disk whose code halts the vCPU
  (`cli; hlt`): runs under KVM here, so lifecycle, suspend, QMP, events, memory peeks
  and concurrent starts use it, under KVM when /dev/kvm is usable and TCG otherwise (the
  report says which).  The disk matters: SeaBIOS finding nothing to boot keeps a host
  CPU busy forever (measured here: 100% of a core per guest), which on a shared 2-core
  machine would turn every running-guest workload into a measurement of CPU contention;
  halted, the guest costs nothing.  Each guest gets its own copy (QEMU locks images);
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
    "boot_disk",
    "cleanup_domains",
    "cpu_ticks",
    "destroy_until_exit",
    "firmware_xml",
    "os_guest_xml",
    "raw_disk_args",
    "vtype",
    "wait_console",
    "wait_idle",
    "wait_running",
]


def vtype(ctx: Context) -> str:
    """The domain type for firmware-only guests: kvm, or qemu (TCG) without KVM."""
    return "kvm" if ctx.accel == "kvm" else "qemu"


# a boot sector: cli; hlt; jmp back to the hlt (an NMI would return there), signature
_HALT_SECTOR = b"\xfa\xf4\xeb\xfd" + bytes(506) + b"\x55\xaa"


def boot_disk(ctx: Context, name: str) -> Path:
    """A private copy of the halting boot sector for guest `name`."""
    d = ctx.workdir / "disks"
    d.mkdir(exist_ok=True)
    path = d / f"{name}.img"
    path.write_bytes(_HALT_SECTOR)
    return path


def raw_disk_args(disk: Path) -> list[str]:
    """The same disk for raw QEMU."""
    return ["-drive", f"file={disk},format=raw,if=ide,index=0,media=disk"]


def firmware_xml(name: str, virt: str, disk: Path | None, memory_mib: int = 64) -> str:
    """A firmware guest; with `disk`, booting the halting sector from IDE."""
    dev = (f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
           f"<source file='{disk}'/><target dev='hda' bus='ide'/></disk>" if disk else "")
    boot = "<boot dev='hd'/>" if disk else ""
    return f"""<domain type='{virt}'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>{boot}</os>
  <on_poweroff>destroy</on_poweroff>
  <devices>{dev}<memballoon model='none'/></devices>
</domain>"""


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid: int, timeout: float = 60.0) -> bool:
    """Wait until the QEMU process uses under 10% of a CPU (the guest has halted);
    False if it still is busy at the timeout (the run goes on, only noisier)."""
    hz = os.sysconf("SC_CLK_TCK")
    deadline = time.monotonic() + timeout
    prev = cpu_ticks(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        cur = cpu_ticks(pid)
        if cur - prev <= 0.05 * hz:
            return True
        prev = cur
    return False


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
