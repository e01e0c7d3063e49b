"""Picks the C core (pyvirt._core_c) or its pure-Python twins, and wraps the C side.

Modelled on psycopg's `_cmodule.py` / `pq.__impl__`: PYVIRT_IMPL=c or =python chooses
strictly (c requested but unusable: ImportError saying why); unset, the C core is
used when it imports and matches this source tree, else the twins, silently, with the
reason kept in `c_unavailable_reason`.  `__impl__` says which one is in use.

This is the only module that knows the C module exists.  Its wrappers are thin: they
pass buffers and fds to C, check return codes, and turn failures into exceptions with
error_from_code().  Both implementations of each hot path satisfy one Protocol
(pyvirt._twins.abc), and get_impl() hands out either, so tests can run both.
"""
from __future__ import annotations

import errno
import json
import os
import struct
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Callable, Sequence

from ._twins import evpoll as _py_evpoll
from ._twins import fastxml as _py_fastxml
from ._twins import mempeek as _py_mempeek
from ._twins import qmp as _py_qmp
from ._twins.abc import (EV_BATCH, EV_HANDLE, EV_MAX_ENTRIES, EV_MAX_FD, EV_TIMER, FX_MAX_ATTRS,
                         FX_MAX_DEPTH, FX_MAX_DOC, FX_MAX_NAME, FX_MAX_NSDECL, READY_STRIDE,
                         DomainSummary, FastParseError, FastXML, FxReason, Poller,
                         error_from_code, make_summary)
from ._twins.abc import (MP_MAX_REGIONS, MP_PAGING_5LEVEL, QMP_EVENT, QMP_INITIAL_BUF,
                         QMP_MAX_BUF, QMP_MAX_DEPTH, MemPeek, MemRegion, Qmp, QmpMessage)
from .constants import ErrorDomain, ErrorNumber
from .errors import error

__all__ = [
    "__impl__", "c_unavailable_reason", "available_impls", "get_impl", "Impl",
    "parse_domain_summary", "new_poller", "DomainSummary", "FastParseError", "FastXML",
    "Poller", "error_from_code", "IMPL_ENV",
]

IMPL_ENV = "PYVIRT_IMPL"

# (C name, expected value): the compiled module must agree with pyvirt/_twins/abc.py, or
# it was built from other sources (a stale .so) and is not safe to use.
_C_CONSTANTS = {
    "PV_FX_MAX_DOC": FX_MAX_DOC, "PV_FX_MAX_DEPTH": FX_MAX_DEPTH, "PV_FX_MAX_NAME": FX_MAX_NAME,
    "PV_FX_MAX_ATTRS": FX_MAX_ATTRS, "PV_FX_MAX_NSDECL": FX_MAX_NSDECL,
    "PV_FX_E_NOSPACE": FxReason.NOSPACE, "PV_EV_BATCH": EV_BATCH, "PV_EV_MAX_FD": EV_MAX_FD,
    "PV_EV_MAX_ENTRIES": EV_MAX_ENTRIES, "PV_EV_TIMER": EV_TIMER, "PV_EV_HANDLE": EV_HANDLE,
}
_C_CONSTANTS.update({
    "PV_QMP_EVENT": QMP_EVENT, "PV_QMP_MAX_BUF": QMP_MAX_BUF, "PV_QMP_MAX_DEPTH": QMP_MAX_DEPTH,
    "PV_MP_MAX_REGIONS": MP_MAX_REGIONS, "PV_MP_PAGING_5LEVEL": MP_PAGING_5LEVEL,
})
# struct pv_fx_domain, field by field: 5 spans (off, len), memory_value, memory_kib,
# current_memory_kib, vcpu, present, reason, field, err_offset.  Native alignment.
_FX_RES = struct.Struct("@10I3Q4IQ")


def _load_c() -> tuple[ModuleType | None, str | None]:
    try:
        from . import _core_c
    except ImportError as e:
        return None, f"pyvirt._core_c is not importable ({e}); build it with " \
                     "`python setup.py build_ext --inplace`"
    lib, ffi = _core_c.lib, _core_c.ffi
    for name, want in _C_CONSTANTS.items():
        got = getattr(lib, name, None)
        if got != want:
            return None, f"pyvirt._core_c is stale: {name} is {got}, expected {want}; rebuild it"
    if ffi.sizeof("struct pv_fx_domain") != _FX_RES.size or \
            ffi.sizeof("struct pv_ev_ready") != 4 * READY_STRIDE:
        return None, "pyvirt._core_c is stale: struct layouts differ; rebuild it"
    return _core_c, None


