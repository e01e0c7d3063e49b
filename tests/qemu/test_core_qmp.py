"""The QMP hot path: C and twin classify, frame and pass fds identically."""
from __future__ import annotations

import errno
import json
import os
import socket
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt import _core
from pyvirt._twins.abc import (
    QMP_ERROR,
    QMP_EVENT,
    QMP_GREETING,
    QMP_ID_ABSENT,
    QMP_ID_INT,
    QMP_ID_OTHER,
    QMP_MAX_DEPTH,
    QMP_NOT_OBJECT,
    QMP_OTHER,
    QMP_RETURN,
    Qmp,
)

IMPLS = _core.available_impls()


@pytest.fixture(params=IMPLS)
def qmp(request: pytest.FixtureRequest) -> Qmp:
    return _core.get_impl(request.param).qmp  # type: ignore[return-value]


def _both() -> tuple[Qmp, Qmp]:
    if "c" not in IMPLS:
        pytest.skip(f"needs the C core: {_core.c_unavailable_reason}")
    return _core.get_impl("c").qmp, _core.get_impl("python").qmp  # type: ignore[return-value]


KNOWN = [
    (b'{"QMP": {"version": {}, "capabilities": ["oob"]}}', QMP_GREETING, QMP_ID_ABSENT, 0, None),
    (b'{"return": {}, "id": 7}\r', QMP_RETURN, QMP_ID_INT, 7, None),
    (b'{"error": {"class": "GenericError", "desc": "x"}, "id": 8}', QMP_ERROR, QMP_ID_INT, 8,
     None),
    (b'{"return": 1, "error": {}, "id": -3}', QMP_ERROR, QMP_ID_INT, -3, None),
    (b'{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "STOP"}', QMP_EVENT,
     QMP_ID_ABSENT, 0, "STOP"),
    (b'{"event": "A\\u0042C", "data": {"x": [1, 2, {"y": null}]}}', QMP_EVENT, QMP_ID_ABSENT,
     0, "ABC"),
    (b'{"return": {}, "id": "libvirt-3"}', QMP_RETURN, QMP_ID_OTHER, 0, None),
    (b'{"return": {}, "id": 1.5}', QMP_RETURN, QMP_ID_OTHER, 0, None),
    (b'{"return": {}, "id": 99999999999999999999}', QMP_RETURN, QMP_ID_OTHER, 0, None),
    (b'{"return": {}, "id": true}', QMP_RETURN, QMP_ID_OTHER, 0, None),
    (b'{"return": {}, "id": 1, "id": 2}', QMP_RETURN, QMP_ID_INT, 2, None),
    (b'{"event": 5}', QMP_OTHER, QMP_ID_ABSENT, 0, None),
    (b'{}', QMP_OTHER, QMP_ID_ABSENT, 0, None),
    (b'[1, 2]', QMP_NOT_OBJECT, QMP_ID_ABSENT, 0, None),
    (b' "x" ', QMP_NOT_OBJECT, QMP_ID_ABSENT, 0, None),
    (b'{"return": "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"}', QMP_RETURN, QMP_ID_ABSENT, 0, None),
]
BAD = [b"", b"\r", b"{", b'{"a":}', b'{"a":NaN}', b'{"a":Infinity}', b"[01]", b'{"a":1,}',
       b'{"a" 1}', b'"\x01"', b'"\\x"', b'"\xc3"', b'"\xed\xa0\x80"', b'"\xc0\x80"',
       b'\xef\xbb\xbf{}', b"{} {}", b"tru", b'{"a":1}x', b"-", b"1.", b"1e", b'"\\u12G4"',
       b"[" * (QMP_MAX_DEPTH + 1) + b"]" * (QMP_MAX_DEPTH + 1)]


@pytest.mark.parametrize("line,kind,has_id,ident,event", KNOWN)
def test_classify_known(qmp: Qmp, line: bytes, kind: int, has_id: int, ident: int,
                        event: str | None) -> None:
    m = qmp.classify(line)
    assert (m.kind, m.has_id, m.id, m.event) == (kind, has_id, ident, event)
    assert m.line == line.rstrip(b"\r")


@pytest.mark.parametrize("line", BAD)
def test_classify_refuses(qmp: Qmp, line: bytes) -> None:
    with pytest.raises(OSError) as e:
        qmp.classify(line)
    assert e.value.errno == errno.EPROTO


