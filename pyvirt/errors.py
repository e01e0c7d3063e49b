"""libvirtError: one exception type carrying libvirt's error code, domain and message.

The model follows virterror.h: every error has a code (VIR_ERR_*), a domain naming
where it came from (VIR_FROM_*), a level, and the extra fields str1-3 / int1-2.
Messages are built the way libvirt's virErrorMsg does: a fixed text per code, with
the detail appended through the code's "%s" template, so `str(err)` reads exactly as
libvirt's would ("Domain not found: no domain with matching name 'x'").

Each code that callers commonly catch has a subclass (NoDomainError, ...), still a
libvirtError, found with lookup(code); code that raises uses `error(...)`, which picks
the right class.
"""
from __future__ import annotations

from typing import Any, Callable, ClassVar

from .constants import ErrorDomain, ErrorLevel, ErrorNumber

__all__ = [
    "ErrorDomain", "ErrorLevel", "ErrorNumber", "libvirtError", "lookup", "error",
    "InternalError", "NoSupportError", "NoConnectError", "InvalidArgError",
    "OperationFailedError", "XMLError", "XMLDetailError", "DomainExistError",
    "OperationDeniedError", "NetworkExistError", "SystemError_", "RPCError", "NoDomainError",
    "NoNetworkError", "AuthFailedError", "NoStoragePoolError", "NoStorageVolError",
    "OperationInvalidError", "ConfigUnsupportedError", "OperationTimeoutError",
    "ArgumentUnsupportedError", "OperationUnsupportedError", "StorageVolExistError",
    "ResourceBusyError",
]

E = ErrorNumber

# (text without detail, template with detail) per code, as libvirt 9.0 prints them.
_MESSAGES: dict[int, tuple[str, str]] = {
    E.INTERNAL_ERROR: ("internal error", "internal error: %s"),
    E.NO_MEMORY: ("out of memory", "out of memory: %s"),
    E.NO_SUPPORT: ("this function is not supported by the connection driver",
                   "this function is not supported by the connection driver: %s"),
    E.UNKNOWN_HOST: ("unknown host", "unknown host %s"),
    E.NO_CONNECT: ("no connection driver available", "no connection driver available for %s"),
    E.INVALID_CONN: ("invalid connection pointer in", "invalid connection pointer in %s"),
    E.INVALID_DOMAIN: ("invalid domain pointer in", "invalid domain pointer in %s"),
    E.INVALID_ARG: ("invalid argument", "invalid argument: %s"),
    E.OPERATION_FAILED: ("operation failed", "operation failed: %s"),
    E.OS_TYPE: ("unknown OS type", "unknown OS type %s"),
    E.NO_KERNEL: ("missing kernel information", "missing kernel information: %s"),
    E.NO_NAME: ("missing name information", "missing name information in %s"),
    E.NO_OS: ("missing operating system information",
              "missing operating system information for %s"),
    E.XML_ERROR: ("XML description is invalid or not well formed", "XML error: %s"),
    E.DOM_EXIST: ("this domain exists already", "domain %s exists already"),
    E.OPERATION_DENIED: ("operation forbidden for read only access", "operation forbidden: %s"),
    E.OPEN_FAILED: ("failed to open configuration file", "failed to open configuration file %s"),
    E.READ_FAILED: ("failed to read configuration file", "failed to read configuration file %s"),
    E.PARSE_FAILED: ("failed to parse configuration file",
                     "failed to parse configuration file %s"),
    E.CONF_SYNTAX: ("configuration file syntax error", "configuration file syntax error: %s"),
    E.WRITE_FAILED: ("failed to write configuration file",
                     "failed to write configuration file: %s"),
    E.XML_DETAIL: ("parser error", "%s"),
    E.INVALID_NETWORK: ("invalid network pointer in", "invalid network pointer in %s"),
    E.NETWORK_EXIST: ("this network exists already", "network %s exists already"),
    E.SYSTEM_ERROR: ("system call error", "%s"),
    E.RPC: ("RPC error", "%s"),
    E.NO_DOMAIN: ("Domain not found", "Domain not found: %s"),
    E.NO_NETWORK: ("Network not found", "Network not found: %s"),
    E.INVALID_MAC: ("invalid MAC address", "invalid MAC address: %s"),
    E.AUTH_FAILED: ("authentication failed", "authentication failed: %s"),
    E.INVALID_STORAGE_POOL: ("invalid storage pool pointer in",
                             "invalid storage pool pointer in %s"),
    E.INVALID_STORAGE_VOL: ("invalid storage volume pointer in",
                            "invalid storage volume pointer in %s"),
    E.NO_STORAGE_POOL: ("Storage pool not found", "Storage pool not found: %s"),
    E.NO_STORAGE_VOL: ("Storage volume not found", "Storage volume not found: %s"),
    E.NO_SECURITY_MODEL: ("Security model not found", "Security model not found: %s"),
    E.OPERATION_INVALID: ("Requested operation is not valid",
                          "Requested operation is not valid: %s"),
    E.CONFIG_UNSUPPORTED: ("unsupported configuration", "unsupported configuration: %s"),
    E.OPERATION_TIMEOUT: ("Timed out during operation", "Timed out during operation: %s"),
    E.NO_DOMAIN_SNAPSHOT: ("Domain snapshot not found", "Domain snapshot not found: %s"),
    E.INVALID_STREAM: ("invalid stream pointer", "invalid stream pointer in %s"),
    E.ARGUMENT_UNSUPPORTED: ("argument unsupported", "argument unsupported: %s"),
    E.STORAGE_POOL_BUILT: ("Storage pool already built", "Storage pool already built: %s"),
    E.OPERATION_ABORTED: ("operation aborted", "operation aborted: %s"),
    E.AUTH_CANCELLED: ("authentication cancelled", "authentication cancelled: %s"),
    E.OVERFLOW: ("numerical overflow", "numerical overflow: %s"),
    E.OPERATION_UNSUPPORTED: ("Operation not supported", "Operation not supported: %s"),
    E.AGENT_UNRESPONSIVE: ("Guest agent is not responding",
                           "Guest agent is not responding: %s"),
    E.RESOURCE_BUSY: ("resource busy", "resource busy: %s"),
    E.ACCESS_DENIED: ("access denied", "access denied: %s"),
    E.STORAGE_VOL_EXIST: ("this storage volume exists already",
                          "storage volume %s exists already"),
    E.AUTH_UNAVAILABLE: ("authentication unavailable", "authentication unavailable: %s"),
    E.DEVICE_MISSING: ("device not found", "device not found: %s"),
    E.NO_HOSTNAME: ("no hostname found", "no hostname found: %s"),
}
_UNKNOWN = ("An error occurred, but the cause is unknown", "%s")

