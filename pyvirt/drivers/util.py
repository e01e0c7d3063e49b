"""Small helpers every driver uses: flag checks and libvirt's common error shapes."""
from __future__ import annotations

from ..constants import ErrorNumber
from ..errors import error, libvirtError, lookup


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
