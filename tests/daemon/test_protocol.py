"""pyvirtd on the wire: libvirtd's replies to good, bad and hostile packets (§1, §3, §8)."""
from __future__ import annotations

import socket
import struct
import time

import pytest

from pyvirt.constants import ErrorDomain, ErrorLevel, ErrorNumber
from pyvirt.rpc import procedures as P
from pyvirt.rpc.packet import FRAME_MAX, Header, MessageType, Status, build_frame
from tests.interop.peers import PyvirtdProcess

from .raw import REMOTE, R, RawClient, error_of

# Captured from libvirtd 9.0.0 (shared/rpc-protocol.md §5.1)
AUTH_LIST_CALL = bytes.fromhex("0000001c200080860000000100000042000000000000000000000000")
AUTH_LIST_REPLY = bytes.fromhex(
    "00000024200080860000000100000042000000010000000000000000" "0000000100000000")
PING = bytes.fromhex(
    "0000001c" "6b656570" "00000001" "00000001" "00000002" "00000000" "00000000")
PONG = build_frame(Header(0x6B656570, 1, 2, MessageType.MESSAGE, 0, Status.OK))
OPEN_CALL = bytes.fromhex(
    "00000038200080860000000100000001000000000000000200000000"
    "000000010000000e71656d753a2f2f2f73797374656d000000000000")


