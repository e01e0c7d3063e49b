"""pyvirtd's console streams on the wire, packet by packet (shared/rpc-protocol.md §1
"Streams"; libvirtd's remote_daemon_stream.c): hand-made STREAM packets against the
real test guest's serial console."""
from __future__ import annotations

import shutil
import time
import uuid as _uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.rpc.packet import MessageType, Packet, Status, build_frame
from pyvirt.rpc.stream import StreamKey, abort_frame, data_frames, end_frame
from pyvirt.testing import GuestImage, build_guest
from tests.interop.peers import PyvirtdProcess, kill_guests
from tests.qemu.helpers import guest_xml

from .raw import REMOTE, R, RawClient, error_of

pytestmark = [pytest.mark.qemu, pytest.mark.slow]


@pytest.fixture(scope="module")
def console_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PyvirtdProcess,
                                                                                 str]]:
    """pyvirtd running the test guest (booted); the guest's name."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    image: GuestImage = build_guest()
    root = tmp_path_factory.mktemp("pyvirtd-streams")
    u = str(_uuid.uuid4())
    name = f"raw-{u[:8]}"
    log = root / "console.log"
    with PyvirtdProcess(root / "d") as d:
        try:
            with pyvirt.connect(d.uri("qemu", "/system")) as conn:
                conn.create_domain(guest_xml(name, image, log, uuid=u))
            deadline = time.monotonic() + 90
            while image.ready_line not in (log.read_text(errors="replace")
                                           if log.exists() else ""):
                assert time.monotonic() < deadline, "the guest did not get ready"
                time.sleep(0.2)
            yield d, name
        finally:
            kill_guests({u})


def _open(d: PyvirtdProcess, name: str) -> tuple[RawClient, StreamKey]:
    c = RawClient(d.sock)
    c.open("qemu:///system")
    dom = c.ok(R.DOMAIN_LOOKUP_BY_NAME, (name,)).dom
    serial = c.serial
    reply = c.call(R.DOMAIN_OPEN_CONSOLE, (dom, None, 0))
    assert reply.status == Status.OK, error_of(reply)
    assert reply.payload == b""
    return c, StreamKey(REMOTE, R.DOMAIN_OPEN_CONSOLE, serial)


def _stream_until(c: RawClient, key: StreamKey, want: bytes) -> bytes:
    seen = b""
    while want not in seen:
        pkt = c.recv()
        if pkt.type != MessageType.STREAM:
            continue
        assert StreamKey.of(pkt) == key and pkt.status == Status.CONTINUE, pkt
        seen += pkt.payload
    return seen


def _next_non_data(c: RawClient, key: StreamKey) -> Packet:
    """The next packet that is not console data (a confirmation, an error reply)."""
    while True:
        pkt = c.recv()
        if pkt.type == MessageType.STREAM and pkt.status == Status.CONTINUE:
            continue
        return pkt


def test_data_both_ways_then_finish_is_confirmed(
        console_daemon: tuple[PyvirtdProcess, str]) -> None:
    d, name = console_daemon
    c, key = _open(d, name)
    with c:
        # typed input split over packets, as a terminal sends it
        for part in (b"echo ra", b"w-$((6*", b"7))\r"):
            c.send(b"".join(data_frames(key, part)))
        _stream_until(c, key, b"raw-42")
        c.send(end_frame(key))
        pkt = _next_non_data(c, key)
        assert (pkt.type, pkt.status, pkt.payload) == (MessageType.STREAM, Status.OK, b"")
        assert StreamKey.of(pkt) == key
        # the stream is gone: its packets are dropped, and the connection still serves
        c.send(b"".join(data_frames(key, b"ignored\r")))
        assert c.ok(R.CONNECT_GET_TYPE).type == "QEMU"


def test_abort_is_confirmed_and_frees_the_console(
        console_daemon: tuple[PyvirtdProcess, str]) -> None:
    d, name = console_daemon
    c, key = _open(d, name)
    with c:
        c.send(abort_frame(key))
        pkt = _next_non_data(c, key)
        assert (pkt.type, pkt.status, pkt.payload) == (MessageType.STREAM, Status.OK, b"")
    c2, _ = _open(d, name)       # no FORCE needed: the aborted session released it
    c2.close()


@pytest.mark.parametrize("mtype,status,message", [
    (MessageType.STREAM, 7, "stream packet with unexpected status 7"),
    (MessageType.STREAM_HOLE, Status.CONTINUE, "Unexpected stream hole"),
])
def test_unreadable_stream_packet_gets_an_error_and_ends_the_stream(
        console_daemon: tuple[PyvirtdProcess, str], mtype: int, status: int,
        message: str) -> None:
    d, name = console_daemon
    c, key = _open(d, name)
    with c:
        c.send(build_frame(key.header(status)._replace(type=mtype), b"\x00" * 12))
        pkt = _next_non_data(c, key)
        assert pkt.type == MessageType.REPLY and StreamKey.of(pkt) == key
        err = error_of(pkt)
        assert (err.code, err.domain) == (ErrorNumber.RPC, ErrorDomain.RPC)
        assert message in (err.message or "")
        assert c.ok(R.CONNECT_GET_TYPE).type == "QEMU"
    c2, _ = _open(d, name)       # the stream ended, the console is free
    c2.close()


def test_client_gone_with_an_open_console_frees_it(
        console_daemon: tuple[PyvirtdProcess, str]) -> None:
    d, name = console_daemon
    c, key = _open(d, name)
    c.close()                    # no finish, no abort: the socket just goes
    deadline = time.monotonic() + 10
    while True:
        c2 = RawClient(d.sock)
        c2.open("qemu:///system")
        dom = c2.ok(R.DOMAIN_LOOKUP_BY_NAME, (name,)).dom
        reply = c2.call(R.DOMAIN_OPEN_CONSOLE, (dom, None, 0))
        c2.close()
        if reply.status == Status.OK:
            break
        assert "Active console session" in (error_of(reply).message or "")
        assert time.monotonic() < deadline, "pyvirtd kept the gone client's console"
        time.sleep(0.1)


def test_stream_packet_for_no_stream_is_dropped(
        console_daemon: tuple[PyvirtdProcess, str]) -> None:
    d, _ = console_daemon
    with RawClient(d.sock) as c:
        c.open("qemu:///system")
        key = StreamKey(REMOTE, R.DOMAIN_OPEN_CONSOLE, 4242)
        c.send(b"".join(data_frames(key, b"nobody")) + end_frame(key))
        assert c.ok(R.CONNECT_GET_TYPE).type == "QEMU"   # no reply to them, no close
