"""Small helpers every driver uses: flag checks and libvirt's common error shapes."""
from __future__ import annotations

import zlib

from ..constants import ErrorNumber
from ..errors import error, libvirtError, lookup


def name_tag(text: str) -> str:
    """A short, stable tag naming a file after `text` (a root, a binary's path).

    Not a security hash: zlib's checksums are enough to keep names apart, and unlike
    hashlib they do not load OpenSSL (3.4 MB resident) into a daemon that has no TLS."""
    data = text.encode()
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def check_flags(flags: int, allowed: int, func: str, origin: int) -> None:
    """Refuse flags outside `allowed`, as libvirt's virCheckFlags does."""
    extra = int(flags) & ~int(allowed)   # int(): ~IntFlag would stay inside the enum's bits
    if extra:
        raise lookup(ErrorNumber.INVALID_ARG)(
            f"unsupported flags (0x{extra:x}) in function {func}",
            code=ErrorNumber.INVALID_ARG, domain=origin, str1=func, str2="flags")


def not_running(origin: int) -> libvirtError:
    """libvirt's virDomainObjCheckActive failure."""
    return error(ErrorNumber.OPERATION_INVALID, origin, "domain is not running")


def invalid(origin: int, detail: str) -> libvirtError:
    return error(ErrorNumber.OPERATION_INVALID, origin, detail)