_requested = os.environ.get(IMPL_ENV, "").strip().lower()
if _requested not in ("", "c", "python"):
    raise ImportError(f"{IMPL_ENV}={_requested!r}: expected 'c' or 'python' (or unset)")

_c: ModuleType | None
c_unavailable_reason: str | None
if _requested == "python":
    _c, c_unavailable_reason = None, f"{IMPL_ENV}=python"
else:
    _c, c_unavailable_reason = _load_c()
    if _c is None and _requested == "c":
        raise ImportError(f"{IMPL_ENV}=c but the C core cannot be used: {c_unavailable_reason}")

__impl__: str = "c" if _c is not None else "python"


# ---- C: XML fast-parse ----

class CFastXML:
    """FastXML on csrc/fastxml.c.  Per-thread output buffers (cffi drops the GIL)."""

    def __init__(self, c: ModuleType) -> None:
        self._ffi, self._lib = c.ffi, c.lib
        self._tls = threading.local()

    def _buffers(self, n: int) -> tuple[Any, int, Any, Any]:
        st = getattr(self._tls, "st", None)
        if st is None or st[1] < n:
            cap = max(4096, min(n, FX_MAX_DOC))
            res = self._ffi.new("struct pv_fx_domain *")
            st = (self._ffi.new("char[]", cap), cap, res, self._ffi.buffer(res))
            self._tls.st = st
        return st

    def parse_domain_summary(self, data: bytes | str) -> DomainSummary:
        if type(data) is not bytes:
            data = _py_fastxml.as_utf8(data)
        n = len(data)
        out, cap, res, resbuf = self._buffers(n)
        rc = self._lib.pv_fx_parse_domain(data, n, out, cap, res)
        (t_off, t_len, n_off, n_len, u_off, u_len, mu_off, mu_len, o_off, o_len, mem_v, mem_kib,
         cur_kib, vcpu, present, reason, field, err_off) = _FX_RES.unpack_from(resbuf)
        if rc < 0:
            raise error_from_code(rc, "fast-parse", parse=(reason, err_off, field))
        raw = self._ffi.unpack(out, rc)
        return make_summary(
            raw[n_off:n_off + n_len].decode(),
            raw[u_off:u_off + u_len].decode() if present & 1 else None,
            raw[t_off:t_off + t_len].decode(), mem_kib, mem_v,
            raw[mu_off:mu_off + mu_len].decode() if present & 2 else "KiB",
            cur_kib if present & 4 else None, vcpu, raw[o_off:o_off + o_len].decode())


# ---- C: event-loop poller ----

def _closed_error() -> Exception:
    return error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT, "the event loop is closed")


