"""Framing: header layout, limits, FD count word, the streaming reader and builders (§1)."""
from __future__ import annotations

import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.rpc import packet, xdr
from pyvirt.rpc.packet import (
    FRAME_MAX,
    FrameError,
    FrameReader,
    Header,
    MessageType,
    Status,
    build_frame,
    encode_frame,
    parse_packet,
    read_frames,
)
from pyvirt.rpc.procedures import KEEPALIVE, REMOTE, ProgramNumber

from .traces import frames

AUTH_LIST_CALL = bytes.fromhex("0000001c200080860000000100000042000000000000000000000000")
AUTH_LIST_REPLY = bytes.fromhex(
    "00000024200080860000000100000042000000010000000000000000" "0000000100000000")
PING = bytes.fromhex("0000001c" "6b656570" "00000001" "00000001" "00000002" "00000000" "00000000")


def block(label: str) -> list[bytes]:
    return [f.data for f in frames() if f.block == label and f.complete]


def test_limits_of_libvirt_9() -> None:
    assert packet.MESSAGE_MAX == 32 * 1024 * 1024
    assert packet.FRAME_MAX == 33554436
    assert packet.PAYLOAD_MAX == 33554408
    assert packet.MESSAGE_INITIAL == 65536
    assert packet.MESSAGE_LEGACY_PAYLOAD_MAX == 262120
    assert packet.STRING_MAX == 4194304
    assert packet.NUM_FDS_MAX == 32
    assert packet.FRAME_HEADER_SIZE == 28
    assert (packet.REMOTE_PROGRAM, packet.QEMU_PROGRAM, packet.LXC_PROGRAM,
            packet.KEEPALIVE_PROGRAM) == (0x20008086, 0x20008087, 0x00068000, 0x6B656570)
    assert packet.KEEPALIVE_PROGRAM.to_bytes(4, "big") == b"keep"


def test_header_fields_of_a_captured_call() -> None:
    pkt = parse_packet(AUTH_LIST_CALL)
    assert (pkt.prog, pkt.vers, pkt.proc, pkt.type, pkt.serial, pkt.status) == (
        ProgramNumber.REMOTE, 1, 66, MessageType.CALL, 0, Status.OK)
    assert pkt.offset == 28 and pkt.payload == b"" and pkt.nfds == 0


def test_reply_copies_prog_vers_proc_serial() -> None:
    call = parse_packet(AUTH_LIST_CALL).header
    reply = call.reply()
    assert reply == Header(call.prog, call.vers, call.proc, MessageType.REPLY, call.serial, 0)
    assert encode_frame(reply, REMOTE["AUTH_LIST"].ret, ([0],)) == AUTH_LIST_REPLY
    assert call.reply(Status.ERROR, with_fds=True).type == MessageType.REPLY_WITH_FDS


def test_empty_message_is_28_bytes() -> None:
    ping = Header(ProgramNumber.KEEPALIVE, 1, KEEPALIVE["PING"].number, MessageType.MESSAGE, 0,
                  Status.OK)
    assert build_frame(ping) == PING
    msg = KEEPALIVE["PING"].msg
    assert msg is not None and encode_frame(ping, msg, None) == PING


def test_build_and_encode_agree() -> None:
    h = Header(ProgramNumber.REMOTE, 1, 60, MessageType.CALL, 1, Status.OK)
    codec = REMOTE["CONNECT_SUPPORTS_FEATURE"].args
    frame = encode_frame(h, codec, (10,))
    assert frame == build_frame(h, codec.encode((10,)))
    assert frame.hex() == "0000002020008086000000010000003c0000000000000001000000000000000a"


def test_fd_count_word() -> None:
    h = Header(ProgramNumber.QEMU, 1, 7, MessageType.CALL_WITH_FDS, 3, Status.OK)
    frame = build_frame(h, b"\0\0\0\1", nfds=2)
    assert len(frame) == 36 and frame[28:32] == b"\0\0\0\2"
    pkt = parse_packet(frame)
    assert (pkt.nfds, pkt.offset, pkt.payload) == (2, 32, b"\0\0\0\1")
    with pytest.raises(FrameError, match="at most 32"):
        build_frame(h, nfds=33)
    with pytest.raises(FrameError, match="cannot carry FDs"):
        build_frame(h._replace(type=MessageType.CALL), nfds=1)
    too_many = bytearray(build_frame(h))
    too_many[28:32] = (33).to_bytes(4, "big")
    with pytest.raises(FrameError, match="33 FDs"):
        parse_packet(bytes(too_many))
    no_word = bytearray(build_frame(h._replace(type=MessageType.CALL)))
    no_word[16:20] = (MessageType.CALL_WITH_FDS).to_bytes(4, "big")
    with pytest.raises(FrameError, match="without its FD count"):
        parse_packet(bytes(no_word))


