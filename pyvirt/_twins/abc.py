"""What the C core and its pure-Python twins share: Protocols, result types, limits, errors.

Like psycopg's `pq/abc.py`: both implementations of each hot path are typed against one
Protocol here, and the numbers that must agree with csrc/*.h (limits, reason codes,
record layouts) are defined once on the Python side here; tests/core checks them
against the compiled module.
"""
from __future__ import annotations

import errno as _errno
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Callable, NamedTuple, Protocol

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError

__all__ = [
    "DomainSummary", "make_summary", "FastParseError", "FastXML", "Poller", "error_from_code",
    "FX_MAX_DOC", "FX_MAX_DEPTH", "FX_MAX_NAME", "FX_MAX_ATTRS", "FX_MAX_NSDECL",
    "FxReason", "FxField", "EV_TIMER", "EV_HANDLE", "EV_READABLE", "EV_WRITABLE",
    "EV_ERROR", "EV_HANGUP", "EV_MAX_FD", "EV_MAX_ENTRIES", "EV_BATCH", "READY_STRIDE",
]

# ---- fast XML parse (csrc/fastxml.h) ----

FX_MAX_DOC = 4194304
FX_MAX_DEPTH = 128
FX_MAX_NAME = 1024
FX_MAX_ATTRS = 64
FX_MAX_NSDECL = 256


class FxReason:
    """enum pv_fx_reason: why a document was refused."""

    OK = 0
    TOO_BIG = 1
    ENCODING = 2
    CHAR = 3
    TRUNCATED = 4
    SYNTAX = 5
    DTD = 6
    XMLDECL = 7
    NAME = 8
    MISMATCH = 9
    DEPTH = 10
    LIMIT = 11
    ATTR_DUP = 12
    REFERENCE = 13
    NAMESPACE = 14
    NOT_DOMAIN = 15
    EXTRA = 16
    MISSING = 17
    NUMBER = 18
    UNIT = 19
    OVERFLOW = 20
    NOSPACE = 21


class FxField:
    """enum pv_fx_field: which field a semantic refusal is about."""

    NONE = 0
    TYPE = 1
    NAME = 2
    UUID = 3
    MEMORY = 4
    CURRENT_MEMORY = 5
    VCPU = 6
    OS_TYPE = 7


_R = FxReason
REASON_TEXT: dict[int, str] = {
    _R.TOO_BIG: f"document larger than {FX_MAX_DOC} bytes",
    _R.ENCODING: "input is not valid UTF-8",
    _R.CHAR: "character not allowed in XML 1.0",
    _R.TRUNCATED: "document ends prematurely",
    _R.SYNTAX: "malformed markup",
    _R.DTD: "DOCTYPE, entity and other declarations are not supported",
    _R.XMLDECL: "bad or unsupported XML declaration (version 1.0, UTF-8 only)",
    _R.NAME: f"bad or unsupported name (ASCII names of at most {FX_MAX_NAME} bytes)",
    _R.MISMATCH: "end tag does not match its start tag",
    _R.DEPTH: f"elements nested deeper than {FX_MAX_DEPTH}",
    _R.LIMIT: (f"more than {FX_MAX_ATTRS} attributes on an element or "
               f"{FX_MAX_NSDECL} namespace declarations in scope"),
    _R.ATTR_DUP: "attribute given twice",
    _R.REFERENCE: "unknown entity or bad character reference",
    _R.NAMESPACE: "undeclared prefix or unsupported namespace declaration",
    _R.NOT_DOMAIN: "root element is not <domain> in no namespace",
    _R.EXTRA: "content after the root element",
    _R.MISSING: "missing {field}",
    _R.NUMBER: "{field} is not a decimal number",
    _R.UNIT: "unknown unit for {field}",
    _R.OVERFLOW: "{field} is out of range",
    _R.NOSPACE: "internal error: output buffer too small",
}

FIELD_TEXT: dict[int, str] = {
    FxField.NONE: "field", FxField.TYPE: "domain type attribute", FxField.NAME: "<name>",
    FxField.UUID: "<uuid>", FxField.MEMORY: "<memory>",
    FxField.CURRENT_MEMORY: "<currentMemory>", FxField.VCPU: "<vcpu>",
    FxField.OS_TYPE: "<os><type>",
}


class FastParseError(ValueError):
    """The fast parser refused a document; fall back to a full (lxml) parse.

    A refusal is not a verdict on the document: the fast parser refuses everything
    outside the XML subset it handles (see csrc/fastxml.c).  `reason` is an FxReason,
    `offset` the byte where it was detected, `field` an FxField for semantic refusals.
    """

    def __init__(self, reason: int, offset: int = 0, field: int = FxField.NONE) -> None:
        self.reason = reason
        self.offset = offset
        self.field = field
        text = REASON_TEXT.get(reason, f"unknown reason {reason}")
        text = text.format(field=FIELD_TEXT.get(field, "field"))
        super().__init__(f"cannot fast-parse domain XML: {text} (at byte {offset})")

    def __reduce__(self) -> tuple[type[FastParseError], tuple[int, int, int]]:
        return (type(self), (self.reason, self.offset, self.field))


