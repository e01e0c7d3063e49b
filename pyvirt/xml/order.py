"""libvirt's element order: where each element goes when libvirt writes a config.

libvirt's formatters write children in a fixed order per element
(virDomainDefFormatInternal, virDomainDiskDefFormat, virNetworkDefFormatBuf, ...).
Verbatim elements pyvirt keeps are placed by these tables when formatting, and sorted
by them when parsing, so that a parsed definition equals the parse of its output.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .text import RawElement

__all__ = [
    "BALLOON_RANK",
    "CHR_RANK",
    "CPU_RANK",
    "CTRL_RANK",
    "DEVICE_INFO_RANK",
    "DEVICE_RANK",
    "DISK_RANK",
    "NETWORK_RANK",
    "NET_RANK",
    "OS_RANK",
    "RNG_RANK",
    "TOP_RANK",
    "UNKNOWN_CHILD",
    "UNKNOWN_TOP",
    "VIDEO_RANK",
    "by_rank",
    "rank_of",
]

Rank = Mapping[str, float]
UNKNOWN_CHILD = 89.0   # unknown children of a device: after its own, before device info
UNKNOWN_TOP = 99.0     # unknown elements at the top level or among devices: last


def _seq(*names: str, then: Rank | None = None) -> Rank:
    """A read-only rank table: names in order, then `then`'s entries."""
    table = {n: float(i) for i, n in enumerate(names)}
    table.update(then or {})
    return MappingProxyType(table)


# virDomainDeviceInfoFormat: what every device may carry after its own children
DEVICE_INFO_RANK: Rank = MappingProxyType({"boot": 90.0, "alias": 91.0, "master": 92.0,
                                           "rom": 93.0, "acpi": 94.0, "address": 95.0})
TOP_RANK = _seq(
    "name", "uuid", "genid", "title", "description", "metadata", "maxMemory", "memory",
    "currentMemory", "blkiotune", "memtune", "memoryBacking", "vcpu", "vcpus", "iothreads",
    "iothreadids", "defaultiothread", "throttlegroups", "cputune", "numatune", "resource",
    "sysinfo", "bootloader", "bootloader_args", "os", "idmap", "features", "cpu", "clock",
    "on_poweroff", "on_reboot", "on_crash", "on_lockfailure", "pm", "perf", "devices",
    "seclabel", "keywrap", "launchSecurity")
DEVICE_RANK = _seq(
    "emulator", "disk", "controller", "lease", "filesystem", "interface", "smartcard",
    "serial", "parallel", "console", "channel", "input", "tpm", "graphics", "sound", "audio",
    "video", "hostdev", "redirdev", "redirfilter", "hub", "watchdog", "memballoon", "rng",
    "panic", "shmem", "memory", "iommu", "vsock", "crypto")
OS_RANK = _seq(
    "type", "firmware", "init", "initarg", "initenv", "initdir", "inituser", "initgroup",
    "loader", "nvram", "kernel", "initrd", "cmdline", "dtb", "root", "acpi", "boot",
    "bootmenu", "bios", "smbios")
DISK_RANK = _seq(
    "driver", "auth", "source", "backingStore", "backenddomain", "geometry", "blockio",
    "mirror", "target", "iotune", "throttlefilters", "readonly", "shareable", "transient",
    "serial", "wwn", "vendor", "product", "encryption", then=DEVICE_INFO_RANK)
NET_RANK = _seq(
    "mac", "source", "virtualport", "ip", "route", "script", "downscript", "backenddomain",
    "target", "guest", "model", "driver", "backend", "filterref", "tune", "teaming", "link",
    "mtu", "coalesce", "port", "bandwidth", "vlan", then=DEVICE_INFO_RANK)
CHR_RANK = _seq("source", "protocol", "log", "target", then=DEVICE_INFO_RANK)
CPU_RANK = _seq("model", "vendor", "topology", "cache", "maxphysaddr", "feature", "numa")
CTRL_RANK = _seq("model", "driver", "target", then=DEVICE_INFO_RANK)
VIDEO_RANK = _seq("driver", "model", then=DEVICE_INFO_RANK)
RNG_RANK = _seq("rate", "backend", then=DEVICE_INFO_RANK)
BALLOON_RANK = _seq("stats", then=DEVICE_INFO_RANK)
NETWORK_RANK = _seq(
    "name", "uuid", "metadata", "forward", "bridge", "mtu", "mac", "domain", "dns", "vlan",
    "bandwidth", "port", "ip", "route", "virtualport", "portgroup")


def rank_of(tag: str, rank: Rank, default: float = UNKNOWN_CHILD) -> float:
    return rank.get(tag, default)


def by_rank(items: Iterable[RawElement], rank: Rank,
            default: float = UNKNOWN_CHILD) -> list[RawElement]:
    """Verbatim elements in libvirt's order (stable: same-rank ones keep their order)."""
    if isinstance(items, list) and len(items) < 2:
        return items
    return sorted(items, key=lambda r: rank.get(r.tag, default))
