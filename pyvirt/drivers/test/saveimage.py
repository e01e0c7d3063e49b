"""The test driver's save images: the domain XML and its state in one small file."""
from __future__ import annotations

import os
import struct

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ..atomic import write_atomic

# A test image is MAGIC, a u32 state, a u32 XML length, then the XML (UTF-8).
MAGIC = b"PyvirtTestSave01"
_HEAD = struct.Struct(">16sII")
_MAX_XML = 16 << 20


def write(path: str, xml: str, name: str, state: int) -> None:
    data = xml.encode("utf-8")
    try:
        write_atomic(path, _HEAD.pack(MAGIC, state, len(data)) + data)
    except OSError as e:
        raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.TEST,
                    f"saving domain '{name}' to '{path}': open failed: "
                    f"{os.strerror(e.errno or 0)}") from None


def read(path: str) -> tuple[str, int]:
    """(domain XML, state at save time); libvirtError when the file is missing or not an
    image written by write()."""
    try:
        with open(path, "rb") as f:
            head = f.read(_HEAD.size)
            if len(head) != _HEAD.size:
                raise _bad(path, "incomplete header")
            magic, state, length = _HEAD.unpack(head)
            if magic != MAGIC:
                raise _bad(path, "mismatched header magic")
            if length > _MAX_XML:
                raise _bad(path, f"XML length {length} is too large")
            data = f.read(length)
    except OSError as e:
        raise error(ErrorNumber.SYSTEM_ERROR, ErrorDomain.TEST,
                    f"cannot read domain image '{path}': {os.strerror(e.errno or 0)}") from None
    if len(data) != length:
        raise _bad(path, "incomplete XML")
    return data.decode("utf-8", "replace"), state


def _bad(path: str, why: str) -> Exception:
    return error(ErrorNumber.INVALID_ARG, ErrorDomain.TEST, f"{path}: {why}")
