"""Streams in the three naming layers: libvirt's checks, NONBLOCK's -2, event callbacks.

The console-bearing drivers are tested end to end elsewhere (tests/qemu, tests/interop);
here a stream is tied to one end of a real socketpair, the test holding the other end.
"""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

import pyvirt
import pyvirt.capi as C
import pyvirt.libvirt as lv
from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.stream import FdChannel


@pytest.fixture
def conn() -> Iterator[pyvirt.Connection]:
    c = pyvirt.connect("test:///default")
    yield c
    c.close()


@pytest.fixture
def peer(conn: pyvirt.Connection) -> Iterator[tuple[pyvirt.Stream, socket.socket]]:
    """A NONBLOCK stream tied to a socket; the test's end of it."""
    a, b = socket.socketpair()
    st = conn.new_stream(1)
    st._attach(FdChannel(a))
    yield st, b
    st.close()
    b.close()


def test_the_test_driver_has_no_console_as_libvirts(conn: pyvirt.Connection) -> None:
    # libvirt 9.0's test driver fills no domainOpenConsole slot: virDomainOpenConsole
    # fails with VIR_ERR_NO_SUPPORT from VIR_FROM_DOMAIN (checked with python3-libvirt)
    dom = conn.lookup_domain_by_name("test")
    with pytest.raises(pyvirt.libvirtError) as e:
        dom.open_console(None, 0, stream=conn.new_stream(0))
    assert (e.value.get_error_code(), e.value.get_error_domain()) == (
        ErrorNumber.NO_SUPPORT, ErrorDomain.DOMAIN)


def test_entry_checks(conn: pyvirt.Connection) -> None:
    with pytest.raises(pyvirt.libvirtError) as e:
        conn.new_stream(4)
    assert e.value.get_error_code() == ErrorNumber.INVALID_ARG
    st = conn.new_stream(0)
    with pytest.raises(pyvirt.libvirtError) as e:
        st.recv(10)             # tied to nothing: no stream driver behind it
    assert e.value.get_error_code() == ErrorNumber.NO_SUPPORT
    other = pyvirt.connect("test:///default")
    try:
        with pytest.raises(pyvirt.libvirtError) as e:
            conn.lookup_domain_by_name("test").open_console(None, 0, stream=other.new_stream())
        assert "stream must match connection" in str(e.value)
    finally:
        other.close()
    ro = pyvirt.connect("test:///default", readonly=True)
    try:
        with pytest.raises(pyvirt.libvirtError) as e:
            ro.lookup_domain_by_name("test").open_console(None, 0)
        assert e.value.get_error_code() == ErrorNumber.OPERATION_DENIED
    finally:
        ro.close()


def test_nonblocking_recv_send_finish(peer: tuple[pyvirt.Stream, socket.socket]) -> None:
    st, b = peer
    assert st.recv(10) is None              # nothing yet: would block
    assert st.send(b"hi") == 2
    assert b.recv(10) == b"hi"
    b.sendall(b"there")
    deadline = time.monotonic() + 5
    got = None
    while got is None and time.monotonic() < deadline:
        got = st.recv(10)
    assert got == b"there"
    st.finish()
    assert st.closed
    with pytest.raises(pyvirt.libvirtError) as e:
        st.recv(10)
    assert e.value.get_error_code() == ErrorNumber.INVALID_STREAM
    assert b.recv(10) == b""                # finishing closed the console's descriptor


def test_libvirt_python_and_c_layers(conn: pyvirt.Connection,
                                     peer: tuple[pyvirt.Stream, socket.socket]) -> None:
    st, b = peer
    vst = lv.virStream(lv.virConnect(conn), st)
    assert vst.recv(10) == -2
    assert C.virStreamRecv(st, 10) == -2
    b.sendall(b"abc")
    deadline = time.monotonic() + 5
    got: bytes | int = -2
    while got == -2 and time.monotonic() < deadline:
        got = vst.recv(10)
    assert got == b"abc"
    assert C.virStreamSend(st, b"xyz", 2) == 2
    assert b.recv(10) == b"xy"
    with pytest.raises(lv.libvirtError):
        vst.recvAll(lambda s, d, o: 0, None)  # libvirt-python refuses NONBLOCK here
    unbound = C.virStreamNew(conn, 0)
    assert unbound is not None
    assert C.virStreamRecv(unbound, 1) == -1
    assert C.virGetLastErrorCode() == ErrorNumber.NO_SUPPORT
    assert C.virStreamAbort(st) == 0


def test_event_callback_on_the_event_loop(conn: pyvirt.Connection,
                                          peer: tuple[pyvirt.Stream, socket.socket]) -> None:
    from pyvirt import eventloop
    eventloop.run_default_in_thread("pyvirt-test-loop")
    st, b = peer
    seen: list[bytes] = []
    done = threading.Event()

    def on_event(stream: pyvirt.Stream, events: int, opaque: object) -> None:
        assert opaque == "op"
        if events & lv.VIR_STREAM_EVENT_READABLE:
            data = stream.recv(100)
            if data:
                seen.append(data)
                done.set()
    st.event_add_callback(lv.VIR_STREAM_EVENT_READABLE, on_event, "op")
    with pytest.raises(pyvirt.libvirtError):
        st.event_add_callback(lv.VIR_STREAM_EVENT_READABLE, on_event, "op")   # one only
    b.sendall(b"ping")
    assert done.wait(5)
    assert seen == [b"ping"]
    st.event_update_callback(0)
    st.event_remove_callback()


def test_a_nonblocking_send_never_blocks_on_a_full_descriptor(conn: pyvirt.Connection) -> None:
    # tie() makes a NONBLOCK stream's descriptor non-blocking: a select() before a send
    # cannot, since a socket with any room is "writable" and a blocking send then waits
    # for room for all of it
    from pyvirt.stream import tie
    a, b = socket.socketpair()
    st = tie(conn, conn.new_stream(1), "virDomainOpenConsole", ErrorDomain.DOMAIN, "domain",
             lambda: a)
    try:
        big = b"x" * (8 << 20)
        done = threading.Event()
        taken: list[int | None] = []

        def send_twice() -> None:
            taken.append(st.send(big))       # part of it: what the socket had room for
            taken.append(st.send(big))       # none: the socket is full
            done.set()

        threading.Thread(target=send_twice, daemon=True).start()
        assert done.wait(5), "a non-blocking stream's send blocked"
        assert taken[0] is not None and 0 < taken[0] < len(big)
        assert taken[1] is None
        assert st.recv(10) is None          # nothing from the far end yet: no blocking
    finally:
        st.abort()
        b.close()
