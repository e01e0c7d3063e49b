"""The QEMU command line: a pure function from a domain's live definition to qemu argv.

`build_argv(d, spec)` decides nothing about the host: what it needs to know (emulator,
accelerator, canonical machine type, the monitor's listening fd, the shared RAM file)
comes in `LaunchSpec`, and device aliases come from `assign_aliases` (run first, so
the live XML shows the same names).  Tests compare its output with golden files.

Choices follow libvirt 9.0's qemu_command.c where they matter to a guest: QEMU starts
paused (-S) with -nodefaults -no-user-config, the monitor is a unix socket the driver
created and passes in by fd (libvirt does the same to avoid racing QEMU's bind), disks
are -blockdev storage + format nodes under a -device front end, and lifecycle actions
map onto QEMU's -action.  Where libvirt would talk to the host network (tap, bridge)
pyvirt offers user-mode networking only, always with restrict=on, and VNC only on
loopback or a unix socket.
"""
from __future__ import annotations

from dataclasses import dataclass

from lxml import etree  # type: ignore[import-untyped]

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.domain_model import DomainDef
from .devices import DeviceArgs, device_args

__all__ = [
    "ACTION_PANIC",
    "ACTION_REBOOT",
    "ACTION_SHUTDOWN",
    "LaunchSpec",
    "argv_text",
    "assign_aliases",
    "build_argv",
    "esc",
    "memory_backing",
]

Q = ErrorDomain.QEMU

# on_poweroff / on_reboot / on_crash -> QEMU's -action (qapi/run-state.json).  A guest
# shutdown always pauses QEMU (libvirt's -no-shutdown): the driver then stops it, or
# resets it for on_poweroff=restart, and a QEMU found paused in "shutdown" state by a
# new owner tells it the guest shut down while nobody watched.
ACTION_SHUTDOWN = {"destroy": "pause", "restart": "pause", "rename-restart": "pause",
                   "preserve": "pause"}
ACTION_REBOOT = {"destroy": "shutdown", "restart": "reset", "rename-restart": "shutdown",
                 "preserve": "shutdown"}
# A panic always pauses QEMU; the driver then carries out on_crash itself, as libvirt's
# processGuestPanicEvent does (destroy, fake reboot, or leave it crashed).
ACTION_PANIC = {"destroy": "pause", "coredump-destroy": "pause", "preserve": "pause",
                "restart": "pause", "rename-restart": "pause", "coredump-restart": "pause"}


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """What the command line needs from the host side, decided before it is built."""

    emulator: str                   # the qemu-system binary
    accel: str                      # "kvm" or "tcg"
    machine: str                    # canonical machine type (pc-i440fx-7.2, pc-q35-7.2)
    monitor_fd: int                 # a listening unix socket QEMU inherits
    ram_path: str | None = None     # guest RAM file when memory is shared and file-backed
    vnc_display_base: int = 0       # -vnc :N,to=... search start (port 5900 + N)


def esc(value: str) -> str:
    """QEMU's keyval/opts escaping: a comma in a value is written twice."""
    return value.replace(",", ",,")


def memory_backing(d: DomainDef) -> dict[str, str]:
    """<memoryBacking>: {'source': file|memfd|anonymous, 'access': shared|private}."""
    out: dict[str, str] = {}
    for raw in d.extra:
        if raw.tag != "memoryBacking":
            continue
        el = etree.fromstring(raw.xml)
        src = el.find("source")
        if src is not None and src.get("type"):
            out["source"] = src.get("type", "")
        acc = el.find("access")
        if acc is not None and acc.get("mode"):
            out["access"] = acc.get("mode", "")
        if el.find("hugepages") is not None:
            out["hugepages"] = "yes"
        if el.find("locked") is not None:
            out["locked"] = "yes"
    return out


