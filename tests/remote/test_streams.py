"""The remote driver's stream channel over a real socket, the test playing the daemon.

Each test writes the daemon's frames by hand into one end of a socketpair; pyvirt's
RPC client reads the other end. Stream data that follows the opening reply at once is
kept; packets this side cannot read become a clear VIR_ERR_RPC after every byte that
came before them; packets of other streams are dropped.
"""
from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.drivers.remote.client import RPCClient
from pyvirt.drivers.remote.transport import Transport
from pyvirt.errors import libvirtError
from pyvirt.rpc import procedures as P
from pyvirt.rpc.packet import FrameReader, Header, MessageType, Status, build_frame, parse_packet
from pyvirt.rpc.stream import CHUNK, StreamKey, data_frames, end_frame, eof_frame

PROC = P.REMOTE[P.RemoteProcedure.DOMAIN_OPEN_CONSOLE]
ARGS = (("g", b"\x01" * 16, 1), None, 0)
KEY = StreamKey(P.REMOTE.number, PROC.number, 0)      # the first call has serial 0


@pytest.fixture
def pair() -> Iterator[tuple[RPCClient, socket.socket]]:
    a, b = socket.socketpair()
    b.settimeout(10)
    rpc = RPCClient(Transport(a, "unix", True, False))
    yield rpc, b
    rpc.close()
    b.close()


def _reply() -> bytes:
    return build_frame(Header(KEY.prog, 1, KEY.proc, MessageType.REPLY, KEY.serial, Status.OK))


def _sent(server: socket.socket, count: int) -> list[tuple[int, int, bytes]]:
    reader, out = FrameReader(), []
    while len(out) < count:
        for f in reader.feed(server.recv(1 << 20)):
            p = parse_packet(f)
            out.append((p.type, p.status, p.payload))
    return out


def test_data_right_after_the_reply_is_kept_and_sends_are_chunked(
        pair: tuple[RPCClient, socket.socket]) -> None:
    rpc, server = pair
    server.sendall(_reply() + b"".join(data_frames(KEY, b"hello ")) +
                   b"".join(data_frames(KEY, b"world")))
    chan = rpc.open_stream(PROC, ARGS)
    assert chan.recv(3, True) == b"hel"       # a partial read keeps the rest
    assert chan.recv(100, True) == b"lo "
    assert chan.recv(100, True) == b"world"
    assert chan.recv(100, False) is None       # non-blocking, nothing there
    _sent(server, 1)                           # the opening call
    got: list[tuple[int, int, bytes]] = []
    reader = threading.Thread(target=lambda: got.extend(_sent(server, 2)))
    reader.start()                             # 256 KiB is more than a socketpair buffers
    chan.send(b"x" * (CHUNK + 1))
    reader.join(10)
    assert [(t, s, len(d)) for t, s, d in got] == [
        (MessageType.STREAM, Status.CONTINUE, CHUNK), (MessageType.STREAM, Status.CONTINUE, 1)]
    server.sendall(b"".join(data_frames(KEY, b"tail")) + eof_frame(KEY))
    assert chan.recv(100, True) == b"tail"
    assert chan.recv(100, True) == b""         # the end: an empty CONTINUE, as libvirtd

    def daemon() -> None:                      # confirms the finish with its own OK
        got.extend(_sent(server, 1))
        server.sendall(end_frame(KEY))
    got.clear()
    confirm = threading.Thread(target=daemon)
    confirm.start()
    chan.finish()
    confirm.join(10)
    assert got == [(MessageType.STREAM, Status.OK, b"")]
    assert rpc.alive


def test_unreadable_stream_packet_is_an_error_after_the_data_before_it(
        pair: tuple[RPCClient, socket.socket]) -> None:
    rpc, server = pair
    bad = build_frame(KEY.header(7), b"")
    other = StreamKey(KEY.prog, KEY.proc, 99)
    server.sendall(_reply() + b"".join(data_frames(KEY, b"before")) +
                   b"".join(data_frames(other, b"not ours")) + bad +
                   b"".join(data_frames(KEY, b"after")))
    chan = rpc.open_stream(PROC, ARGS)
    assert chan.recv(100, True) == b"before"
    with pytest.raises(libvirtError) as e:
        chan.recv(100, True)
    assert e.value.get_error_code() == ErrorNumber.RPC
    assert e.value.get_error_domain() == ErrorDomain.RPC
    assert "unexpected status 7" in str(e.value)
    assert rpc.alive                           # one stream's bad packet, not the connection's
    chan.abort()


def test_truncated_frame_loses_no_data_before_it(pair: tuple[RPCClient, socket.socket]) -> None:
    rpc, server = pair
    whole = b"".join(data_frames(KEY, b"complete"))
    cut = b"".join(data_frames(KEY, b"cut short"))[:-4]
    server.sendall(_reply() + whole + cut)
    chan = rpc.open_stream(PROC, ARGS)
    server.shutdown(socket.SHUT_WR)            # the daemon goes away mid-frame
    assert chan.recv(100, True) == b"complete"
    with pytest.raises(libvirtError) as e:
        chan.recv(100, True)
    assert e.value.get_error_code() == ErrorNumber.RPC
    assert "End of file" in str(e.value)
    assert not rpc.alive


def test_failed_opening_call_leaves_no_stream(pair: tuple[RPCClient, socket.socket]) -> None:
    from pyvirt.errors import error
    from pyvirt.rpc.error import encode_error
    rpc, server = pair
    err = error(ErrorNumber.OPERATION_FAILED, ErrorDomain.QEMU,
                "Active console session exists for this domain")
    server.sendall(build_frame(Header(KEY.prog, 1, KEY.proc, MessageType.REPLY, 0,
                                      Status.ERROR), encode_error(err)) +
                   b"".join(data_frames(KEY, b"stray")))
    with pytest.raises(libvirtError) as e:
        rpc.open_stream(PROC, ARGS)
    assert "Active console session" in str(e.value)
    assert rpc.alive and not rpc._streams


def test_stream_events_of_a_remote_channel(pair: tuple[RPCClient, socket.socket]) -> None:
    import pyvirt
    from pyvirt import eventloop
    eventloop.run_default_in_thread("pyvirt-test-loop")
    rpc, server = pair
    server.sendall(_reply())
    chan = rpc.open_stream(PROC, ARGS)
    rpc.watch()                                # the loop reads the socket while idle
    conn = pyvirt.connect("test:///default")
    st = conn.new_stream(1)
    st._attach(chan)
    got: list[bytes] = []
    writable = threading.Event()
    readable = threading.Event()

    def on_event(stream: pyvirt.Stream, events: int, opaque: object) -> None:
        if events & 2:                         # WRITABLE: a remote stream always is
            writable.set()
            stream.event_update_callback(1)
        if events & 1:
            data = stream.recv(100)
            if data:
                got.append(data)
                readable.set()
    try:
        st.event_add_callback(1 | 2, on_event, None)
        assert writable.wait(5)
        server.sendall(b"".join(data_frames(KEY, b"pushed")))
        assert readable.wait(5)
        assert got == [b"pushed"]
        st.event_remove_callback()
    finally:
        chan.dispose()
        conn.close()