class CPoller:
    """Poller on csrc/evpoll.c: one pv_ev_loop, freed by close().

    close() may run while another thread is blocked in run_once() (it interrupts and
    waits for it); it must not race the other calls.  A poller garbage-collected while
    open warns (ResourceWarning), as uvloop's handles do.
    """

    def __init__(self, c: ModuleType) -> None:
        self._ffi, self._lib = c.ffi, c.lib
        pp = self._ffi.new("pv_ev_loop **")
        rc = self._lib.pv_ev_new(pp)
        if rc < 0:
            raise error_from_code(rc, "cannot create the event loop", ErrorDomain.EVENT)
        self._loop: Any = pp[0]
        self._buf = self._ffi.new("struct pv_ev_ready[]", EV_BATCH)
        self._ints = self._ffi.cast("int32_t *", self._buf)
        self._run_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._loop is None

    def _l(self) -> Any:
        loop = self._loop
        if loop is None:
            raise _closed_error()
        return loop

    def _check(self, rc: int, what: str) -> int:
        if rc < 0:
            raise error_from_code(rc, what, ErrorDomain.EVENT)
        return rc

    def add_handle(self, fd: int, events: int) -> int:
        return self._check(self._lib.pv_ev_add_handle(self._l(), fd, events),
                           f"cannot watch fd {fd}")

    def update_handle(self, watch: int, events: int) -> bool:
        rc = self._lib.pv_ev_update_handle(self._l(), watch, events)
        return rc != -errno.ENOENT and self._check(rc, f"cannot update watch {watch}") == 0

    def remove_handle(self, watch: int) -> bool:
        rc = self._lib.pv_ev_remove_handle(self._l(), watch)
        return rc != -errno.ENOENT and self._check(rc, f"cannot remove watch {watch}") == 0

    def add_timeout(self, ms: int) -> int:
        return self._check(self._lib.pv_ev_add_timeout(self._l(), ms), "cannot add a timer")

    def update_timeout(self, timer: int, ms: int) -> bool:
        rc = self._lib.pv_ev_update_timeout(self._l(), timer, ms)
        return rc != -errno.ENOENT and self._check(rc, f"cannot update timer {timer}") == 0

    def remove_timeout(self, timer: int) -> bool:
        rc = self._lib.pv_ev_remove_timeout(self._l(), timer)
        return rc != -errno.ENOENT and self._check(rc, f"cannot remove timer {timer}") == 0

    def next_timeout(self) -> int:
        out = self._ffi.new("int *")    # per call: other threads may ask concurrently
        self._check(self._lib.pv_ev_next_timeout(self._l(), out), "cannot compute timeout")
        return int(out[0])

    def set_clock(self, now_ms: int) -> None:
        self._check(self._lib.pv_ev_set_clock(self._l(), now_ms), "cannot set the clock")

    def count(self, kind: int) -> int:
        return self._check(self._lib.pv_ev_count(self._l(), kind), "cannot count")

    def interrupt(self) -> None:
        self._check(self._lib.pv_ev_interrupt(self._l()), "cannot interrupt the event loop")

    def run_once(self, max_wait_ms: int = -1) -> list[int]:
        with self._run_lock:
            loop = self._l()
            n = self._lib.pv_ev_run_once(loop, max_wait_ms, self._buf, EV_BATCH)
            if n <= 0:
                if n == 0:
                    return []
                if n == -errno.EBUSY:
                    raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.EVENT,
                                "another thread is already running this event loop")
                self._check(n, "event loop wait failed")
            # One call turns all records into Python ints: (kind, id, fd, events) * n.
            ints: list[int] = self._ffi.unpack(self._ints, READY_STRIDE * n)
            return ints

    def close(self) -> None:
        loop = self._loop
        if loop is None:
            return
        self._lib.pv_ev_interrupt(loop)
        with self._run_lock:
            if self._loop is not None:
                self._loop = None
                self._lib.pv_ev_free(loop)

    def __del__(self) -> None:
        if getattr(self, "_loop", None) is not None:
            warnings.warn(f"unclosed {type(self).__name__}", ResourceWarning, source=self)
            self.close()


# ---- C: QMP monitor socket I/O ----

