"""Emit pyvirt/drivers/base.py: the driver tables, one method per slot.

A driver fills the slots it supports; an unfilled slot raises VIR_ERR_NO_SUPPORT naming
the public call, as libvirt's empty driver-table entries do.
"""
from __future__ import annotations

from .common import HEADER
from .hints import HANDLE_OF, slot_hint
from .model import Method, load

TABLES = {"hypervisor": "HypervisorDriver", "network": "NetworkDriver",
          "storage": "StorageDriver"}
ORIGIN = {"hypervisor": "ErrorDomain.DOMAIN", "network": "ErrorDomain.NETWORK",
          "storage": "ErrorDomain.STORAGE"}
HANDLE_ARG = {"Domain": "dom", "Network": "net", "StoragePool": "pool", "StorageVol": "vol"}


def _slot(slot: str, ms: list[Method]) -> list[str]:
    m = ms[0]
    params = ["self"]
    if m.cls in HANDLE_ARG:
        params.append(f"{HANDLE_ARG[m.cls]}: {HANDLE_OF[m.cls]}")
    params += [f"{a.name}: {slot_hint(a.type, False)}" for a in m.slot_params()]
    callers = ", ".join(c.name for mm in ms for c in mm.c) or m.primary_c
    return [f"    def {slot}({', '.join(params)}) -> {slot_hint(m.ret, True)}:",
            f'        """{m.doc} ({callers})"""',
            f"        raise no_support({m.primary_c!r}, {ORIGIN[m.table]})", ""]


def render() -> str:
    api = load()
    slots = api.slots()
    out = [HEADER, '"""The driver tables: one typed interface per subsystem.', "",
           "Slots receive handles (objects with name/raw_uuid/id, see drivers/handles.py) and",
           "return plain refs (tuples) for objects, records from pyvirt.types for results.",
           '"""', "from __future__ import annotations", "",
           "from typing import Any, Callable", "", "from .. import types as T",
           "from ..constants import ErrorDomain",
           "from .handles import (Driver, DomainHandle, DomainRef, NetworkHandle, NetworkRef,",
           "                      StoragePoolHandle, StoragePoolRef, StorageVolHandle,",
           "                      StorageVolRef, no_support)", "",
           "__all__ = ['HypervisorDriver', 'NetworkDriver', 'StorageDriver', 'SLOTS', 'Driver',",
           "           'DomainRef', 'NetworkRef', 'StoragePoolRef', 'StorageVolRef',",
           "           'DomainHandle', 'NetworkHandle', 'StoragePoolHandle', 'StorageVolHandle']",
           ""]
    for table, cls in TABLES.items():
        out += ["", f"class {cls}(Driver):", f'    """The {table} driver table."""', ""]
        for slot, ms in sorted(slots.items()):
            if ms[0].table == table:
                out += _slot(slot, ms)
    out.append("")
    out.append("# slot name -> table, for the test that drivers define no unknown public method")
    out.append("SLOTS = {")
    for slot, ms in sorted(slots.items()):
        out.append(f"    {slot!r}: {ms[0].table!r},")
    out.append("}")
    out.append("")
    return "\n".join(out)