@dataclass(frozen=True, slots=True)
class DomainSummary:
    """The hot fields of a domain XML, as libvirt would read them.

    memory_value/memory_unit are <memory> as written (unit "KiB" when not given);
    memory_kib and current_memory_kib are converted with libvirt's unit rules and
    rounded up to whole KiB.  current_memory_kib is as written (None when absent):
    libvirt later replaces 0, or a value above memory, by memory.  uuid is the text as
    written (None when absent or empty); vcpu is 1 when <vcpu> is absent, as in libvirt.
    """

    name: str
    uuid: str | None
    type: str
    memory_kib: int
    memory_value: int
    memory_unit: str
    current_memory_kib: int | None
    vcpu: int
    os_type: str


def _summary_maker() -> Callable[..., DomainSummary]:
    # A frozen dataclass's __init__ goes through object.__setattr__ per field, which
    # costs as much as the whole C scan; setting the slots through their descriptors
    # is the same result (frozen, hashable, equal) at under half the price.
    new = object.__new__
    setters = [getattr(DomainSummary, f.name).__set__ for f in fields(DomainSummary)]
    s0, s1, s2, s3, s4, s5, s6, s7, s8 = setters

    def make(name: str, uuid: str | None, type: str, memory_kib: int, memory_value: int,
             memory_unit: str, current_memory_kib: int | None, vcpu: int,
             os_type: str) -> DomainSummary:
        o = new(DomainSummary)
        s0(o, name), s1(o, uuid), s2(o, type), s3(o, memory_kib), s4(o, memory_value)
        s5(o, memory_unit), s6(o, current_memory_kib), s7(o, vcpu), s8(o, os_type)
        return o
    return make


make_summary = _summary_maker()
"""DomainSummary(*fields), positionally in field order, built fast (see above)."""


class FastXML(Protocol):
    """The XML fast-parse hot path."""

    def parse_domain_summary(self, data: bytes | str) -> DomainSummary:
        """Scan a domain XML; raise FastParseError when it is outside the subset."""
        ...


# ---- event-loop poller (csrc/evpoll.h) ----

EV_TIMER = 1
EV_HANDLE = 2
EV_READABLE = 1
EV_WRITABLE = 2
EV_ERROR = 4
EV_HANGUP = 8
EV_MAX_FD = 1048576
EV_MAX_ENTRIES = 1048576
EV_BATCH = 256
READY_STRIDE = 4    # run_once() returns flat (kind, id, fd, events) quadruples


class Poller(Protocol):
    """The event-loop polling hot path: watches, timers and one blocking step.

    Semantics are documented in csrc/evpoll.h.  Unknown ids make update/remove return
    False; system failures raise libvirtError (via error_from_code).
    """

    @property
    def closed(self) -> bool: ...

    def add_handle(self, fd: int, events: int) -> int: ...

    def update_handle(self, watch: int, events: int) -> bool: ...

    def remove_handle(self, watch: int) -> bool: ...

    def add_timeout(self, ms: int) -> int: ...

    def update_timeout(self, timer: int, ms: int) -> bool: ...

    def remove_timeout(self, timer: int) -> bool: ...

    def next_timeout(self) -> int: ...

    def run_once(self, max_wait_ms: int = -1) -> list[int]:
        """Wait, then return ready records as a flat list of READY_STRIDE ints each."""
        ...

    def interrupt(self) -> None: ...

    def set_clock(self, now_ms: int) -> None: ...

    def count(self, kind: int) -> int: ...

    def close(self) -> None: ...


# ---- errors ----

_ERRNO_CODE = {
    _errno.ENOMEM: ErrorNumber.NO_MEMORY,
    _errno.EINVAL: ErrorNumber.INVALID_ARG,
    _errno.EBUSY: ErrorNumber.OPERATION_INVALID,
    _errno.ERANGE: ErrorNumber.INVALID_ARG,
}


def error_from_code(rc: int, what: str, domain: int = ErrorDomain.NONE, *,
                    parse: tuple[int, int, int] | None = None) -> Exception:
    """The exception for a C core result code `rc` (< 0, a negated errno).

    `parse` = (reason, offset, field) marks a fast-parse refusal: FastParseError.
    Otherwise a libvirtError as libvirt's virReportSystemError builds it: the errno in
    int1 and "what: strerror" as the message, with a more specific code for ENOMEM,
    EINVAL and EBUSY.
    """
    if parse is not None:
        return FastParseError(*parse)
    err = -rc
    code = _ERRNO_CODE.get(err, ErrorNumber.SYSTEM_ERROR)
    exc: libvirtError = error(code, domain, f"{what}: {os.strerror(err)}", int1=err)
    return exc


