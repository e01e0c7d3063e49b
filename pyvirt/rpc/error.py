"""remote_error on the wire <-> libvirtError, and the client's unknown-procedure rewrite.

An ERROR reply (status 1) carries a remote_error (shared/rpc-protocol.md §2.2): code,
domain, message, level, str1-3, int1-2, plus dom and net pointers that libvirtd always
sends absent. Protocol failures on this side (XDRError, FrameError) become
VIR_ERR_RPC from VIR_FROM_RPC, as in libvirt.
"""
from __future__ import annotations

from ..constants import ErrorDomain, ErrorLevel, ErrorNumber
from ..errors import error, from_fields, libvirtError
from .procedures import REMOTE_ERROR, RemoteError
from .xdr import BytesLike

__all__ = [
    "RemoteError", "client_error", "decode_error", "encode_error", "error_from_wire",
    "error_to_wire", "is_unknown_procedure", "rpc_error", "unknown_procedure_error",
]


def error_to_wire(exc: libvirtError) -> RemoteError:
    """The remote_error libvirtd would send for `exc` (dom and net absent, §2.2)."""
    return RemoteError(int(exc.code), int(exc.domain), exc.message, int(exc.level), None,
                       exc.str1, exc.str2, exc.str3, exc.int1, exc.int2, None)


def error_from_wire(err: RemoteError) -> libvirtError:
    """The libvirtError a remote_error stands for, unchanged (the server's view)."""
    return from_fields(err.code, err.domain, err.message, err.level, err.str1, err.str2,
                       err.str3, err.int1, err.int2)


def encode_error(exc: libvirtError) -> bytes:
    """The payload of an ERROR reply for `exc`."""
    return REMOTE_ERROR.encode(error_to_wire(exc))


def decode_error(buf: BytesLike, offset: int = 0) -> RemoteError:
    """The remote_error in an ERROR payload (XDRError when malformed)."""
    return REMOTE_ERROR.decode(buf, offset)


def is_unknown_procedure(err: RemoteError) -> bool:
    """libvirt's client rule (§1): domain RPC or REMOTE, code RPC, level ERROR and a
    message starting "unknown procedure" means the server lacks the procedure."""
    return (err.domain in (ErrorDomain.RPC, ErrorDomain.REMOTE)
            and err.code == ErrorNumber.RPC
            and err.level == ErrorLevel.ERROR
            and err.message is not None
            and err.message.startswith("unknown procedure"))


def client_error(err: RemoteError) -> libvirtError:
    """The error a client raises for an ERROR reply: as sent, except that an unknown
    procedure becomes VIR_ERR_NO_SUPPORT (same domain, level, message and extras) so
    callers can fall back to older procedures, as libvirt's client does."""
    if is_unknown_procedure(err):
        return from_fields(ErrorNumber.NO_SUPPORT, err.domain, err.message, err.level,
                           err.str1, err.str2, err.str3, err.int1, err.int2)
    return error_from_wire(err)


def unknown_procedure_error(proc: int) -> libvirtError:
    """What libvirtd answers a call to a procedure it does not know (§1, §8)."""
    return error(ErrorNumber.RPC, ErrorDomain.RPC, f"unknown procedure: {proc}")


def rpc_error(detail: str) -> libvirtError:
    """VIR_ERR_RPC from VIR_FROM_RPC: a packet that could not be decoded or framed."""
    return error(ErrorNumber.RPC, ErrorDomain.RPC, detail)