def assign_aliases(d: DomainDef) -> None:
    """Give every device the alias libvirt's qemuAssignDeviceAliases would (in place):
    virtio-disk0, ide0-0-0, sata0-0-0, scsi0-0-0-0, net0, serial0, console0, video0,
    input0, rng0, balloon0, ..."""
    dv = d.devices
    for dk in dv.disks:
        if dk.alias:
            continue
        bus = dk.target_bus or "ide"
        a = dk.address
        if bus == "virtio":
            dk.alias = f"virtio-disk{_index(dk.target_dev)}"
        elif bus in ("ide", "sata", "fdc") and a is not None and a.type == "drive":
            dk.alias = f"{bus}{a.controller}-{a.bus}-{a.unit}"
        elif bus == "scsi" and a is not None and a.type == "drive":
            dk.alias = f"scsi{a.controller}-{a.bus}-{a.target}-{a.unit}"
        else:
            dk.alias = f"{bus}-disk{_index(dk.target_dev)}"
    for c in dv.controllers:
        if not c.alias:
            c.alias = _controller_alias(c.type, c.index or 0, d.os.machine or "")
    for i, n in enumerate(dv.interfaces):
        n.alias = n.alias or f"net{i}"
    for ch in dv.serials:
        ch.alias = ch.alias or f"serial{ch.target_port or 0}"
    for i, ch in enumerate(dv.consoles):
        if i == 0 and ch.target_type == "serial" and dv.serials:
            ch.alias = dv.serials[0].alias     # the console is serial 0 (compat alias)
        else:
            ch.alias = ch.alias or f"console{ch.target_port or i}"
    for i, ch in enumerate(dv.channels):
        ch.alias = ch.alias or f"channel{i}"
    for i, ch in enumerate(dv.parallels):
        ch.alias = ch.alias or f"parallel{i}"
    for i, inp in enumerate(dv.inputs):
        inp.alias = inp.alias or f"input{i}"
    for i, v in enumerate(dv.videos):
        v.alias = v.alias or f"video{i}"
    for i, r in enumerate(dv.rngs):
        r.alias = r.alias or f"rng{i}"
    if dv.memballoon is not None and dv.memballoon.model != "none":
        dv.memballoon.alias = dv.memballoon.alias or "balloon0"


def _index(dev: str) -> int:
    from ...xml.devices_parse import disk_name_index
    return max(0, disk_name_index(dev))


def _controller_alias(ctype: str, index: int, machine: str) -> str:
    if ctype == "pci" and index == 0:
        return "pcie.0" if "q35" in machine else "pci.0"
    if ctype == "sata" and index == 0 and "q35" in machine:
        return "ide"        # q35's built-in AHCI is QEMU's "ide" bus
    if ctype in ("ide", "usb") and index == 0:
        return ctype
    return f"{ctype}{index}"


def build_argv(d: DomainDef, spec: LaunchSpec) -> list[str]:
    """The qemu-system argv that runs `d` (aliases already assigned), paused (-S)."""
    if spec.accel not in ("kvm", "tcg"):
        raise error(ErrorNumber.INTERNAL_ERROR, Q, f"unknown accelerator {spec.accel}")
    argv = [spec.emulator, "-name", f"guest={esc(d.name)},debug-threads=on", "-S"]
    mb = memory_backing(d)
    machine = [spec.machine, "usb=off", "dump-guest-core=off"]
    if spec.ram_path is not None:
        machine.append("memory-backend=pc.ram")
    argv += ["-machine", ",".join(machine), "-accel", spec.accel]
    argv += _cpu(d, spec)
    argv += _memory(d, spec, mb)
    argv += _smp(d)
    if d.uuid:
        argv += ["-uuid", d.uuid]
    argv += ["-no-user-config", "-nodefaults"]
    argv += ["-chardev", f"socket,id=charmonitor,fd={spec.monitor_fd},server=on,wait=off",
             "-mon", "chardev=charmonitor,id=monitor,mode=control"]
    argv += _clock(d)
    argv += _actions(d)
    argv += _os(d)
    devs: DeviceArgs = device_args(d, spec.machine, spec.vnc_display_base)
    argv += devs.args
    if not devs.has_display:
        argv += ["-display", "none"]
    argv += ["-msg", "timestamp=off"]
    return argv


def _cpu(d: DomainDef, spec: LaunchSpec) -> list[str]:
    cpu = d.cpu
    if cpu is None:
        return []
    if cpu.mode == "host-passthrough":
        if spec.accel != "kvm":
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        "host-passthrough CPU mode requires a KVM domain")
        model = "host"
    elif cpu.mode == "maximum":
        model = "max"
    elif cpu.mode == "host-model":
        # libvirt expands host-model into a named model from domcapabilities; QEMU's
        # own expansion of the host CPU is "host" (KVM) or "max" (TCG)
        model = "host" if spec.accel == "kvm" else "max"
    else:
        if not cpu.model:
            if cpu.sockets or cpu.cores or cpu.threads:
                return []       # a topology-only <cpu>: QEMU's default model
            raise error(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN,
                        "Missing CPU model name")
        model = cpu.model
    parts = [esc(model)]
    if cpu.mode == "host-model" and spec.accel == "kvm":
        parts.append("migratable=on")
    for f in cpu.features:
        if f.policy in ("require", "force"):
            parts.append(f"{esc(f.name)}=on")
        elif f.policy in ("disable", "forbid"):
            parts.append(f"{esc(f.name)}=off")
    return ["-cpu", ",".join(parts)]


