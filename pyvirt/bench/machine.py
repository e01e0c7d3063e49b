"""The machine a report was measured on: CPU, cores, kernel, versions, KVM or TCG, load.

Every report carries it, and its one-line form heads the table: figures from different
machines, or from one machine under different load, are not comparable.
"""
from __future__ import annotations

import contextlib
import importlib
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["choose_accel", "describe", "load_average", "machine_line"]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_mib() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _run_first_line(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None and not os.path.exists(argv[0]):
        return ""
    try:
        out = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.splitlines()[0].strip() if out else ""


def _qemu_version() -> str:
    line = _run_first_line(["qemu-system-x86_64", "--version"])
    # "QEMU emulator version 7.2.11 (Debian 1:7.2+dfsg-7+deb12u13)"
    return line.replace("QEMU emulator version ", "") if line else ""


def _libvirt_version() -> str:
    try:
        libvirt = importlib.import_module("libvirt")
    except ImportError:
        return ""
    v = int(libvirt.getVersion())
    return f"{v // 1000000}.{v // 1000 % 1000}.{v % 1000}"


def _kvm_module() -> str:
    """Which kernel module serves /dev/kvm (kvm_intel, kvm_amd, kvm_pvm...): /sys/module
    lists built-in ones too, which /proc/modules does not."""
    try:
        names = os.listdir("/sys/module")
    except OSError:
        return ""
    return ",".join(sorted(n for n in names if n.startswith("kvm_")))


def choose_accel(requested: str) -> tuple[str, str]:
    """("kvm" | "tcg", why) for firmware-only guests: KVM when /dev/kvm is usable."""
    from ..drivers.qemu.process import kvm_usable
    ok, why = kvm_usable()
    if requested == "tcg":
        return "tcg", "TCG requested"
    if requested == "kvm" and not ok:
        raise SystemExit(f"pyvirt-bench: --accel kvm: KVM is not usable here: {why}")
    if ok:
        mod = _kvm_module()
        return "kvm", f"/dev/kvm served by {mod}" if mod else ""
    return "tcg", f"KVM not usable: {why}"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def describe(accel: str, accel_note: str) -> dict[str, Any]:
    """The machine description stored in the report (load_after is filled in at the end)."""
    import pyvirt
    core = ""
    with contextlib.suppress(Exception):   # informative only
        core = str(importlib.import_module("pyvirt._core").__impl__)
    try:
        affinity = len(os.sched_getaffinity(0))
    except OSError:
        affinity = os.cpu_count() or 0
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 0,
        "usable_cores": affinity,
        "memory_mib": _mem_total_mib(),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "qemu": _qemu_version(),
        "libvirt": _libvirt_version(),
        "pyvirt": str(getattr(pyvirt, "__version__", "") or _pyvirt_version()),
        "pyvirt_core": core,
        "accel": accel,
        "accel_note": accel_note,
        "load_before": load_average(),
        "load_after": [],
        "argv": sys.argv[1:],
    }


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.system()


def _pyvirt_version() -> str:
    try:
        from importlib.metadata import version
        return version("pyvirt")
    except Exception:  # noqa: BLE001 - not installed as a distribution
        return ""


def machine_line(m: dict[str, Any]) -> str:
    """One line: date, CPU, cores, kernel, QEMU, libvirt, accelerator, load."""
    def load(v: list[float]) -> str:
        return f"{v[0]:.2f}" if v else "?"
    accel = m["accel"].upper()
    if m.get("accel_note"):
        accel += f" ({m['accel_note'].replace('/dev/kvm served by ', '')})"
    parts = [m["date"], m["cpu"], f"{m['cores']} cores", f"Linux {m['kernel']}",
             f"QEMU {(m['qemu'] or 'n/a').split()[0]}", f"libvirt {m['libvirt'] or 'n/a'}",
             f"pyvirt {m['pyvirt'] or '?'} ({m['pyvirt_core'] or '?'} core)", accel,
             f"load {load(m['load_before'])} -> {load(m['load_after'])}"]
    return " · ".join(parts)