# ---- QMP monitor socket I/O (csrc/qmp.h) ----

QMP_OTHER = 0
QMP_RETURN = 1
QMP_ERROR = 2
QMP_EVENT = 3
QMP_GREETING = 4
QMP_NOT_OBJECT = 5
QMP_ID_ABSENT = 0
QMP_ID_INT = 1
QMP_ID_OTHER = 2
QMP_MAX_DEPTH = 512
QMP_MAX_BUF = 268435456
QMP_INITIAL_BUF = 65536
QMP_MAX_FDS = 16


class QmpMessage(NamedTuple):
    """One line from (or a JSON text given to) the QMP hot path, classified.

    `line` is the JSON text without its line end; `kind` a QMP_* kind; `has_id` a
    QMP_ID_* value with the integer in `id`; `event` the event name (QMP_EVENT only);
    `first` the offset of the first non-blank byte and `nonempty` 1 for an object with
    at least one key (for injecting an "id" into a caller's command without
    re-serialising it).
    """

    line: bytes
    kind: int
    has_id: int
    id: int
    event: str | None
    first: int
    nonempty: int


class QmpChannel(Protocol):
    """One QMP connection: a socket plus its receive buffer.  Used by one thread at a
    time.  Failures raise OSError with the errno (TimeoutError at a deadline,
    ConnectionResetError when QEMU closed the socket, EPROTO for a line that is not
    JSON); deadlines are in ms, < 0 for none."""

    def fileno(self) -> int: ...

    def send(self, data: bytes, timeout_ms: int) -> None: ...

    def send_fds(self, data: bytes, fds: Sequence[int], timeout_ms: int) -> None:
        """send() with file descriptors passed along (SCM_RIGHTS), for QMP getfd."""
        ...

    def recv(self, timeout_ms: int) -> QmpMessage:
        """The next message (0: only one already buffered or readable now, else
        BlockingIOError)."""
        ...

    def transact(self, data: bytes, timeout_ms: int) -> QmpMessage:
        """send() then recv(): the first message that arrives (maybe an event)."""
        ...

    def buffered(self) -> bool:
        """Whether unread bytes are buffered (a complete line may be among them)."""
        ...

    def close(self) -> None: ...


class Qmp(Protocol):
    """The QMP hot path: connections and JSON classification."""

    def connect(self, path: str, timeout_ms: int) -> QmpChannel: ...

    def adopt(self, fd: int) -> QmpChannel:
        """A channel on an already connected unix socket fd (the channel owns it)."""
        ...

    def classify(self, data: bytes) -> QmpMessage:
        """Classify one JSON text; OSError(EPROTO) when it is not valid JSON."""
        ...


# ---- memory peek (csrc/mempeek.h) ----

MP_PAGING_NONE = 0
MP_PAGING_32 = 1
MP_PAGING_PAE = 2
MP_PAGING_4LEVEL = 3
MP_PAGING_5LEVEL = 4
MP_MAX_REGIONS = 16


class MemRegion(NamedTuple):
    """Guest-physical [gpa, gpa+size) is at `offset` in the RAM file."""

    gpa: int
    size: int
    offset: int


class GuestRAM(Protocol):
    """A read-only shared mapping of one guest's RAM file.  Reads outside the region
    table raise OSError(EFAULT) (ask QEMU instead); an unmapped virtual page raises
    OSError(ENXIO)."""

    @property
    def size(self) -> int: ...

    def read_phys(self, gpa: int, size: int) -> bytes: ...

    def read_virt(self, cr3: int, mode: int, pse: bool, va: int, size: int) -> bytes: ...

    def translate(self, cr3: int, mode: int, pse: bool, va: int) -> int: ...

    def close(self) -> None: ...


class MemPeek(Protocol):
    """The memory-peek hot path."""

    def open(self, path: str, min_size: int, regions: Sequence[MemRegion]) -> GuestRAM: ...


__all__ += [
    "QMP_OTHER", "QMP_RETURN", "QMP_ERROR", "QMP_EVENT", "QMP_GREETING", "QMP_NOT_OBJECT",
    "QMP_ID_ABSENT", "QMP_ID_INT", "QMP_ID_OTHER", "QMP_MAX_DEPTH", "QMP_MAX_BUF",
    "QMP_INITIAL_BUF", "QMP_MAX_FDS", "QmpMessage", "QmpChannel", "Qmp",
    "MP_PAGING_NONE", "MP_PAGING_32", "MP_PAGING_PAE", "MP_PAGING_4LEVEL", "MP_PAGING_5LEVEL",
    "MP_MAX_REGIONS", "MemRegion", "GuestRAM", "MemPeek",
]