class CQmpChannel:
    """QmpChannel on csrc/qmp.c: the fd plus a receive buffer in C memory, grown on
    demand (-EMSGSIZE) up to QMP_MAX_BUF.  One thread at a time, like the twin."""

    def __init__(self, c: ModuleType, fd: int) -> None:
        self._ffi, self._lib = c.ffi, c.lib
        self._fd = fd
        self._rx = self._ffi.new("struct pv_qmp_rx *")
        self._msg = self._ffi.new("struct pv_qmp_msg *")
        self._buf = self._ffi.new("char[]", QMP_INITIAL_BUF)
        self._rx.buf = self._buf
        self._rx.cap = QMP_INITIAL_BUF
        self._rx.rcvtimeo_ms = -2
        # blocking: a reply is awaited in one recv() bounded by SO_RCVTIMEO (qmp.h)
        os.set_blocking(fd, True)

    def fileno(self) -> int:
        return self._fd

    def buffered(self) -> bool:
        return bool(self._rx.end != self._rx.start)

    def _check_open(self) -> int:
        if self._fd < 0:
            raise _py_qmp.oserror(errno.EBADF, "the QMP channel is closed")
        return self._fd

    def _grow(self) -> None:
        rx = self._rx
        cap = int(rx.cap)
        if cap >= QMP_MAX_BUF:
            raise _py_qmp.oserror(errno.EMSGSIZE, "QMP message too long")
        ncap = min(cap * 4, QMP_MAX_BUF)
        nbuf = self._ffi.new("char[]", ncap)
        n = int(rx.end - rx.start)
        self._ffi.memmove(nbuf, self._buf + rx.start, n)
        self._buf = nbuf
        rx.buf, rx.cap, rx.start, rx.end, rx.scanned = nbuf, ncap, 0, n, n

    def _message(self, rc: int) -> QmpMessage:
        m = self._msg
        if rc < 0:
            if rc == -errno.EPROTO:
                bad = self._ffi.unpack(self._buf + m.off, min(m.len, 80))
                raise _py_qmp.oserror(errno.EPROTO, "not a JSON text: " + repr(bad))
            if rc == -errno.ECONNRESET:
                raise _py_qmp.oserror(errno.ECONNRESET, "QEMU closed the monitor connection")
            raise _py_qmp.oserror(-rc)
        line: bytes = self._ffi.unpack(self._buf + m.off, m.len)
        kind = m.kind
        name = None
        if kind == QMP_EVENT:
            raw = line[m.name_off:m.name_off + m.name_len]
            name = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
        return QmpMessage(line, kind, m.has_id, m.id, name, m.first, m.nonempty)

    def recv(self, timeout_ms: int) -> QmpMessage:
        fd = self._check_open()
        rc = self._lib.pv_qmp_recv(fd, self._rx, timeout_ms, self._msg)
        while rc == -errno.EMSGSIZE:
            self._grow()
            rc = self._lib.pv_qmp_recv(fd, self._rx, timeout_ms, self._msg)
        return self._message(rc)

    def send(self, data: bytes, timeout_ms: int) -> None:
        rc = self._lib.pv_qmp_send(self._check_open(), data, len(data), timeout_ms)
        if rc < 0:
            raise _py_qmp.oserror(-rc)

    def send_fds(self, data: bytes, fds: Sequence[int], timeout_ms: int) -> None:
        arr = self._ffi.new("int[]", list(fds) or [0])
        rc = self._lib.pv_qmp_send_fds(self._check_open(), data, len(data), arr, len(fds),
                                       timeout_ms)
        if rc < 0:
            raise _py_qmp.oserror(-rc)

    def transact(self, data: bytes, timeout_ms: int) -> QmpMessage:
        rc = self._lib.pv_qmp_transact(self._check_open(), data, len(data), self._rx,
                                       timeout_ms, self._msg)
        if rc == -errno.EMSGSIZE:
            return self.recv(timeout_ms)
        return self._message(rc)

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


class CQmp:
    """The QMP hot path on csrc/qmp.c."""

    name = "c"

    def __init__(self, c: ModuleType) -> None:
        self._c = c
        self._msg = c.ffi.new("struct pv_qmp_msg *")
        self._lock = threading.Lock()

    def connect(self, path: str, timeout_ms: int) -> CQmpChannel:
        rc = self._c.lib.pv_qmp_connect(os.fsencode(path), timeout_ms)
        if rc < 0:
            raise _py_qmp.oserror(-rc, path)
        return CQmpChannel(self._c, rc)

    def adopt(self, fd: int) -> CQmpChannel:
        return CQmpChannel(self._c, fd)

    def classify(self, data: bytes) -> QmpMessage:
        with self._lock:
            m = self._msg
            rc = self._c.lib.pv_qmp_classify(data, len(data), m)
            if rc < 0:
                raise _py_qmp.oserror(-rc, "not a JSON text: " + repr(data[:80]))
            line = data[:m.len]
            name = None
            if m.kind == QMP_EVENT:
                raw = line[m.name_off:m.name_off + m.name_len]
                name = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()
            return QmpMessage(line, m.kind, m.has_id, m.id, name, m.first, m.nonempty)


# ---- C: memory peek ----

