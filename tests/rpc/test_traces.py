"""Known answers: every frame real virsh / libvirt-python and libvirtd 9.0.0 exchanged
(shared/rpc-traces.txt) decodes, and re-encodes byte for byte; §5.1's annotated values."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from pyvirt.rpc import xdr
from pyvirt.rpc.packet import (
    FrameReader,
    Header,
    MessageType,
    Packet,
    Status,
    encode_frame,
    parse_packet,
)
from pyvirt.rpc.procedures import (
    REMOTE,
    REMOTE_ERROR,
    ProgramNumber,
    RemoteDomainEventLifecycleMsg,
    RemoteNonnullDomain,
    RemoteVcpuInfo,
    lookup,
)
from pyvirt.rpc.xdr import XDRError

from .traces import TraceFrame, frames

BLOCKS = sorted({f.block for f in frames()})
PREFIX = {ProgramNumber.QEMU: "QEMU_", ProgramNumber.KEEPALIVE: "KEEPALIVE_"}


def codec_for(pkt: Packet) -> xdr.Codec[Any]:
    """The codec of a packet's payload, as a peer would pick it."""
    proc = lookup(pkt.prog, pkt.proc)
    assert proc is not None, f"procedure {pkt.prog:#x}/{pkt.proc} is not described"
    if pkt.status == Status.ERROR:
        return REMOTE_ERROR
    if pkt.type == MessageType.MESSAGE:
        assert proc.msg is not None
        return proc.msg
    return proc.args if pkt.type == MessageType.CALL else proc.ret


def decoded(name: str, kind: str, block: str | None = None) -> Iterator[Any]:
    """Decoded payloads of the complete frames of procedure `name` and kind CALL/REPLY/MSG."""
    for f in frames():
        if f.name == name and f.kind == kind and f.complete and block in (None, f.block):
            pkt = parse_packet(f.data)
            yield pkt.decode(codec_for(pkt))


def test_the_capture_is_all_there() -> None:
    assert len(BLOCKS) == 78   # of the 79 blocks, one has no frames (virsh uri)
    assert len(frames()) == 734
    assert sum(f.complete for f in frames()) == 704


@pytest.mark.parametrize("block", BLOCKS)
def test_complete_frames_round_trip_byte_for_byte(block: str) -> None:
    for f in frames():
        if f.block != block or not f.complete:
            continue
        pkt = parse_packet(f.data)
        proc = lookup(pkt.prog, pkt.proc)
        assert proc is not None and PREFIX.get(pkt.prog, "") + proc.name == f.name
        assert (pkt.serial, pkt.proc) == (f.serial, f.proc)
        codec = codec_for(pkt)
        value = pkt.decode(codec)
        assert encode_frame(pkt.header, codec, value) == f.data, (f.name, f.kind)


def _cut(f: TraceFrame) -> bytes:
    """A cut frame with its length word made to match what was captured."""
    return len(f.data).to_bytes(4, "big") + f.data[4:]


@pytest.mark.parametrize("frame", [f for f in frames() if not f.complete],
                         ids=lambda f: f"{f.name}-{f.kind}")
def test_cut_frames_are_incomplete_and_their_prefix_is_rejected(frame: TraceFrame) -> None:
    assert FrameReader().feed(frame.data) == []
    pkt = parse_packet(_cut(frame))
    with pytest.raises(XDRError):
        pkt.decode(codec_for(pkt))


def test_every_traced_procedure_is_described() -> None:
    seen = {(parse_packet(_cut(f)).prog, f.proc) for f in frames()}
    assert all(lookup(prog, proc) is not None for prog, proc in seen)
    assert len(seen) == 95


# --- §5.1, field by field ---------------------------------------------------------------

def test_auth_list_and_connect_open() -> None:
    assert next(decoded("AUTH_LIST", "REPLY")) == ([0],)
    assert next(decoded("CONNECT_OPEN", "CALL")) == ("qemu:///system", 0)
    assert next(decoded("CONNECT_OPEN", "CALL", "virsh unix socket readonly (-r) list")) == (
        "qemu:///system", 1)
    assert next(decoded("CONNECT_OPEN", "CALL", "virsh -c remote+tcp://127.0.0.1:16598/ uri")) \
        == ("", 0)
    assert {v.feature for v in decoded("CONNECT_SUPPORTS_FEATURE", "CALL")} == {10, 14, 15}


def test_lookup_and_list_all_domains() -> None:
    dom = next(decoded("DOMAIN_LOOKUP_BY_NAME", "REPLY")).dom
    assert dom == RemoteNonnullDomain("rpctrace", bytes.fromhex("992b0836f6864881b0f8e5d03e0bd304"),
                                      -1)
    lists = list(decoded("CONNECT_LIST_ALL_DOMAINS", "REPLY"))
    assert lists[0] == ([], 0)
    assert lists[1] == ([dom], 1)
    assert next(decoded("CONNECT_LIST_ALL_DOMAINS", "CALL")) == (1, 3)


