"""The QEMU command line: golden argv files for domain XMLs, and refused configurations.

`PYVIRT_REGEN_GOLDEN=1 pytest tests/qemu/test_argv.py` rewrites the .args files; review
the diff before committing it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvirt.drivers.qemu.caps import QemuCaps
from pyvirt.drivers.qemu.command import LaunchSpec, argv_text, assign_aliases, build_argv
from pyvirt.drivers.qemu.domdef import load_qemu_domain
from pyvirt.errors import libvirtError

GOLDEN = Path(__file__).parent / "golden"
EMU = "/usr/bin/qemu-system-x86_64"


def _machine(name: str, alias: str | None, default: bool = False) -> dict[str, object]:
    m: dict[str, object] = {"name": name, "cpu-max": 255 if "i440fx" in name else 288,
                            "deprecated": False}
    if alias:
        m["alias"] = alias
    if default:
        m["is-default"] = True
    return m


CAPS = QemuCaps(
    emulator=EMU, version=7002000, package="",
    machines=[_machine("pc-i440fx-7.2", "pc", True), _machine("pc-q35-7.2", "q35"),
              _machine("pc-i440fx-6.2", None), _machine("none", None)],
    cpus={a: [{"name": n, "unavailable-features": []}
              for n in ("qemu64", "Skylake-Client", "max", "host")] for a in ("tcg", "kvm")},
    kvm=True)


def argv_for(xml: str, *, ram_path: str | None = None) -> list[str]:
    d = load_qemu_domain(xml, CAPS)
    assign_aliases(d)
    accel = "kvm" if d.type == "kvm" else "tcg"
    spec = LaunchSpec(EMU, accel, d.os.machine or "pc-i440fx-7.2", 3, ram_path)
    return build_argv(d, spec)


@pytest.mark.parametrize("name", sorted(p.stem for p in GOLDEN.glob("*.xml")))
def test_golden(name: str) -> None:
    xml = (GOLDEN / f"{name}.xml").read_text()
    ram = f"/dev/shm/pyvirt-test/{name}.ram" if "memoryBacking" in xml else None
    text = argv_text(argv_for(xml, ram_path=ram))
    path = GOLDEN / f"{name}.args"
    if os.environ.get("PYVIRT_REGEN_GOLDEN") == "1" or not path.exists():
        path.write_text(text)
    assert text == path.read_text()


def test_always_there() -> None:
    argv = argv_for((GOLDEN / "minimal.xml").read_text())
    for flag in ("-S", "-nodefaults", "-no-user-config"):
        assert flag in argv
    assert argv[argv.index("-chardev") + 1] == \
        "socket,id=charmonitor,fd=3,server=on,wait=off"
    assert argv[argv.index("-mon") + 1] == "chardev=charmonitor,id=monitor,mode=control"
    assert argv[argv.index("-accel") + 1] == "tcg"
    assert "-display" in argv and "none" in argv


def test_user_networking_is_restricted() -> None:
    argv = argv_for((GOLDEN / "full-pc.xml").read_text())
    nets = [argv[i + 1] for i, a in enumerate(argv) if a == "-netdev"]
    assert nets and all("restrict=on" in n for n in nets)


def _refused(xml: str) -> libvirtError:
    with pytest.raises(libvirtError) as e:
        argv_for(xml)
    return e.value


BASE = """<domain type='qemu'><name>x</name><memory>65536</memory>
<os><type>hvm</type></os><devices>{}</devices></domain>"""


@pytest.mark.parametrize("devices,code,words", [
    ("<graphics type='vnc' listen='0.0.0.0'/>", 67, "loopback"),
    ("<interface type='bridge'><source bridge='br0'/></interface>", 67, "user-mode"),
    ("<interface type='user'><model type='fancy'/></interface>", 67, "NIC model"),
    ("<disk type='network' device='disk'><source protocol='nbd' name='x'/>"
     "<target dev='vda'/></disk>", 67, "disk type"),
    ("<disk type='file' device='disk'><driver type='vmdk'/><source file='/a'/>"
     "<target dev='vda'/></disk>", 67, "format"),
    ("<serial type='tcp'><source mode='bind' host='10.0.0.1' service='1'/></serial>", 67,
     "loopback"),
    ("<graphics type='spice'/>", 67, "VNC"),
])
def test_refused_configs(devices: str, code: int, words: str) -> None:
    err = _refused(BASE.format(devices))
    assert err.get_error_code() == code
    assert words in str(err)


def test_host_passthrough_needs_kvm() -> None:
    xml = BASE.format("").replace("<os>", "<cpu mode='host-passthrough'/><os>")
    assert "KVM" in str(_refused(xml))


def test_virt_type_and_machine_checked_on_define() -> None:
    err = _refused(BASE.format("").replace("type='qemu'", "type='xen'"))
    assert err.get_error_code() == 67
    assert "does not support virt type 'xen'" in str(err)
    err = _refused(BASE.format("").replace("<type>hvm", "<type machine='virt'>hvm"))
    assert "does not support machine type 'virt'" in str(err)


def test_machine_alias_canonical() -> None:
    d = load_qemu_domain(BASE.format(""), CAPS)
    assert d.os.machine == "pc-i440fx-7.2"
    assert d.devices.memballoon is not None and d.devices.memballoon.model == "virtio"


def test_commas_are_escaped() -> None:
    argv = argv_for(BASE.format("<serial type='file'><source path='/a,b'/></serial>"))
    assert "file,id=charserial0,path=/a,,b" in argv
