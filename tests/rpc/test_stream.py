"""Stream packets (shared/rpc-protocol.md §1 "Streams"): building and reading them."""
from __future__ import annotations

import pytest

from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import error, libvirtError
from pyvirt.rpc.packet import MessageType, Status, build_frame, parse_packet
from pyvirt.rpc.stream import (
    CHUNK,
    StreamKey,
    abort_frame,
    data_frames,
    end_frame,
    eof_frame,
    error_frame,
    read_item,
)

KEY = StreamKey(0x20008086, 201, 7)


def test_data_is_chunked_at_libvirts_legacy_payload_size() -> None:
    data = bytes(range(256)) * ((2 * CHUNK + 10) // 256 + 1)
    frames = data_frames(KEY, data)
    assert len(frames) == 3
    pkts = [parse_packet(f) for f in frames]
    assert all(StreamKey.of(p) == KEY and p.type == MessageType.STREAM
               and p.status == Status.CONTINUE for p in pkts)
    assert [len(p.payload) for p in pkts] == [CHUNK, CHUNK, len(data) - 2 * CHUNK]
    assert b"".join(read_item(p).data for p in pkts) == data
    assert data_frames(KEY, b"") == []


def test_end_abort_and_error_frames() -> None:
    eof = parse_packet(eof_frame(KEY))
    assert (eof.status, eof.payload, read_item(eof).data) == (Status.CONTINUE, b"", b"")
    end = parse_packet(end_frame(KEY))
    assert (end.type, end.status, end.payload) == (MessageType.STREAM, Status.OK, b"")
    assert len(end_frame(KEY)) == 28
    assert read_item(end).status == Status.OK
    ab = read_item(parse_packet(abort_frame(KEY)))
    assert (ab.status, ab.error) == (Status.ERROR, None)
    err = read_item(parse_packet(error_frame(
        KEY, error(ErrorNumber.RPC, ErrorDomain.RPC, "stream had I/O failure"))))
    assert err.status == Status.ERROR and err.error is not None
    assert err.error.get_error_code() == ErrorNumber.RPC
    assert "stream had I/O failure" in str(err.error)


@pytest.mark.parametrize("mtype,status,payload,message", [
    (MessageType.STREAM, 7, b"", "stream packet with unexpected status 7"),
    (MessageType.STREAM, Status.OK, b"junk", "stream end with 4 bytes of payload"),
    (MessageType.STREAM, Status.ERROR, b"\x00\x00\x00", "Unable to decode the stream error"),
    (MessageType.STREAM_HOLE, Status.CONTINUE, b"\x00" * 12, "Unexpected stream hole"),
    (MessageType.REPLY, Status.OK, b"", "Unexpected message type: 1"),
])
def test_packets_that_are_no_stream_data_are_clear_rpc_errors(
        mtype: int, status: int, payload: bytes, message: str) -> None:
    frame = build_frame(KEY.header(status)._replace(type=mtype), payload)
    with pytest.raises(libvirtError) as e:
        read_item(parse_packet(frame))
    assert e.value.get_error_code() == ErrorNumber.RPC
    assert e.value.get_error_domain() == ErrorDomain.RPC
    assert message in str(e.value)