def test_domain_info_state_and_vcpus() -> None:
    info = next(decoded("DOMAIN_GET_INFO", "REPLY", "virsh dominfo (running)"))
    assert info == (1, 65536, 65536, 1, 0x1E65FB80)
    assert (info.state, info.nrVirtCpu) == (1, 1)
    assert next(decoded("DOMAIN_GET_STATE", "REPLY")) == (5, 0)
    vcpus = next(decoded("DOMAIN_GET_VCPUS", "REPLY", "virsh vcpuinfo"))
    assert vcpus.info == [RemoteVcpuInfo(0, 1, 0x6127D380, 1)]
    assert vcpus.cpumaps == b"\x03"


def test_node_info_reply_as_annotated() -> None:
    """The capture cut NODE_GET_INFO's reply; §5.1 gives its last 28 bytes."""
    cut = next(f for f in frames() if f.name == "NODE_GET_INFO" and f.kind == "REPLY")
    value = (b"x86_64", 4548824, 2, 2596, 1, 1, 2, 1)
    frame = encode_frame(parse_packet(_cut(cut)).header, REMOTE["NODE_GET_INFO"].ret, value)
    assert len(frame) == 188 and frame[:len(cut.data)] == cut.data
    assert frame[-28:].hex() == ("004568d8" "00000002" "00000a24" "00000001" "00000001"
                                 "00000002" "00000001")
    decoded_info = parse_packet(frame).decode(REMOTE["NODE_GET_INFO"].ret)
    assert xdr.cstring(decoded_info.model) == "x86_64" and decoded_info.mhz == 2596


def test_security_model_and_label_chars() -> None:
    assert next(decoded("NODE_GET_SECURITY_MODEL", "REPLY")) == (b"none\0", b"0\0")
    assert next(decoded("DOMAIN_GET_SECURITY_LABEL", "REPLY")) == (b"\0", 0)


def test_storage_infos_use_widened_chars() -> None:
    assert next(decoded("STORAGE_VOL_GET_INFO", "REPLY")) == (0, 1048576, 1048576)
    pool = next(decoded("STORAGE_POOL_GET_INFO", "REPLY"))
    assert pool.state == 2


def test_lifecycle_events() -> None:
    events = list(decoded("DOMAIN_EVENT_CALLBACK_LIFECYCLE", "MSG"))
    first = events[0]
    assert first.callbackID == 0
    assert first.msg == RemoteDomainEventLifecycleMsg(
        RemoteNonnullDomain("rpctrace", bytes.fromhex("19bee2d3daa746cba565c084e21603d4"), 5), 3, 0)
    stopped = [e.msg for e in events if e.msg.event == 5]
    assert stopped and all(m.dom.id == -1 for m in stopped)   # STOPPED carries id -1
    for f in frames():
        if f.name == "DOMAIN_EVENT_CALLBACK_LIFECYCLE":
            assert parse_packet(f.data).type == MessageType.MESSAGE and f.serial == 1


def test_event_registration() -> None:
    assert next(decoded("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", "CALL")) == (0, None)
    assert next(decoded("CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY", "REPLY")) == (0,)


def test_qemu_monitor_command() -> None:
    calls = list(decoded("QEMU_DOMAIN_MONITOR_COMMAND", "CALL"))
    assert ("info name", 1) in [(c.cmd, c.flags) for c in calls]
    replies = [r.result for r in decoded("QEMU_DOMAIN_MONITOR_COMMAND", "REPLY")]
    assert "rpctrace\r\n" in replies


def test_keepalive_ping_pong() -> None:
    for f in frames():
        if f.name.startswith("KEEPALIVE_"):
            pkt = parse_packet(f.data)
            assert (pkt.prog, pkt.type, pkt.serial, len(f.data)) == (
                ProgramNumber.KEEPALIVE, MessageType.MESSAGE, 0, 28)
    pong = Header(ProgramNumber.KEEPALIVE, 1, 2, MessageType.MESSAGE, 0, Status.OK)
    assert any(f.data == encode_frame(pong, xdr.VOID, None) for f in frames())


def test_memory_peek_and_cpu_map() -> None:
    assert next(decoded("DOMAIN_MEMORY_PEEK", "CALL")).flags == 2
    assert next(decoded("DOMAIN_MEMORY_PEEK", "REPLY")) == (bytes(16),)
    assert next(decoded("NODE_GET_CPU_MAP", "REPLY")) == (b"", 0, 2)


def test_save_restore_flags_optional_dxml() -> None:
    save = next(decoded("DOMAIN_SAVE_FLAGS", "CALL"))
    assert save.dxml is None and save.to.endswith(".save")
    assert next(decoded("DOMAIN_RESTORE_FLAGS", "CALL")).from_ == save.to
