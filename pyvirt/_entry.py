"""Helpers the generated public entry points share: argument and permission errors.

Worded and filled as libvirt's public entry points (src/libvirt-*.c) report them:
argument checks give VIR_ERR_INVALID_ARG with the bare sentence as message and
str1 = function, str2 = argument; read-only refusals give VIR_ERR_OPERATION_DENIED.
The error's origin is the object family of the call (VIR_FROM_DOMAIN, _NETWORK, _STORAGE).
"""
from __future__ import annotations

import uuid as _uuid
from typing import Any

from .constants import ErrorDomain, ErrorNumber
from .errors import error, libvirtError, lookup

FROM_DOMAIN = ErrorDomain.DOMAIN
FROM_NETWORK = ErrorDomain.NETWORK
FROM_STORAGE = ErrorDomain.STORAGE


def _invalid_arg(message: str, func: str, name: str, origin: int) -> libvirtError:
    return lookup(ErrorNumber.INVALID_ARG)(message, code=ErrorNumber.INVALID_ARG, domain=origin,
                                           str1=func, str2=name)


def arg_error(name: str, func: str, want: str, value: Any,
              origin: int = FROM_DOMAIN) -> libvirtError:
    """VIR_ERR_INVALID_ARG for a bad argument."""
    if value is None:
        return _invalid_arg(f"{name} in {func} must not be NULL", func, name, origin)
    return _invalid_arg(f"{name} in {func} must be {want}, not {type(value).__name__} {value!r}",
                        func, name, origin)


def range_error(name: str, func: str, message: str, origin: int = FROM_DOMAIN) -> libvirtError:
    """VIR_ERR_INVALID_ARG for a value the call refuses ("memory in virDomainSetMemory must
    not be zero", "Flag ... is required by flag ...")."""
    return _invalid_arg(message, func, name, origin)


def denied(func: str, origin: int = FROM_DOMAIN) -> libvirtError:
    """A write attempted on a read-only connection (libvirt: virCheckReadOnlyGoto)."""
    return error(ErrorNumber.OPERATION_DENIED, origin, f"read only access prevents {func}")


def denied_flags(func: str, what: str, origin: int = FROM_DOMAIN) -> libvirtError:
    """A flag that reveals secrets, asked for on a read-only connection."""
    return error(ErrorNumber.OPERATION_DENIED, origin, f"{func} with {what}")


def invalid_conn(func: str) -> libvirtError:
    """A call on a connection that has been closed."""
    return error(ErrorNumber.INVALID_CONN, FROM_DOMAIN, func)


def uuid_bytes(text: Any, func: str, origin: int = FROM_DOMAIN) -> bytes:
    """A UUID given as text (with or without dashes) as its 16 raw bytes."""
    if not isinstance(text, str):
        raise arg_error("uuidstr", func, "a string", text, origin)
    try:
        return _uuid.UUID(text).bytes
    except ValueError:
        raise lookup(ErrorNumber.INVALID_ARG)(
            "Invalid UUID", code=ErrorNumber.INVALID_ARG, domain=origin) from None