class CGuestRAM:
    """GuestRAM on csrc/mempeek.c: a pv_mp_map plus the region table in C memory."""

    def __init__(self, c: ModuleType, path: str, min_size: int,
                 regions: Sequence[MemRegion]) -> None:
        self._ffi, self._lib = c.ffi, c.lib
        if len(regions) > MP_MAX_REGIONS:
            raise _py_qmp.oserror(errno.EINVAL, "too many regions")
        self._map = self._ffi.new("struct pv_mp_map *")
        rc = self._lib.pv_mp_open(os.fsencode(path), min_size, self._map)
        if rc < 0:
            raise _py_qmp.oserror(-rc, path)
        self._regions = self._ffi.new("struct pv_mp_region[]", max(1, len(regions)))
        for i, r in enumerate(regions):
            self._regions[i].gpa, self._regions[i].size, self._regions[i].offset = r
        self._nregions = len(regions)
        self._off = self._ffi.new("uint64_t *")
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return int(self._map.size)

    def _base(self) -> Any:
        if self._map.base == self._ffi.NULL:
            raise _py_qmp.oserror(errno.EINVAL, "the guest RAM mapping is closed")
        return self._map.base

    def read_phys(self, gpa: int, size: int) -> bytes:
        with self._lock:
            base = self._base()
            rc = self._lib.pv_mp_phys_offset(self._map, self._regions, self._nregions, gpa,
                                             size, self._off)
            if rc == 0:     # one piece: a single copy straight into the bytes object
                data: bytes = self._ffi.unpack(self._ffi.cast("char *", base) + self._off[0],
                                               size)
                return data
            out = self._ffi.new("char[]", max(1, size))
            n = self._lib.pv_mp_read_phys(self._map, self._regions, self._nregions, gpa,
                                          size, out)
        if n < 0:
            raise _py_qmp.oserror(-n, f"0x{gpa:x}+{size}")
        return self._ffi.unpack(out, size)  # type: ignore[no-any-return]

    def translate(self, cr3: int, mode: int, pse: bool, va: int) -> int:
        with self._lock:
            self._base()
            rc = self._lib.pv_mp_translate(self._map, self._regions, self._nregions, cr3,
                                           mode, int(pse), va, self._off)
            if rc < 0:
                raise _py_qmp.oserror(-rc, f"0x{va:x}")
            return int(self._off[0])

    def read_virt(self, cr3: int, mode: int, pse: bool, va: int, size: int) -> bytes:
        out = self._ffi.new("char[]", max(1, size))
        with self._lock:
            self._base()
            n = self._lib.pv_mp_read_virt(self._map, self._regions, self._nregions, cr3,
                                          mode, int(pse), va, size, out)
        if n < 0:
            raise _py_qmp.oserror(-n, f"0x{va:x}+{size}")
        return self._ffi.unpack(out, size)  # type: ignore[no-any-return]

    def close(self) -> None:
        with self._lock:
            self._lib.pv_mp_close(self._map)


class CMemPeek:
    """The memory-peek hot path on csrc/mempeek.c."""

    name = "c"

    def __init__(self, c: ModuleType) -> None:
        self._c = c

    def open(self, path: str, min_size: int, regions: Sequence[MemRegion]) -> CGuestRAM:
        return CGuestRAM(self._c, path, min_size, regions)


# ---- selection ----

@dataclass(frozen=True)
class Impl:
    """One implementation of every hot path."""

    name: str
    fastxml: FastXML
    new_poller: Callable[[], Poller]
    qmp: Qmp | None = None
    mempeek: MemPeek | None = None


_impls: dict[str, Impl] = {}


def available_impls() -> tuple[str, ...]:
    """The implementations usable here: ("c", "python") or ("python",)."""
    c_ok = _c is not None or (_requested == "python" and _load_c()[0] is not None)
    return ("c", "python") if c_ok else ("python",)


def get_impl(name: str) -> Impl:
    """The "c" or "python" implementation (tests use both; code uses the default)."""
    impl = _impls.get(name)
    if impl is not None:
        return impl
    if name == "python":
        impl = Impl("python", _py_fastxml, _py_evpoll.PyPoller, _py_qmp.PyQmp(),
                    _py_mempeek.PyMemPeek())
    elif name == "c":
        c = _c if _c is not None else _load_c()[0]
        if c is None:
            raise ImportError(f"the C core cannot be used: {c_unavailable_reason}")
        impl = Impl("c", CFastXML(c), lambda: CPoller(c), CQmp(c), CMemPeek(c))
    else:
        raise ValueError(f"unknown implementation {name!r}: expected 'c' or 'python'")
    _impls[name] = impl
    return impl


_default = get_impl(__impl__)
parse_domain_summary: Callable[[bytes | str], DomainSummary] = \
    _default.fastxml.parse_domain_summary
"""Scan a domain XML for its hot fields (raises FastParseError: fall back to lxml)."""

new_poller: Callable[[], Poller] = _default.new_poller
"""A new, empty event-loop poller on the selected implementation."""

qmp: Qmp = _default.qmp  # type: ignore[assignment]
"""The QMP hot path (connections, classification) on the selected implementation."""

mempeek: MemPeek = _default.mempeek  # type: ignore[assignment]
"""The memory-peek hot path on the selected implementation."""