def test_depth_limit_is_exact(qmp: Qmp) -> None:
    ok = b"[" * QMP_MAX_DEPTH + b"]" * QMP_MAX_DEPTH
    assert qmp.classify(ok).kind == QMP_NOT_OBJECT


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2 ** 70), 2 ** 70) |
    st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)
messages = st.fixed_dictionaries({}, optional={
    "return": json_values, "error": json_values, "event": json_values, "QMP": json_values,
    "id": json_values, "data": json_values})


@settings(max_examples=300, deadline=None)
@given(msg=messages, indent=st.sampled_from([None, 1]), ascii_only=st.booleans())
def test_differential_valid(msg: dict[str, object], indent: int | None, ascii_only: bool) -> None:
    c, py = _both()
    line = json.dumps(msg, ensure_ascii=ascii_only).encode()
    if indent:
        line = b"  " + line.replace(b", ", b" ,\t") + b" \r"
    assert c.classify(line) == py.classify(line)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=40) | st.text(
    alphabet='{}[]":,0123456789.eE-+ntrufals\\u"\t ', max_size=40).map(str.encode))
def test_differential_garbage(data: bytes) -> None:
    c, py = _both()
    outcomes = []
    for impl in (c, py):
        try:
            outcomes.append(impl.classify(data))
        except OSError as e:
            outcomes.append(e.errno)
    assert outcomes[0] == outcomes[1]




def test_framing_split_and_batched(qmp: Qmp) -> None:
    a, b = socket.socketpair()
    ch = qmp.adopt(a.detach())
    try:
        b.sendall(b'{"event": "A"}\r\n{"ret')
        assert ch.recv(1000).event == "A"
        with pytest.raises(OSError) as e:
            ch.recv(0)
        assert e.value.errno == errno.EAGAIN
        b.sendall(b'urn": {}, "id": 1}\n{"return": 2, "id": 2}\n')
        m1, m2 = ch.recv(1000), ch.recv(0)
        assert (m1.kind, m1.id, m2.id) == (QMP_RETURN, 1, 2)
        b.sendall(b"not json\n")
        with pytest.raises(OSError) as e:
            ch.recv(1000)
        assert e.value.errno == errno.EPROTO
        with pytest.raises(TimeoutError):
            ch.recv(20)
        b.close()
        with pytest.raises(ConnectionResetError):
            ch.recv(1000)
    finally:
        ch.close()
        b.close()


def test_long_lines_grow_the_buffer(qmp: Qmp) -> None:
    a, b = socket.socketpair()
    ch = qmp.adopt(a.detach())
    big = json.dumps({"return": "x" * 3_000_000, "id": 5}).encode() + b"\n"
    t = threading.Thread(target=b.sendall, args=(big,))
    t.start()
    try:
        m = ch.recv(10000)
        assert m.kind == QMP_RETURN and m.id == 5 and len(m.line) == len(big) - 1
    finally:
        t.join()
        ch.close()
        b.close()


def test_transact_and_fd_passing(qmp: Qmp) -> None:
    a, b = socket.socketpair()
    ch = qmp.adopt(a.detach())
    r, w = os.pipe()
    try:
        ch.send_fds(b'{"execute": "getfd"}\n', [w], 1000)
        msg, fds, _flags, _addr = socket.recv_fds(b, 100, 4)
        assert msg.startswith(b"{") and len(fds) == 1
        os.write(fds[0], b"!")
        assert os.read(r, 1) == b"!"
        os.close(fds[0])
        rest = b.recv(100)
        assert (msg + rest).endswith(b"}\n")
        b.sendall(b'{"return": {}, "id": 3}\n')
        assert ch.transact(b'{"execute":"x","id":3}\n', 1000).id == 3
        assert b.recv(100) == b'{"execute":"x","id":3}\n'
    finally:
        for fd in (r, w):
            os.close(fd)
        ch.close()
        b.close()


def test_connect_errors(qmp: Qmp, tmp_path: object) -> None:
    with pytest.raises(OSError) as e:
        qmp.connect("/nonexistent/socket", 100)
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        qmp.connect("/" + "x" * 200, 100)
    assert e.value.errno == errno.ENAMETOOLONG


def test_closed_channel(qmp: Qmp) -> None:
    a, b = socket.socketpair()
    ch = qmp.adopt(a.detach())
    ch.close()
    ch.close()
    b.close()
    with pytest.raises(OSError) as e:
        ch.recv(0)
    assert e.value.errno == errno.EBADF


