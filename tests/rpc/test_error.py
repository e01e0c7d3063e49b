"""remote_error <-> libvirtError, checked against libvirtd's captured ERROR replies (§5.1),
and the client's unknown-procedure rewrite (§1)."""
from __future__ import annotations

import pytest

from pyvirt import errors
from pyvirt.constants import ErrorDomain, ErrorLevel, ErrorNumber
from pyvirt.rpc.error import (
    RemoteError,
    client_error,
    decode_error,
    encode_error,
    error_from_wire,
    error_to_wire,
    is_unknown_procedure,
    rpc_error,
    unknown_procedure_error,
)
from pyvirt.rpc.packet import Header, Status, encode_frame, parse_packet
from pyvirt.rpc.procedures import REMOTE_ERROR
from pyvirt.rpc.xdr import XDRError

from .traces import frames

NOSUCHDOMAIN = next(f for f in frames()
                    if f.block == "virsh dominfo (nonexistent -> error)" and f.status == "ERR")


def test_the_annotated_error_reply() -> None:
    """§5.1's 212-byte ERROR reply to DOMAIN_LOOKUP_BY_NAME('nosuchdomain') under qemu."""
    assert NOSUCHDOMAIN.status == "ERR" and NOSUCHDOMAIN.missing == 52
    exc = errors.error(ErrorNumber.NO_DOMAIN, ErrorDomain.QEMU,
                       "no domain with matching name 'nosuchdomain'")
    assert exc.err == (42, 10, "Domain not found: no domain with matching name 'nosuchdomain'",
                       2, "Domain not found: %s", "no domain with matching name 'nosuchdomain'",
                       None, -1, -1)
    captured = NOSUCHDOMAIN.data
    frame = encode_frame(_header_of(captured), REMOTE_ERROR, error_to_wire(exc))
    assert len(frame) == 212 == int.from_bytes(captured[:4], "big")
    assert frame[:len(captured)] == captured
    # ... and it ends as §5.1 annotates: str3 absent, int1 = int2 = -1, net absent
    assert frame[-16:].hex() == "00000000" "ffffffff" "ffffffff" "00000000"
    assert decode_error(frame, 28) == error_to_wire(exc)


def _header_of(captured: bytes) -> Header:
    """The header of a captured frame whose body was cut by the capture."""
    return parse_packet((28).to_bytes(4, "big") + captured[4:28]).header


def test_every_captured_error_reply_is_reproduced() -> None:
    """Each ERROR reply libvirtd sent is what encoding its libvirtError gives, as far as
    the capture goes and in total length."""
    checked = 0
    for f in frames():
        if f.status != "ERR":
            continue
        code, domain, present, mlen = (int.from_bytes(f.data[i:i + 4], "big")
                                       for i in (28, 32, 36, 40))
        assert present == 1
        if 44 + mlen > len(f.data):
            continue  # the message itself was cut by the capture
        message = f.data[44:44 + mlen].decode()
        _, template = errors.format_message(code, "")
        prefix = template.split("%s")[0]
        assert message.startswith(prefix), (f.block, message)
        exc = errors.error(code, domain, message[len(prefix):])
        frame = encode_frame(_header_of(f.data), REMOTE_ERROR, error_to_wire(exc))
        assert len(frame) == int.from_bytes(f.data[:4], "big"), f.block
        assert frame[:len(f.data)] == f.data, f.block
        checked += 1
    assert checked >= 10


def test_wire_round_trip_keeps_all_nine_fields() -> None:
    exc = errors.error(ErrorNumber.OPERATION_INVALID, ErrorDomain.DOMAIN, "domain is not running",
                       str3="x", int1=4, int2=5)
    back = error_from_wire(decode_error(encode_error(exc)))
    assert type(back) is errors.OperationInvalidError
    assert back.err == exc.err


def test_absent_message_gets_the_code_text() -> None:
    back = error_from_wire(RemoteError(42, 12, None, 2, None, None, None, None, -1, -1, None))
    assert back.get_error_message() == "Domain not found"


@pytest.mark.parametrize(("domain", "code", "level", "message", "rewritten"), [
    (ErrorDomain.RPC, 39, 2, "unknown procedure: 999", True),
    (ErrorDomain.REMOTE, 39, 2, "unknown procedure: 12", True),
    (ErrorDomain.RPC, 39, 2, "unknown procedures galore", True),   # a prefix match, as in C
    (ErrorDomain.QEMU, 39, 2, "unknown procedure: 999", False),
    (ErrorDomain.RPC, 1, 2, "unknown procedure: 999", False),
    (ErrorDomain.RPC, 39, 1, "unknown procedure: 999", False),
    (ErrorDomain.RPC, 39, 2, "Cannot find program 1 version 1", False),
    (ErrorDomain.RPC, 39, 2, None, False),
])
def test_unknown_procedure_rewrite(domain: int, code: int, level: int, message: str | None,
                                   rewritten: bool) -> None:
    wire = RemoteError(code, domain, message, level, None, "%s", message, None, -1, -1, None)
    assert is_unknown_procedure(wire) is rewritten
    exc = client_error(wire)
    if rewritten:
        assert isinstance(exc, errors.NoSupportError)
        assert exc.err == (ErrorNumber.NO_SUPPORT, domain, message, level, "%s", message, None,
                           -1, -1)
    else:
        assert exc.get_error_code() == code and exc.get_error_domain() == domain


def test_what_libvirtd_sends_for_an_unknown_procedure() -> None:
    exc = unknown_procedure_error(999)
    assert exc.err == (39, 7, "unknown procedure: 999", 2, "%s", "unknown procedure: 999",
                       None, -1, -1)
    assert isinstance(client_error(error_to_wire(exc)), errors.NoSupportError)


def test_protocol_failures_are_rpc_errors() -> None:
    exc = rpc_error("bad packet")
    assert isinstance(exc, errors.RPCError)
    assert (exc.get_error_code(), exc.get_error_domain(), exc.get_error_level()) == (
        ErrorNumber.RPC, ErrorDomain.RPC, ErrorLevel.ERROR)
    with pytest.raises(XDRError):
        decode_error(b"\0\0\0\x2a\0\0\0\x0a\0\0\0\x01\xff\xff\xff\xff")


def test_status_values() -> None:
    assert (Status.OK, Status.ERROR, Status.CONTINUE) == (0, 1, 2)