def _memory(d: DomainDef, spec: LaunchSpec, mb: dict[str, str]) -> list[str]:
    kib = d.memory or 0
    size = [f"size={kib}k"]
    if d.max_memory and d.max_memory_slots:
        size += [f"slots={d.max_memory_slots}", f"maxmem={d.max_memory}k"]
    out = ["-m", ",".join(size)]
    if spec.ram_path is not None:
        share = "on" if mb.get("access") == "shared" else "off"
        out += ["-object", f"memory-backend-file,id=pc.ram,mem-path={esc(spec.ram_path)},"
                           f"share={share},size={kib * 1024}"]
    if mb.get("locked"):
        out += ["-overcommit", "mem-lock=on"]
    return out


def _smp(d: DomainDef) -> list[str]:
    maxv = d.vcpu or 1
    cur = d.vcpu_current or maxv
    cpu = d.cpu
    if cpu is not None and cpu.sockets:
        sockets, dies = cpu.sockets, cpu.dies or 1
        cores, threads = cpu.cores or 1, cpu.threads or 1
        if sockets * dies * cores * threads != maxv:
            raise error(ErrorNumber.XML_ERROR, ErrorDomain.DOMAIN,
                        "Maximum CPUs greater than topology limit")
    else:
        sockets, dies, cores, threads = maxv, 1, 1, 1
    spec = f"{cur},maxcpus={maxv},sockets={sockets}"
    if dies > 1:
        spec += f",dies={dies}"
    return ["-smp", f"{spec},cores={cores},threads={threads}"]


def _clock(d: DomainDef) -> list[str]:
    ck = d.clock
    base = "utc"
    if ck is not None:
        if ck.offset == "localtime":
            base = "localtime"
        elif ck.offset == "variable" and ck.adjustment not in (None, "reset"):
            # QEMU wants the start date: now + adjustment, as libvirt computes it
            import datetime
            t = datetime.datetime.now(datetime.UTC) + \
                datetime.timedelta(seconds=int(ck.adjustment or 0))
            base = t.strftime("%Y-%m-%dT%H:%M:%S")
        elif ck.offset not in ("utc", "variable"):
            raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                        f"unsupported clock offset '{ck.offset}'")
    return ["-rtc", f"base={base}"]


def _actions(d: DomainDef) -> list[str]:
    shutdown = ACTION_SHUTDOWN.get(d.on_poweroff or "destroy", "poweroff")
    reboot = ACTION_REBOOT.get(d.on_reboot or "restart", "reset")
    panic = ACTION_PANIC.get(d.on_crash or "destroy", "shutdown")
    return ["-action", f"shutdown={shutdown},reboot={reboot},panic={panic}"]


_BOOT = {"fd": "a", "hd": "c", "cdrom": "d", "network": "n"}


def _os(d: DomainDef) -> list[str]:
    os_ = d.os
    if os_.type != "hvm":
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"emulator does not support OS type '{os_.type}'")
    out: list[str] = []
    if os_.loader is not None and os_.loader.path:
        out += ["-bios", os_.loader.path]
    if os_.kernel:
        out += ["-kernel", os_.kernel]
    if os_.initrd:
        out += ["-initrd", os_.initrd]
    if os_.cmdline:
        out += ["-append", os_.cmdline]
    if os_.dtb:
        out += ["-dtb", os_.dtb]
    boot = []
    if os_.boot:
        boot.append("order=" + "".join(_BOOT[b] for b in os_.boot if b in _BOOT))
    if os_.bootmenu:
        boot.append("menu=" + ("on" if os_.bootmenu == "yes" else "off"))
        if os_.bootmenu_timeout is not None:
            boot.append(f"splash-time={os_.bootmenu_timeout}")
    boot.append("strict=on")
    if os_.boot or os_.bootmenu:
        out += ["-boot", ",".join(boot)]
    return out


def argv_text(argv: list[str]) -> str:
    """argv as one shell-quoted line per option (golden files, logs)."""
    import shlex
    lines = [shlex.quote(argv[0])]
    i = 1
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            lines.append(f"{a} {shlex.quote(argv[i + 1])}")
            i += 2
        else:
            lines.append(a)
            i += 1
    return " \\\n".join(lines) + "\n"