def test_auth_list_reply_is_libvirtds_byte_for_byte(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.send(AUTH_LIST_CALL)
        assert c.recv().frame == AUTH_LIST_REPLY


def test_keepalive_ping_gets_pong_even_before_open(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.send(PING)
        assert c.recv().frame == PONG


def test_feature_queries(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        assert c.ok(R.CONNECT_SUPPORTS_FEATURE, (10,)).supported == 1   # before open
        c.open()
        for feature, want in ((14, 1), (15, 1), (8, 0), (1, 0)):
            assert c.ok(R.CONNECT_SUPPORTS_FEATURE, (feature,)).supported == want


def test_hypervisor_call_before_open(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        err = error_of(c.call(R.CONNECT_GET_TYPE))
        assert (err.code, err.domain, err.level) == (ErrorNumber.INTERNAL_ERROR,
                                                     ErrorDomain.RPC, ErrorLevel.ERROR)
        assert err.message == "internal error: hypervisor connection not open"
        c.open()   # the connection goes on
        assert c.ok(R.CONNECT_GET_TYPE).type == "TEST"


def test_go_libvirt_style_open_flag_is_accepted(shared_pyvirtd: PyvirtdProcess) -> None:
    # go-libvirt sends the name's presence flag as 0x01000000 (§7)
    with RawClient(shared_pyvirtd.sock) as c:
        payload = struct.pack(">I", 0x01000000) + struct.pack(">I", 15) + b"test:///default\0" \
            + struct.pack(">I", 0)
        pkt = c.call(R.CONNECT_OPEN, payload)
        assert pkt.status == Status.OK
        assert c.ok(R.CONNECT_GET_TYPE).type == "TEST"


def test_unknown_procedure(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        pkt = c.call(9999)
        assert (pkt.prog, pkt.proc, pkt.type) == (REMOTE, 9999, MessageType.REPLY)
        err = error_of(pkt)
        assert (err.code, err.domain, err.level) == (ErrorNumber.RPC, ErrorDomain.RPC, 2)
        assert err.message == "unknown procedure: 9999"
        assert err.dom is None and err.net is None


def test_wrong_program_and_version(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        err = error_of(c.call(1, prog=0x12345678))
        assert err.code == ErrorNumber.RPC
        assert err.message == f"Cannot find program {0x12345678} version 1"
        err = error_of(c.call(R.AUTH_LIST, vers=2))
        assert err.message == f"Cannot find program {REMOTE} version 2"
        c.open()   # still usable


def test_serial_and_header_are_echoed(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.send(c.frame(R.AUTH_LIST, serial=0xFFFFFFF0))
        pkt = c.recv()
        assert (pkt.prog, pkt.vers, pkt.proc, pkt.serial) == (REMOTE, 1, R.AUTH_LIST, 0xFFFFFFF0)


def test_pipelined_calls_all_answered(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        frames = b"".join(c.frame(R.DOMAIN_LOOKUP_BY_NAME, ("test",)) for _ in range(40))
        first = c.serial - 40
        c.send(frames)
        serials = sorted(c.reply().serial for _ in range(40))
        assert serials == list(range(first, first + 40))


def test_truncated_payload_gets_decode_error(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        # DOMAIN_LOOKUP_BY_NAME with a string length that runs past the frame
        err = error_of(c.call(R.DOMAIN_LOOKUP_BY_NAME, struct.pack(">I", 100) + b"abcd"))
        assert (err.code, err.message) == (ErrorNumber.RPC, "Unable to decode message payload")
        # and extra bytes after a complete payload
        good = P.REMOTE[R.DOMAIN_LOOKUP_BY_NAME].args.encode(("test",))
        err = error_of(c.call(R.DOMAIN_LOOKUP_BY_NAME, good + b"\0\0\0\0"))
        assert err.message == "Unable to decode message payload"
        assert c.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom.name == "test"


def test_array_bound_enforced(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        err = error_of(c.call(R.CONNECT_LIST_DOMAINS, (P.REMOTE_DOMAIN_LIST_MAX + 1,)))
        assert err.code == ErrorNumber.RPC and "REMOTE_DOMAIN_LIST_MAX" in (err.message or "")


def test_unexpected_status_and_types(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        err = error_of(c.call(R.CONNECT_GET_TYPE, status=Status.ERROR))
        assert err.message == "Unexpected message status 1"
        # a MESSAGE or STREAM packet gets no reply, and the connection goes on
        c.send(c.frame(R.CONNECT_GET_TYPE, mtype=MessageType.MESSAGE))
        c.send(c.frame(R.CONNECT_GET_TYPE, mtype=MessageType.STREAM, status=Status.CONTINUE))
        assert c.ok(R.CONNECT_GET_TYPE).type == "TEST"


@pytest.mark.parametrize("length", [0, 3, 4, 27, FRAME_MAX + 1, 0xFFFFFFFF])
def test_impossible_length_closes_only_that_client(shared_pyvirtd: PyvirtdProcess,
                                                   length: int) -> None:
    with RawClient(shared_pyvirtd.sock, timeout=5) as bad, \
            RawClient(shared_pyvirtd.sock) as good:
        good.open()
        bad.send(struct.pack(">I", length) + b"\0" * 24)
        assert bad.closed_by_peer()
        assert good.ok(R.CONNECT_GET_TYPE).type == "TEST"


def test_truncated_frame_then_eof(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.send(AUTH_LIST_CALL[:20])
    with RawClient(shared_pyvirtd.sock) as c:
        c.send(AUTH_LIST_CALL)
        assert c.recv().frame == AUTH_LIST_REPLY


def test_frame_split_byte_by_byte(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for b in OPEN_CALL[:-1]:
            c.send(bytes([b]))
        time.sleep(0.05)
        c.send(OPEN_CALL[-1:])
        pkt = c.recv()
        assert pkt.proc == R.CONNECT_OPEN and pkt.serial == 2
        # qemu:///system is not served without pyvirt's qemu driver, or opens it
        assert pkt.status in (Status.OK, Status.ERROR)


def test_second_open_refused(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        err = error_of(c.call(R.CONNECT_OPEN, ("test:///default", 0)))
        assert err.message == "internal error: connection already open"


def test_unserved_uris(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        for name in ("xen:///system", "qemu+tcp://elsewhere/system", "qemu:///embed?root=/x"):
            err = error_of(c.call(R.CONNECT_OPEN, (name, 0)))
            assert err.code == ErrorNumber.NO_CONNECT, name


def test_described_but_unserved_procedure_is_no_support(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        dom = c.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom
        err = error_of(c.call(R.DOMAIN_BLOCK_PEEK, (dom, "/x", 0, 16, 0)))
        assert err.code == ErrorNumber.NO_SUPPORT


def test_errors_keep_the_drivers_fields(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        err = error_of(c.call(R.DOMAIN_LOOKUP_BY_NAME, ("nope",)))
        assert (err.code, err.domain, err.level, err.message) == (
            ErrorNumber.NO_DOMAIN, ErrorDomain.TEST, 2, "Domain not found")


def test_objects_are_found_by_uuid(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        dom = c.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom
        # a stale name and id in the handle do not matter: libvirtd looks up by UUID
        info = c.ok(R.DOMAIN_GET_INFO, (("someone-else", dom.uuid, 77),))
        assert info.state == 1 and info.nrVirtCpu == 2
        err = error_of(c.call(R.DOMAIN_GET_INFO, (("test", b"\x01" * 16, dom.id),)))
        assert err.code == ErrorNumber.NO_DOMAIN


def test_read_only_socket_refuses_writes(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock_ro) as c:
        c.open(flags=0)   # the socket makes it read-only whatever the flags
        dom = c.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom
        assert c.ok(R.DOMAIN_GET_STATE, (dom, 0)).state == 1
        for proc, args in ((R.DOMAIN_SUSPEND, (dom,)), (R.DOMAIN_DESTROY, (dom,)),
                           (R.DOMAIN_DEFINE_XML, ("<domain/>",)),
                           (R.DOMAIN_UNDEFINE_FLAGS, (dom, 0)),
                           (R.NETWORK_DESTROY, (("default", b"\0" * 16),))):
            err = error_of(c.call(proc, args))
            assert err.code == ErrorNumber.OPERATION_DENIED, proc
            assert "read only access prevents" in (err.message or "")
        # the secure flag of XMLDesc is a write too (VIR_DOMAIN_XML_SECURE)
        err = error_of(c.call(R.DOMAIN_GET_XML_DESC, (dom, 1)))
        assert err.code == ErrorNumber.OPERATION_DENIED


def test_garbage_does_not_hurt_the_daemon(shared_pyvirtd: PyvirtdProcess) -> None:
    import random
    rng = random.Random(4)
    for _ in range(30):
        with RawClient(shared_pyvirtd.sock, timeout=2) as c:
            blob = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
            # keep the length word plausible half of the time
            if rng.random() < 0.5 and len(blob) >= 28:
                blob = struct.pack(">I", len(blob)) + blob[4:]
            try:
                c.send(blob)
            except OSError:
                pass
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        assert c.ok(R.CONNECT_GET_TYPE).type == "TEST"
    assert shared_pyvirtd.proc is not None and shared_pyvirtd.proc.poll() is None


@pytest.mark.parametrize("style", ["105", "167", "316"])
def test_event_registration_styles(shared_pyvirtd: PyvirtdProcess, style: str) -> None:
    # 316 (callback IDs, MESSAGE 318), and the older 167 / 105 with MESSAGE 107 (§3.1 step 4)
    with RawClient(shared_pyvirtd.sock) as w, RawClient(shared_pyvirtd.sock) as actor:
        w.open()
        actor.open()
        if style == "105":
            assert w.ok(R.CONNECT_DOMAIN_EVENT_REGISTER).cb_registered == 1
        elif style == "167":
            assert w.call(R.CONNECT_DOMAIN_EVENT_REGISTER_ANY, (0,)).status == Status.OK
        else:
            assert w.ok(R.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (0, None)).callbackID >= 0
        dom = actor.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom
        actor.ok(R.DOMAIN_SUSPEND, (dom,))
        actor.ok(R.DOMAIN_RESUME, (dom,))
        msgs = [w.recv() for _ in range(2)]
        assert all(m.type == MessageType.MESSAGE and m.status == Status.OK for m in msgs)
        if style == "316":
            bodies = [m.decode(P.REMOTE[m.proc].msg) for m in msgs]
            assert [m.proc for m in msgs] == [318, 318]
            assert [(b.msg.dom.name, b.msg.event, b.msg.detail) for b in bodies] == \
                [("test", 3, 0), ("test", 4, 0)]
        else:
            assert [m.proc for m in msgs] == [107, 107]
            bodies = [m.decode(P.REMOTE[107].msg) for m in msgs]
            assert [(b.dom.name, b.event, b.detail) for b in bodies] == [("test", 3, 0),
                                                                          ("test", 4, 0)]
        if style == "105":
            assert w.ok(R.CONNECT_DOMAIN_EVENT_DEREGISTER).cb_registered == 0
        elif style == "167":
            assert w.call(R.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, (0,)).status == Status.OK
            err = error_of(w.call(R.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, (0,)))
            assert err.code == ErrorNumber.RPC


def test_event_id_out_of_range(shared_pyvirtd: PyvirtdProcess) -> None:
    with RawClient(shared_pyvirtd.sock) as c:
        c.open()
        err = error_of(c.call(R.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, (99, None)))
        assert err.code == ErrorNumber.INVALID_ARG
        err = error_of(c.call(R.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, (12345,)))
        assert err.code == ErrorNumber.RPC
