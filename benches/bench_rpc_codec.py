"""Wire codec speed: DOMAIN_GET_INFO, LIST_ALL_DOMAINS of 100 domains, remote_error, framing.

    pytest benches/bench_rpc_codec.py --benchmark-columns=min,median,mean,ops

The daemon's budget is ~130 µs per call end to end (libvirt-python's info() over the
unix socket, shared/PEERS.md); the codec should take a small fraction of it.
"""
from __future__ import annotations

from typing import Any

import pytest

from pyvirt import errors
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.rpc.error import error_to_wire
from pyvirt.rpc.packet import FrameReader, Header, MessageType, Status, encode_frame, parse_packet
from pyvirt.rpc.procedures import REMOTE, REMOTE_ERROR, ProgramNumber, RemoteNonnullDomain
from pyvirt.rpc.xdr import Codec

UUID = bytes.fromhex("992b0836f6864881b0f8e5d03e0bd304")
DOM = RemoteNonnullDomain("rpctrace", UUID, 5)
GET_INFO = REMOTE["DOMAIN_GET_INFO"]
LIST_ALL = REMOTE["CONNECT_LIST_ALL_DOMAINS"]
CASES: dict[str, tuple[Codec[Any], Any]] = {
    "get_info_args": (GET_INFO.args, (DOM,)),
    "get_info_ret": (GET_INFO.ret, (1, 65536, 65536, 1, 0x1E65FB80)),
    "list_all_domains_100_ret": (LIST_ALL.ret, (
        [DOM._replace(name=f"guest-{i:03d}", uuid=i.to_bytes(16, "big"), id=i)
         for i in range(100)], 100)),
    "remote_error": (REMOTE_ERROR, error_to_wire(errors.error(
        ErrorNumber.NO_DOMAIN, ErrorDomain.QEMU, "no domain with matching name 'nosuchdomain'"))),
}
CALL = Header(ProgramNumber.REMOTE, 1, GET_INFO.number, MessageType.CALL, 8, Status.OK)


@pytest.mark.parametrize("case", CASES)
def test_encode(benchmark: Any, case: str) -> None:
    codec, value = CASES[case]
    benchmark(codec.encode, value)


@pytest.mark.parametrize("case", CASES)
def test_decode(benchmark: Any, case: str) -> None:
    codec, value = CASES[case]
    data = codec.encode(value)
    assert benchmark(codec.decode, data) == value


def test_get_info_call_and_reply_frames(benchmark: Any) -> None:
    """What one info() costs in the codec on both sides: build the call, parse it and
    decode its args, build the reply, parse it and decode its ret."""
    ret = CASES["get_info_ret"][1]

    def round_trip() -> Any:
        call = parse_packet(encode_frame(CALL, GET_INFO.args, (DOM,)))
        call.decode(GET_INFO.args)
        reply = parse_packet(encode_frame(call.header.reply(), GET_INFO.ret, ret))
        return reply.decode(GET_INFO.ret)
    assert benchmark(round_trip) == ret


def test_frame_reader_100_frames(benchmark: Any) -> None:
    """Splitting a 64 KiB read holding 100 reply frames."""
    frame = encode_frame(CALL.reply(), GET_INFO.ret, CASES["get_info_ret"][1])
    chunk = frame * 100

    def split() -> int:
        return len(FrameReader().feed(chunk))
    assert benchmark(split) == 100