_CLASSES: dict[int, type["libvirtError"]] = {}

# Called with each error as it is reported, like a handler given to libvirt's
# virSetErrorFunc (libvirt-python: registerErrorHandler). None: report nothing.
_report_hook: Callable[["libvirtError"], None] | None = None


def set_report_hook(hook: Callable[["libvirtError"], None] | None) -> None:
    """Install (or with None remove) the function every reported error is passed to."""
    global _report_hook
    _report_hook = hook


def _reported(err: "libvirtError") -> "libvirtError":
    hook = _report_hook
    if hook is not None:
        try:
            hook(err)
        except Exception:  # a broken handler must not replace the real error
            pass
    return err


def format_message(code: int, detail: str | None) -> tuple[str, str]:
    """Return (message, str1) for a code and optional detail, as virErrorMsg builds them."""
    plain, template = _MESSAGES.get(code, _UNKNOWN)
    if detail is None:
        return plain, plain
    return template.replace("%s", detail, 1), template


class libvirtError(Exception):
    """An error from the API, with libvirt's error fields.

    Compatible with libvirt-python's class of the same name: `libvirtError("text")`
    works, and so do get_error_code(), get_error_domain(), get_error_message(),
    get_error_level(), get_str1..3(), get_int1..2() and the `err` tuple.
    """

    code_value: ClassVar[int] = ErrorNumber.INTERNAL_ERROR

    def __init_subclass__(cls, code: int | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if code is not None:
            cls.code_value = code
            _CLASSES[code] = cls

    def __init__(
        self,
        message: str,
        conn: Any = None,
        dom: Any = None,
        net: Any = None,
        pool: Any = None,
        vol: Any = None,
        *,
        code: int | None = None,
        domain: int = ErrorDomain.NONE,
        level: int = ErrorLevel.ERROR,
        str1: str | None = None,
        str2: str | None = None,
        str3: str | None = None,
        int1: int = -1,
        int2: int = -1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = ErrorNumber(code) if code is not None else ErrorNumber(self.code_value)
        try:
            self.domain: int = ErrorDomain(domain)
        except ValueError:
            self.domain = domain
        self.level = level
        self.str1, self.str2, self.str3 = str1, str2, str3
        self.int1, self.int2 = int1, int2
        # libvirt-python keeps the objects an error was raised for; so do we
        self.conn, self.dom, self.net, self.pool, self.vol = conn, dom, net, pool, vol

    @property
    def err(self) -> tuple[int, int, str, int, str | None, str | None, str | None, int, int]:
        """The error as libvirt-python's 9-tuple (code, domain, message, level, str1-3, int1-2)."""
        return (int(self.code), int(self.domain), self.message, int(self.level),
                self.str1, self.str2, self.str3, self.int1, self.int2)

    def get_error_code(self) -> int:
        return int(self.code)

    def get_error_domain(self) -> int:
        return int(self.domain)

    def get_error_message(self) -> str:
        return self.message

    def get_error_level(self) -> int:
        return int(self.level)

    def get_str1(self) -> str | None:
        return self.str1

    def get_str2(self) -> str | None:
        return self.str2

    def get_str3(self) -> str | None:
        return self.str3

    def get_int1(self) -> int:
        return self.int1

    def get_int2(self) -> int:
        return self.int2

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self.err))

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.message!r}, code={self.code.name}, "
                f"domain={getattr(self.domain, 'name', self.domain)})")


