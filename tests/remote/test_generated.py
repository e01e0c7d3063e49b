"""Both ends of the wire come from the descriptions: coverage in both directions."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bindings.gen import remote as gen
from bindings.gen.model import load
from pyvirt.daemon import _dispatch_gen, procs
from pyvirt.drivers import base
from pyvirt.drivers.remote import _slots_gen
from pyvirt.drivers.remote.driver import RemoteDriver
from pyvirt.rpc import procedures as P

# Procedures on the wire that pyvirtd answers with VIR_ERR_NO_SUPPORT, and why: no call
# of pyvirt's API maps onto them yet (streams, migration, typed-parameter stats,
# network and pool events, SASL).
NOT_SERVED = {
    "DOMAIN_BLOCK_PEEK", "DOMAIN_ABORT_JOB", "DOMAIN_GET_JOB_STATS", "DOMAIN_OPEN_CONSOLE",
    "STORAGE_VOL_UPLOAD", "STORAGE_VOL_DOWNLOAD",
    "DOMAIN_MIGRATE_BEGIN3_PARAMS", "DOMAIN_MIGRATE_PREPARE3_PARAMS",
    "DOMAIN_MIGRATE_PREPARE_TUNNEL3_PARAMS", "DOMAIN_MIGRATE_PERFORM3_PARAMS",
    "DOMAIN_MIGRATE_FINISH3_PARAMS", "DOMAIN_MIGRATE_CONFIRM3_PARAMS",
    "CONNECT_NETWORK_EVENT_REGISTER_ANY", "CONNECT_NETWORK_EVENT_DEREGISTER_ANY",
    "CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY", "CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY",
}


def test_every_remote_call_is_served_or_named() -> None:
    served = set(_dispatch_gen.HANDLERS) | {n for p, n in procs.HANDLERS if p == P.REMOTE.number}
    calls = {p.number: p.name for p in P.REMOTE.procedures.values() if not p.is_message}
    unserved = {name for n, name in calls.items() if n not in served}
    assert unserved == NOT_SERVED


def test_every_described_procedure_has_a_server_side() -> None:
    served = set(_dispatch_gen.HANDLERS) | {n for p, n in procs.HANDLERS if p == P.REMOTE.number}
    for m in load().methods:
        for c in m.c:
            if c.proc and not m.handwritten:
                assert P.REMOTE[c.proc].number in served, c.proc


def test_every_slot_with_a_procedure_is_filled_by_the_remote_driver() -> None:
    for slot, ms in load().slots().items():
        if not any(c.proc for m in ms for c in m.c) and slot != "domain_qemu_monitor_command":
            continue
        impl = getattr(RemoteDriver, slot)
        table = {"hypervisor": base.HypervisorDriver, "network": base.NetworkDriver,
                 "storage": base.StorageDriver}[ms[0].table]
        assert impl is not getattr(table, slot), f"{slot} is left NO_SUPPORT"


def test_hand_written_parts_exist_where_the_generator_says() -> None:
    for name in gen.HANDWRITTEN_SERVER:
        key = (P.REMOTE.number, P.REMOTE[name].number)
        assert key in procs.HANDLERS or key in procs.STREAM_OPENERS, name
    for slot in gen.HANDWRITTEN_CLIENT:
        assert slot in vars(RemoteDriver), slot
        assert slot not in vars(_slots_gen.GeneratedSlots), slot


def test_remote_driver_defines_no_public_method_that_is_not_a_slot() -> None:
    public = {n for n in vars(RemoteDriver) if not n.startswith("_")}
    public |= {n for n in vars(_slots_gen.GeneratedSlots) if not n.startswith("_")}
    assert public - set(base.SLOTS) <= {"name", "close"}


def test_event_tables_agree() -> None:
    for event_id, (proc, _) in _dispatch_gen.EVENTS.items():
        assert _slots_gen.EVENTS[proc][0] == event_id
    assert set(_dispatch_gen.SKIPPED_EVENTS) >= {"TUNABLE", "JOB_COMPLETED"}
