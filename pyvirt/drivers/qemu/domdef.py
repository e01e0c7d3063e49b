"""Domain definitions as the QEMU driver accepts them: defaults, checks, live copies.

`load_qemu_domain` is pyvirt.xml's parse + normalise with the QEMU driver's defaults
(arch x86_64, the binary's default machine, its emulator path), followed by what
libvirt's qemuDomainDefPostParse adds for x86 guests (the machine type written in its
canonical form, a pci-root controller, PS/2 mouse and keyboard, a USB controller and a
virtio memballoon unless the XML says otherwise) and the checks libvirt makes on define
(virt type and machine type supported by the emulator).
"""
from __future__ import annotations

import copy
import os
import uuid as _uuid

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...xml.devices_parse import insert_controller
from ...xml.domain_model import ControllerDef, DomainDef, InputDef, MemballoonDef
from ...xml.domain_normalize import DomainDefaults, load_domain
from .caps import QemuCaps

__all__ = ["live_copy", "load_qemu_domain", "raw_uuid"]

Q = ErrorDomain.QEMU


def raw_uuid(d: DomainDef) -> bytes:
    return _uuid.UUID(d.uuid).bytes


def load_qemu_domain(xml: str, caps: QemuCaps) -> DomainDef:
    """Parse, normalise and check a domain XML for this driver."""
    defaults = DomainDefaults(arch="x86_64", machine=caps.canonical_machine(None),
                              emulator=caps.emulator, video_type="vga")
    d = load_domain(xml, defaults)
    if d.type not in ("qemu", "kvm"):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"Emulator '{caps.emulator}' does not support virt type '{d.type}'")
    if d.os.arch not in ("x86_64", "i686"):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"No guest options available for arch '{d.os.arch}'")
    machine = caps.canonical_machine(d.os.machine)
    if machine is None:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"Emulator '{caps.emulator}' does not support machine type "
                    f"'{d.os.machine}'")
    d.os.machine = machine
    emulator = d.devices.emulator or caps.emulator
    if not os.path.isabs(emulator):
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"emulator '{emulator}' must be an absolute path")
    maxcpus = caps.max_cpus(machine)
    if (d.vcpu or 1) > maxcpus:
        raise error(ErrorNumber.CONFIG_UNSUPPORTED, Q,
                    f"Maximum CPUs greater than specified machine type limit {maxcpus}")
    _implicit_devices(d, machine)
    return d


def _implicit_devices(d: DomainDef, machine: str) -> None:
    """qemuDomainDefAddDefaultDevices for x86 pc/q35 machines."""
    dv = d.devices
    q35 = "q35" in machine
    if not any(c.type == "pci" and c.index == 0 for c in dv.controllers):
        insert_controller(dv.controllers,
                          ControllerDef("pci", 0, "pcie-root" if q35 else "pci-root"))
    if not any(c.type == "usb" for c in dv.controllers):
        insert_controller(dv.controllers,
                          ControllerDef("usb", 0, "qemu-xhci" if q35 else "piix3-uhci"))
    if q35 and not any(c.type == "sata" and c.index == 0 for c in dv.controllers):
        insert_controller(dv.controllers, ControllerDef("sata", 0))
    # implicit PS/2 input for x86 (virDomainDefAddImplicitDevices)
    if not any(i.type == "mouse" and i.bus == "ps2" for i in dv.inputs):
        dv.inputs.append(InputDef("mouse", "ps2"))
    if not any(i.type == "keyboard" and i.bus == "ps2" for i in dv.inputs):
        dv.inputs.append(InputDef("keyboard", "ps2"))
    if dv.memballoon is None:
        dv.memballoon = MemballoonDef("virtio")


def live_copy(d: DomainDef) -> DomainDef:
    """A copy of the definition to run (aliases and runtime paths are added to it)."""
    return copy.deepcopy(d)