def _rebuild(cls: type[libvirtError], message: str, err: tuple[Any, ...]) -> libvirtError:
    code, domain, _, level, s1, s2, s3, i1, i2 = err
    return cls(message, code=code, domain=domain, level=level, str1=s1, str2=s2, str3=s3,
               int1=i1, int2=i2)


def lookup(code: int) -> type[libvirtError]:
    """The exception class for a libvirt error code (libvirtError when it has none)."""
    return _CLASSES.get(code, libvirtError)


def error(code: int, domain: int, detail: str | None = None, *, level: int = ErrorLevel.ERROR,
          str3: str | None = None, int1: int = -1, int2: int = -1) -> libvirtError:
    """Build the error libvirt would report for `code` from `domain` with `detail`."""
    message, str1 = format_message(code, detail)
    return _reported(_CLASSES.get(code, libvirtError)(
        message, code=code, domain=domain, level=level, str1=str1, str2=detail, str3=str3,
        int1=int1, int2=int2))


def from_fields(code: int, domain: int, message: str | None, level: int = ErrorLevel.ERROR,
                str1: str | None = None, str2: str | None = None, str3: str | None = None,
                int1: int = -1, int2: int = -1) -> libvirtError:
    """Rebuild an error whose fields came from elsewhere (a wire remote_error)."""
    return _reported(_CLASSES.get(code, libvirtError)(
        message or format_message(code, None)[0], code=code, domain=domain, level=level,
        str1=str1, str2=str2, str3=str3, int1=int1, int2=int2))


class InternalError(libvirtError, code=E.INTERNAL_ERROR): pass
class NoSupportError(libvirtError, code=E.NO_SUPPORT): pass
class NoConnectError(libvirtError, code=E.NO_CONNECT): pass
class InvalidArgError(libvirtError, code=E.INVALID_ARG): pass
class OperationFailedError(libvirtError, code=E.OPERATION_FAILED): pass
class XMLError(libvirtError, code=E.XML_ERROR): pass
class XMLDetailError(libvirtError, code=E.XML_DETAIL): pass
class DomainExistError(libvirtError, code=E.DOM_EXIST): pass
class OperationDeniedError(libvirtError, code=E.OPERATION_DENIED): pass
class NetworkExistError(libvirtError, code=E.NETWORK_EXIST): pass
class SystemError_(libvirtError, code=E.SYSTEM_ERROR): pass
class RPCError(libvirtError, code=E.RPC): pass
class NoDomainError(libvirtError, code=E.NO_DOMAIN): pass
class NoNetworkError(libvirtError, code=E.NO_NETWORK): pass
class AuthFailedError(libvirtError, code=E.AUTH_FAILED): pass
class NoStoragePoolError(libvirtError, code=E.NO_STORAGE_POOL): pass
class NoStorageVolError(libvirtError, code=E.NO_STORAGE_VOL): pass
class OperationInvalidError(libvirtError, code=E.OPERATION_INVALID): pass
class ConfigUnsupportedError(libvirtError, code=E.CONFIG_UNSUPPORTED): pass
class OperationTimeoutError(libvirtError, code=E.OPERATION_TIMEOUT): pass
class ArgumentUnsupportedError(libvirtError, code=E.ARGUMENT_UNSUPPORTED): pass
class OperationUnsupportedError(libvirtError, code=E.OPERATION_UNSUPPORTED): pass
class StorageVolExistError(libvirtError, code=E.STORAGE_VOL_EXIST): pass
class ResourceBusyError(libvirtError, code=E.RESOURCE_BUSY): pass
