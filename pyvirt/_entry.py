"""Helpers the generated public entry points share: argument and permission errors."""
from __future__ import annotations

import uuid as _uuid
from typing import Any

from .constants import ErrorDomain, ErrorNumber
from .errors import libvirtError, error


def arg_error(name: str, func: str, want: str, value: Any) -> libvirtError:
    """VIR_ERR_INVALID_ARG for a bad argument, worded as libvirt's argument checks are."""
    if value is None:
        detail = f"{name} in {func} must not be NULL"
    else:
        detail = f"{name} in {func} must be {want}, not {type(value).__name__} {value!r}"
    return error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE, detail)


def denied(func: str) -> libvirtError:
    """A write attempted on a read-only connection (libvirt: virCheckReadOnlyGoto)."""
    return error(ErrorNumber.OPERATION_DENIED, ErrorDomain.NONE,
                 f"read only access prevents {func}")


def invalid_conn(func: str) -> libvirtError:
    """A call on a connection that has been closed."""
    return error(ErrorNumber.INVALID_CONN, ErrorDomain.NONE, func)


def uuid_bytes(text: Any, func: str) -> bytes:
    """A UUID given as text (with or without dashes) as its 16 raw bytes."""
    if not isinstance(text, str):
        raise arg_error("uuidstr", func, "a string", text)
    try:
        return _uuid.UUID(text).bytes
    except ValueError:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE,
                    f"uuidstr in {func} must be a valid UUID, not {text!r}") from None