def test_parse_rejects_inconsistent_frames() -> None:
    with pytest.raises(FrameError, match="shorter than its header"):
        parse_packet(AUTH_LIST_CALL[:27])
    with pytest.raises(FrameError, match="length word says"):
        parse_packet(AUTH_LIST_CALL + b"\0\0\0\0")


def test_unknown_type_and_status_are_kept_for_the_dispatcher() -> None:
    frame = bytearray(AUTH_LIST_CALL)
    frame[16:20] = (9).to_bytes(4, "big")
    frame[24:28] = (7).to_bytes(4, "big")
    pkt = parse_packet(bytes(frame))
    assert (pkt.type, pkt.status) == (9, 7)


def test_oversized_frames_are_refused_when_built() -> None:
    h = Header(ProgramNumber.REMOTE, 1, 1, MessageType.REPLY, 0, Status.OK)
    with pytest.raises(FrameError, match="exceeds"):
        build_frame(h, bytes(packet.PAYLOAD_MAX + 1))
    with pytest.raises(FrameError, match="exceeds"):
        encode_frame(h, xdr.opaque(FRAME_MAX), bytes(packet.PAYLOAD_MAX - 3))
    with pytest.raises(FrameError, match="bad header"):
        build_frame(h._replace(serial=-1))


def test_reader_byte_by_byte() -> None:
    stream = block("virsh list --all")
    reader = FrameReader()
    got: list[bytes] = []
    for byte in b"".join(stream):
        got += reader.feed(bytes([byte]))
    assert got == stream and reader.pending == 0


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_reader_any_chunking(data: st.DataObject) -> None:
    stream = block("virsh dominfo (shut off)")
    raw = b"".join(stream)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=20)))
    reader = FrameReader()
    got: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(raw)]):
        got += reader.feed(memoryview(raw)[a:b] if a % 2 else bytearray(raw[a:b]))
    assert got == stream


def test_reader_checks_the_length_word_before_the_body() -> None:
    for word in (27, 0, 3, FRAME_MAX + 1, 0xFFFFFFFF):
        reader = FrameReader()
        assert reader.feed(word.to_bytes(4, "big")[:3]) == []
        with pytest.raises(FrameError, match="frame length"):
            reader.feed(word.to_bytes(4, "big")[3:])
        with pytest.raises(FrameError, match="already failed"):
            reader.feed(AUTH_LIST_CALL)
    small = FrameReader(max_frame=64)
    with pytest.raises(FrameError):
        small.feed((65).to_bytes(4, "big"))
    with pytest.raises(ValueError):
        FrameReader(max_frame=FRAME_MAX + 1)


def test_reader_pending_and_wanted() -> None:
    reader = FrameReader()
    assert reader.wanted() == 4
    assert reader.feed(AUTH_LIST_REPLY[:10]) == []
    assert (reader.pending, reader.wanted()) == (10, 26)
    assert reader.packets(AUTH_LIST_REPLY[10:] + PING) == [parse_packet(AUTH_LIST_REPLY),
                                                           parse_packet(PING)]


def test_read_frames_from_a_socket() -> None:
    stream = block("virsh dumpxml")
    a, b = socket.socketpair()
    try:
        def send() -> None:
            for f in stream:
                a.sendall(f)
            a.close()
        t = threading.Thread(target=send)
        t.start()
        assert list(read_frames(b.recv, bufsize=7)) == stream
        t.join()
    finally:
        b.close()


def test_read_frames_eof_inside_a_frame() -> None:
    chunks = [AUTH_LIST_CALL, AUTH_LIST_REPLY[:5], b""]
    it = read_frames(lambda n: chunks.pop(0))
    assert next(it) == AUTH_LIST_CALL
    with pytest.raises(FrameError, match="closed inside a frame"):
        next(it)
