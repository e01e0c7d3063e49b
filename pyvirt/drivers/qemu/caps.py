"""What the QEMU binary can do, probed over QMP and cached; capabilities XML from it.

Like libvirt's virQEMUCaps: the binary is started once per accelerator with
`-machine none -S` and asked query-version, query-machines, query-cpu-definitions and
query-kvm; the answers are cached under ROOT/cache/qemu keyed by the binary's path,
mtime and size and by whether /dev/kvm is usable, so later connections read a file.
`capabilities_xml` and `domain_capabilities_xml` write libvirt's documents from it.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import threading
from dataclasses import dataclass
from typing import Any

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.text import escape
from ..util import name_tag
from .process import (
    MONITOR_FD,
    MonitorSocket,
    kill_and_wait,
    pidfd_open,
    socket_path_alias,
    spawn,
    start_error,
)
from .qmp import QMPClient, QMPError
from .state import write_fast

__all__ = [
    "QemuCaps",
    "capabilities_xml",
    "default_emulator",
    "domain_capabilities_xml",
    "load_caps",
    "probe",
]

Q = ErrorDomain.QEMU
CACHE_FORMAT = 1


def default_emulator() -> str:
    return shutil.which("qemu-system-x86_64") or "/usr/bin/qemu-system-x86_64"


@dataclass
class QemuCaps:
    """The probed facts about one binary."""

    emulator: str
    version: int                            # major*1000000 + minor*1000 + micro
    package: str
    machines: list[dict[str, Any]]          # query-machines
    cpus: dict[str, list[dict[str, Any]]]   # accel -> query-cpu-definitions
    kvm: bool                               # KVM usable for this binary

    def machine(self, name: str | None) -> dict[str, Any] | None:
        """The machine called `name` or aliased so; the default machine for None."""
        for m in self.machines:
            if name is None and m.get("is-default") or name is not None and (
                    m["name"] == name or m.get("alias") == name):
                return m
        return None

    def canonical_machine(self, name: str | None) -> str | None:
        m = self.machine(name)
        return m["name"] if m else None

    def max_cpus(self, machine: str | None) -> int:
        m = self.machine(machine)
        return int(m["cpu-max"]) if m else 255

    def cpu_models(self, accel: str) -> list[tuple[str, bool]]:
        """(model, usable) for the named models of this accelerator."""
        out = []
        for c in self.cpus.get(accel, []):
            if c["name"] in ("host", "max", "base"):
                continue
            out.append((c["name"], not c.get("unavailable-features")))
        return sorted(out)


def _probe_one(emulator: str, accel: str, workdir: str) -> dict[str, Any]:
    sock_path = os.path.join(workdir, f"probe-{os.getpid()}-{threading.get_ident()}.sock")
    log = os.path.join(workdir, "probe.log")
    # a long root makes the socket path too long for sockaddr_un: bind and connect through
    # /proc/self/fd/<dir fd> (socket_path_alias), as the domains' monitors do
    dir_fd = os.open(workdir, os.O_PATH | os.O_DIRECTORY)
    try:
        return _probe_in(emulator, accel, sock_path, log, dir_fd)
    finally:
        os.close(dir_fd)


def _probe_in(emulator: str, accel: str, sock_path: str, log: str,
              dir_fd: int) -> dict[str, Any]:
    mon = MonitorSocket(sock_path, dir_fd)
    argv = [emulator, "-S", "-no-user-config", "-nodefaults", "-nographic", "-machine",
            "none", "-accel", accel, "-chardev",
            f"socket,id=mon,fd={MONITOR_FD},server=on,wait=off", "-mon",
            "chardev=mon,mode=control"]
    offset = os.path.getsize(log) if os.path.exists(log) else 0
    try:
        pid = spawn(argv, log, {MONITOR_FD: mon.fileno()}, dict(os.environ))
    finally:
        mon.close()
    pidfd = pidfd_open(pid)
    client = QMPClient(f"probe-{accel}")
    try:
        try:
            client.connect(socket_path_alias(sock_path, dir_fd), 10)
        except (QMPError, OSError):
            raise start_error(log, offset, f"cannot probe {emulator} with {accel}") from None
        out = {"version": client.execute("query-version"),
               "machines": client.execute("query-machines"),
               "cpus": client.execute("query-cpu-definitions"),
               "kvm": client.execute("query-kvm")}
        try:
            client.command("quit", timeout=5)
        except QMPError:
            pass
        return out
    finally:
        client.close()
        kill_and_wait(pid, pidfd, 2.0)
        os.close(pidfd)
        try:
            os.unlink(sock_path)
        except FileNotFoundError:
            pass


def probe(emulator: str, kvm_ok: bool, workdir: str) -> QemuCaps:
    tcg = _probe_one(emulator, "tcg", workdir)
    cpus = {"tcg": tcg["cpus"]}
    kvm = False
    if kvm_ok:
        try:
            k = _probe_one(emulator, "kvm", workdir)
            cpus["kvm"] = k["cpus"]
            kvm = bool(k["kvm"].get("enabled"))
        except Exception:   # KVM refused by this binary: a TCG-only host then
            kvm = False
    v = tcg["version"]
    q = v["qemu"]
    return QemuCaps(emulator, q["major"] * 1000000 + q["minor"] * 1000 + q["micro"],
                    v.get("package", ""), tcg["machines"], cpus, kvm)


_mem_cache: dict[tuple[str, int, int, bool], QemuCaps] = {}
_mem_lock = threading.Lock()


def load_caps(emulator: str, kvm_ok: bool, cache_dir: str) -> QemuCaps:
    """The caps of `emulator`: from memory, from ROOT/cache, or probed (then cached)."""
    try:
        st = os.stat(emulator)
    except OSError as e:
        raise error(ErrorNumber.SYSTEM_ERROR, Q,
                    f"Cannot find QEMU binary {emulator}: {e.strerror}", int1=e.errno or -1) from None
    key = (emulator, st.st_mtime_ns, st.st_size, kvm_ok)
    digest = name_tag(emulator)
    path = os.path.join(cache_dir, f"caps-{digest}.json")
    with _mem_lock:
        caps = _mem_cache.get(key)
        if caps is not None:
            if not os.path.exists(path):    # another root probed it in this process
                _write_cache(path, key, caps)
            return caps
        try:
            with open(path, "rb") as f:
                raw = json.load(f)
            if raw.get("format") == CACHE_FORMAT and tuple(raw["key"]) == key:
                caps = QemuCaps(**raw["caps"])
        except (OSError, ValueError, KeyError, TypeError):
            caps = None
        if caps is None:
            caps = probe(emulator, kvm_ok, cache_dir)
            _write_cache(path, key, caps)
        _mem_cache[key] = caps
        return caps


def _write_cache(path: str, key: tuple[str, int, int, bool], caps: QemuCaps) -> None:
    data = {"format": CACHE_FORMAT, "key": list(key), "caps": caps.__dict__}
    try:
        write_fast(path, json.dumps(data).encode())
    except OSError:
        pass


# ---- documents ----------------------------------------------------------------------

def _meminfo_kib() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpuinfo() -> tuple[str, str]:
    model = vendor = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k, v = k.strip(), v.strip()
                if k == "vendor_id" and not vendor:
                    vendor = {"GenuineIntel": "Intel", "AuthenticAMD": "AMD"}.get(v, v)
                elif k == "model name" and not model:
                    model = v
    except OSError:
        pass
    return model, vendor


def capabilities_xml(caps: QemuCaps) -> str:
    """virConnectGetCapabilities for the QEMU driver (libvirt's layout, the parts
    pyvirt knows)."""
    arch = platform.machine() or "x86_64"
    ncpu = os.cpu_count() or 1
    _model, vendor = _cpuinfo()
    o = ["<capabilities>\n\n  <host>\n    <cpu>\n", f"      <arch>{arch}</arch>\n"]
    if vendor:
        o.append(f"      <vendor>{escape(vendor)}</vendor>\n")
    o.append(f"      <topology sockets='1' dies='1' cores='{ncpu}' threads='1'/>\n")
    o.append("      <pages unit='KiB' size='4'/>\n      <pages unit='KiB' size='2048'/>\n")
    o.append("    </cpu>\n    <power_management/>\n    <iommu support='no'/>\n")
    o.append("    <migration_features>\n      <live/>\n      <uri_transports>\n"
             "        <uri_transport>tcp</uri_transport>\n"
             "        <uri_transport>rdma</uri_transport>\n      </uri_transports>\n"
             "    </migration_features>\n")
    mem = _meminfo_kib()
    o.append("    <topology>\n      <cells num='1'>\n        <cell id='0'>\n")
    o.append(f"          <memory unit='KiB'>{mem}</memory>\n")
    o.append(f"          <cpus num='{ncpu}'>\n")
    for i in range(ncpu):
        o.append(f"            <cpu id='{i}' socket_id='0' die_id='0' core_id='{i}' "
                 f"siblings='{i}'/>\n")
    o.append("          </cpus>\n        </cell>\n      </cells>\n    </topology>\n")
    o.append("    <secmodel>\n      <model>none</model>\n      <doi>0</doi>\n    </secmodel>\n"
             "  </host>\n\n")
    o.append("  <guest>\n    <os_type>hvm</os_type>\n    <arch name='x86_64'>\n"
             "      <wordsize>64</wordsize>\n"
             f"      <emulator>{escape(caps.emulator)}</emulator>\n")
    for m in caps.machines:
        if m["name"] == "none":
            continue
        dep = " deprecated='yes'" if m.get("deprecated") else ""
        o.append(f"      <machine maxCpus='{m['cpu-max']}'{dep}>{escape(m['name'])}</machine>\n")
        if m.get("alias"):
            o.append(f"      <machine canonical='{escape(m['name'])}' maxCpus='{m['cpu-max']}'"
                     f"{dep}>{escape(m['alias'])}</machine>\n")
    o.append("      <domain type='qemu'/>\n")
    if caps.kvm:
        o.append("      <domain type='kvm'/>\n")
    o.append("    </arch>\n    <features>\n      <acpi default='on' toggle='yes'/>\n"
             "      <apic default='on' toggle='no'/>\n      <cpuselection/>\n"
             "      <deviceboot/>\n      <disksnapshot default='on' toggle='no'/>\n"
             "    </features>\n  </guest>\n\n</capabilities>\n")
    return "".join(o)


def _enum(name: str, values: list[str], ind: str) -> str:
    if not values:
        return f"{ind}<enum name='{name}'/>\n"
    inner = "".join(f"{ind}  <value>{escape(v)}</value>\n" for v in values)
    return f"{ind}<enum name='{name}'>\n{inner}{ind}</enum>\n"


def domain_capabilities_xml(caps: QemuCaps, emulator: str | None, arch: str | None,
                            machine: str | None, virttype: str | None) -> str:
    """virConnectGetDomainCapabilities for one binary, arch, machine and virt type."""
    if emulator is not None and os.path.realpath(emulator) != os.path.realpath(caps.emulator):
        raise error(ErrorNumber.INVALID_ARG, Q,
                    f"emulator '{emulator}' does not match the driver's '{caps.emulator}'")
    if arch is not None and arch != "x86_64":
        raise error(ErrorNumber.INVALID_ARG, Q,
                    f"unable to find any emulator to serve '{arch}' architecture")
    vt = virttype or ("kvm" if caps.kvm else "qemu")
    if vt not in ("kvm", "qemu"):
        raise error(ErrorNumber.INVALID_ARG, Q, f"unknown virttype: {vt}")
    if vt == "kvm" and not caps.kvm:
        raise error(ErrorNumber.INVALID_ARG, Q,
                    f"KVM is not supported by '{caps.emulator}' on this host")
    m = caps.machine(machine)
    if m is None:
        raise error(ErrorNumber.INVALID_ARG, Q,
                    f"the machine '{machine}' is not supported by emulator '{caps.emulator}'")
    accel = "kvm" if vt == "kvm" else "tcg"
    o = ["<domainCapabilities>\n", f"  <path>{escape(caps.emulator)}</path>\n",
         f"  <domain>{vt}</domain>\n", f"  <machine>{escape(m['name'])}</machine>\n",
         "  <arch>x86_64</arch>\n", f"  <vcpu max='{m['cpu-max']}'/>\n",
         "  <iothreads supported='yes'/>\n",
         "  <os supported='yes'>\n", _enum("firmware", [], "    "),
         "    <loader supported='yes'>\n", _enum("type", ["rom"], "      "),
         "    </loader>\n  </os>\n  <cpu>\n"]
    o.append(f"    <mode name='host-passthrough' supported='{'yes' if accel == 'kvm' else 'no'}'"
             "/>\n")
    o.append("    <mode name='maximum' supported='yes'/>\n")
    o.append("    <mode name='host-model' supported='yes'/>\n")
    o.append("    <mode name='custom' supported='yes'>\n")
    for name, usable in caps.cpu_models(accel):
        o.append(f"      <model usable='{'yes' if usable else 'no'}'>{escape(name)}</model>\n")
    o.append("    </mode>\n  </cpu>\n")
    o.append("  <memoryBacking supported='yes'>\n" +
             _enum("sourceType", ["anonymous", "file"], "    ") + "  </memoryBacking>\n")
    o.append("  <devices>\n    <disk supported='yes'>\n")
    o.append(_enum("diskDevice", ["disk", "cdrom"], "      "))
    q35 = "q35" in m["name"]
    buses = ["sata", "scsi", "usb", "virtio"] if q35 else ["ide", "sata", "scsi", "usb", "virtio"]
    o.append(_enum("bus", buses, "      "))
    o.append("    </disk>\n    <graphics supported='yes'>\n" +
             _enum("type", ["vnc"], "      ") + "    </graphics>\n")
    o.append("    <video supported='yes'>\n" +
             _enum("modelType", ["vga", "cirrus", "qxl", "virtio", "bochs", "ramfb", "none"],
                   "      ") + "    </video>\n")
    o.append("    <hostdev supported='no'/>\n    <rng supported='yes'>\n" +
             _enum("model", ["virtio"], "      ") +
             _enum("backendModel", ["random", "builtin"], "      ") + "    </rng>\n")
    o.append("  </devices>\n  <features>\n    <gic supported='no'/>\n"
             "    <vmcoreinfo supported='yes'/>\n  </features>\n</domainCapabilities>\n")
    return "".join(o)



