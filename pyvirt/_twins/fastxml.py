"""Pure-Python twin of csrc/fastxml.c: a domain XML's hot fields without a tree.

A line-by-line port: the same checks in the same order, so both implementations
accept the same documents, give the same fields, and refuse the rest with the same
reason and byte offset (tests/core/test_fastxml_differential.py holds them to it).
Comments about *why* live in the C file; here only what differs in mechanics.
"""
from __future__ import annotations

import re

from .abc import (
    FX_MAX_ATTRS,
    FX_MAX_DEPTH,
    FX_MAX_DOC,
    FX_MAX_NAME,
    FX_MAX_NSDECL,
    DomainSummary,
    FastParseError,
    FxField,
    FxReason,
    make_summary,
)

__all__ = ["as_utf8", "parse_domain_summary"]

R = FxReason
F = FxField
_ROOT, _OS = 8, 9       # element roles that are not reported fields

_BADCHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NCNAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_.\-]*")
_WS = re.compile(rb"[ \t\r\n]*")
_TEXT = re.compile(rb"[^<&]*")
_ATTR_RUN = {0x22: re.compile(rb'[^"<&]*'), 0x27: re.compile(rb"[^'<&]*")}
_REF_HEX = re.compile(rb"&#x([0-9A-Fa-f]*)")
_REF_DEC = re.compile(rb"&#([0-9]*)")
_REF_NAME = re.compile(rb"&([A-Za-z0-9_.\-]*)")
_PREDEF = {b"lt": "<", b"gt": ">", b"amp": "&", b"apos": "'", b"quot": '"'}
_ATTR_WS = bytes.maketrans(b"\t\n\r", b"   ")
_FIELDS = {b"name": F.NAME, b"uuid": F.UUID, b"memory": F.MEMORY,
           b"currentMemory": F.CURRENT_MEMORY, b"vcpu": F.VCPU}
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.")
_NCNAME_CHARS = re.compile(rb"[A-Za-z0-9_.\-]*")
_URI_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*:")
_URI_HOST = re.compile(rb"[A-Za-z0-9\-._~]+")
_DIGITS = re.compile(rb"[0-9]*")
_URI_PATH = re.compile(rb"(?:[A-Za-z0-9\-._~!$()*+,;=:@/]|%[0-9A-Fa-f]{2})*\Z")
_XML_NS = b"http://www.w3.org/XML/1998/namespace"
_XMLNS_NS = b"http://www.w3.org/2000/xmlns/"
_LLONG_MAX = (1 << 63) - 1
_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1


class _Fail(Exception):
    def __init__(self, reason: int, offset: int, field: int = F.NONE) -> None:
        self.reason, self.offset, self.field = reason, offset, field


def _ns_uri_ok(v: bytes, amp: bool) -> bool:
    """ns_value_ok() / valid_ns_uri() in fastxml.c."""
    if amp or v in (_XML_NS, _XMLNS_NS):
        return False
    m = _URI_SCHEME.match(v)
    if not m:
        return False
    i = m.end()
    if v.startswith(b"//", i):
        m = _URI_HOST.match(v, i + 2)
        if not m:
            return False
        i = m.end()
        if i < len(v) and v[i] == 0x3A:
            ps = i + 1
            i = _DIGITS.match(v, ps).end()  # type: ignore[union-attr]
            if i == ps or i - ps > 5:
                return False
        if i < len(v) and v[i] != 0x2F:
            return False
    return _URI_PATH.match(v, i) is not None


class _Scanner:
    __slots__ = (
        "cap",
        "cap_depth",
        "cap_start",
        "d",
        "depth",
        "n",
        "nsdecl",
        "os_depth",
        "out",
        "p",
        "seen",
        "stk",
        "tag_off",
        "unit",
        "val",
    )

    def __init__(self, d: bytes) -> None:
        self.d, self.n, self.p = d, len(d), 0
        self.out = bytearray()
        self.depth = 0
        self.stk: list[tuple[bytes, bool]] = []     # (name, default ns in scope)
        self.nsdecl: list[tuple[bytes, int]] = []   # (prefix, depth)
        self.cap = self.cap_depth = self.cap_start = self.os_depth = 0
        self.seen = 0
        self.val: dict[int, tuple[int, int]] = {}
        self.unit: dict[int, tuple[int, int] | None] = {}
        self.tag_off: dict[int, int] = {}

    def trunc(self) -> _Fail:
        return _Fail(R.TRUNCATED, self.n)

    def skip_ws(self) -> int:
        s = self.p
        self.p = _WS.match(self.d, s).end()  # type: ignore[union-attr]
        return self.p - s

    def expect(self, lit: bytes, reason: int) -> None:
        d, p = self.d, self.p
        if d.startswith(lit, p):
            self.p = p + len(lit)
            return
        if self.n - p < len(lit) and lit.startswith(d[p:]):
            raise self.trunc()
        raise _Fail(reason, p)

    def find(self, needle: bytes) -> int:
        i = self.d.find(needle, self.p)
        return self.n if i < 0 else i

    def emit_text(self, s: int, e: int) -> None:
        seg = self.d[s:e]
        if b"\r" in seg:
            seg = seg.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        self.out += seg

    def check_chars(self) -> None:
        d = self.d
        try:
            s = d.decode("utf-8")
        except UnicodeDecodeError as e:
            prefix = d[:e.start].decode("utf-8")
            m = _BADCHAR.search(prefix)
            if m:
                raise _Fail(R.CHAR, len(prefix[:m.start()].encode("utf-8"))) from None
            raise _Fail(R.ENCODING, e.start) from None
        m = _BADCHAR.search(s)
        if m:
            raise _Fail(R.CHAR, len(s[:m.start()].encode("utf-8")))

    def qname(self) -> tuple[bytes, int]:
        d, p, n = self.d, self.p, self.n
        if p >= n:
            raise self.trunc()
        m = _NCNAME.match(d, p)
        if not m:
            raise _Fail(R.NAME, p)
        e, colon = m.end(), -1
        if e < n and d[e] == 0x3A:
            colon = e - p
            if e + 1 >= n:
                raise self.trunc()
            m = _NCNAME.match(d, e + 1)
            if not m:
                raise _Fail(R.NAME, e + 1)
            e = m.end()
            if e < n and d[e] == 0x3A:
                raise _Fail(R.NAME, e)
        if e < n and d[e] >= 0x80:
            raise _Fail(R.NAME, e)
        if e - p > FX_MAX_NAME:
            raise _Fail(R.NAME, p)
        self.p = e
        return d[p:e], colon

    def reference(self, capture: bool) -> None:
        d, s, n = self.d, self.p, self.n
        if s + 1 >= n:
            raise self.trunc()
        if d[s + 1] == 0x23:    # '#'
            hexa = s + 2 < n and d[s + 2] == 0x78
            m = (_REF_HEX if hexa else _REF_DEC).match(d, s)
            e = m.end()  # type: ignore[union-attr]
            if e >= n:
                raise self.trunc()
            digits = m.group(1).lstrip(b"0")  # type: ignore[union-attr]
            cp = -1
            if d[e] == 0x3B and e > s + 2 + hexa and len(digits) <= 7:
                cp = int(digits or b"0", 16 if hexa else 10)
            if not (cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD
                    or 0x10000 <= cp <= 0x10FFFF):
                raise _Fail(R.REFERENCE, s)
            ch = chr(cp)
        else:
            m = _REF_NAME.match(d, s)
            e = m.end()  # type: ignore[union-attr]
            if e >= n:
                raise self.trunc()
            if d[e] != 0x3B:
                raise _Fail(R.REFERENCE, s)
            ch = _PREDEF.get(m.group(1))  # type: ignore[union-attr,assignment]
            if ch is None:
                raise _Fail(R.REFERENCE, s)
        self.p = e + 1
        if capture:
            self.out += ch.encode("utf-8")

    def attr_value(self, capture: bool) -> tuple[int, int, bool]:
        d, n = self.d, self.n
        q = d[self.p]
        run = _ATTR_RUN[q]
        self.p += 1
        start, amp = self.p, False
        while True:
            e = run.match(d, self.p).end()  # type: ignore[union-attr]
            if capture:
                self.out += d[self.p:e].replace(b"\r\n", b" ").translate(_ATTR_WS)
            self.p = e
            if e >= n:
                raise self.trunc()
            c = d[e]
            if c == q:
                break
            if c == 0x3C:
                raise _Fail(R.SYNTAX, e)
            amp = True
            self.reference(capture)
        self.p += 1
        return start, e - start, amp

    def candidate(self, level: int, name: bytes) -> int:
        f = 0
        if level == 2:
            if name == b"os":
                return _OS
            f = _FIELDS.get(name, 0)
        elif level == 3 and self.os_depth == 2 and name == b"type":
            f = F.OS_TYPE
        if f and self.seen & (1 << f):
            return 0
        return f

    def prefix_declared(self, pfx: bytes) -> bool:
        return pfx == b"xml" or any(p == pfx for p, _ in self.nsdecl)

    def start_tag(self) -> None:
        d, tag = self.d, self.p
        level, cand, empty = self.depth + 1, 0, False
        out0, unit = len(self.out), None
        attrs: list[tuple[int, bytes, int, int, int, bool]] = []
        self.p += 1
        name, ncolon = self.qname()
        if self.p >= self.n:
            raise self.trunc()
        if level > FX_MAX_DEPTH:
            raise _Fail(R.DEPTH, tag)
        if level == 1:
            if ncolon >= 0 or name != b"domain":
                raise _Fail(R.NOT_DOMAIN, tag)
            cand = _ROOT
        elif ncolon < 0:
            cand = self.candidate(level, name)

        while True:
            ws = self.skip_ws()
            if self.p >= self.n:
                raise self.trunc()
            c = d[self.p]
            if c == 0x3E:   # '>'
                self.p += 1
                break
            if c == 0x2F:   # '/'
                self.p += 1
                if self.p >= self.n:
                    raise self.trunc()
                if d[self.p] != 0x3E:
                    raise _Fail(R.SYNTAX, self.p)
                self.p += 1
                empty = True
                break
            if not ws:
                raise _Fail(R.SYNTAX, self.p)
            if len(attrs) == FX_MAX_ATTRS:
                raise _Fail(R.LIMIT, self.p)
            aoff = self.p
            aname, acolon = self.qname()
            self.skip_ws()
            self.expect(b"=", R.SYNTAX)
            self.skip_ws()
            if self.p >= self.n:
                raise self.trunc()
            if d[self.p] not in (0x22, 0x27):
                raise _Fail(R.SYNTAX, self.p)
            want = acolon < 0 and (
                (cand == _ROOT and aname == b"type") or
                (cand in (F.MEMORY, F.CURRENT_MEMORY) and aname == b"unit"))
            uoff = len(self.out)
            voff, vlen, amp = self.attr_value(want)
            if want:
                unit = (uoff, len(self.out) - uoff)
            for _, pname, pcolon, _, _, _ in attrs:
                dup = pname == aname
                if (not dup and pcolon >= 0 and acolon >= 0 and aname[:acolon] != b"xmlns"
                        and pname[:pcolon] != b"xmlns"):
                    dup = pname[pcolon:] == aname[acolon:]
                if dup:
                    raise _Fail(R.ATTR_DUP, aoff)
            attrs.append((aoff, aname, acolon, voff, vlen, amp))

        defns = self.stk[level - 2][1] if level > 1 else False
        nns0 = len(self.nsdecl)
        for aoff, aname, acolon, voff, vlen, amp in attrs:
            v = d[voff:voff + vlen]
            if acolon < 0 and aname == b"xmlns":
                if vlen == 0 and not amp:
                    defns = False
                elif not _ns_uri_ok(v, amp):
                    raise _Fail(R.NAMESPACE, aoff)
                else:
                    defns = True
            elif acolon == 5 and aname[:5] == b"xmlns":
                pfx = aname[6:]
                if pfx in (b"xml", b"xmlns") or not _ns_uri_ok(v, amp):
                    raise _Fail(R.NAMESPACE, aoff)
                if len(self.nsdecl) == FX_MAX_NSDECL:
                    raise _Fail(R.LIMIT, aoff)
                self.nsdecl.append((pfx, level))
        if ncolon >= 0 and (name[:ncolon] == b"xmlns" or
                            not self.prefix_declared(name[:ncolon])):
            raise _Fail(R.NAMESPACE, tag)
        for aoff, aname, acolon, _, _, _ in attrs:
            if acolon >= 0 and aname[:acolon] != b"xmlns" and \
                    not self.prefix_declared(aname[:acolon]):
                raise _Fail(R.NAMESPACE, aoff)

        if defns:
            if cand == _ROOT:
                raise _Fail(R.NOT_DOMAIN, tag)
            cand = 0
        if cand == _ROOT:
            self.tag_off[_ROOT] = tag
            if unit is not None:
                self.val[F.TYPE] = unit
                self.seen |= 1 << F.TYPE
        elif cand == _OS:
            if not empty:
                self.os_depth = level
        elif cand:
            self.seen |= 1 << cand
            self.tag_off[cand] = tag
            self.unit[cand] = unit
            self.val[cand] = (len(self.out), 0)
            if not empty:
                self.cap, self.cap_depth, self.cap_start = cand, level, len(self.out)
        else:
            del self.out[out0:]

        if empty:
            del self.nsdecl[nns0:]
        else:
            self.stk.append((name, defns))
            self.depth = level

    def end_tag(self) -> None:
        tag = self.p
        self.p += 2
        name, _ = self.qname()
        if self.p >= self.n:
            raise self.trunc()
        if name != self.stk[-1][0]:
            raise _Fail(R.MISMATCH, tag)
        self.skip_ws()
        self.expect(b">", R.SYNTAX)
        ns = self.nsdecl
        while ns and ns[-1][1] == self.depth:
            ns.pop()
        if self.cap and self.cap_depth == self.depth:
            self.val[self.cap] = (self.cap_start, len(self.out) - self.cap_start)
            self.cap = 0
        if self.os_depth == self.depth:
            self.os_depth = 0
        self.stk.pop()
        self.depth -= 1

    def comment(self) -> None:
        self.expect(b"<!--", R.SYNTAX)
        q = self.find(b"--")
        if q + 2 >= self.n:
            raise self.trunc()
        if self.d[q + 2] != 0x3E:
            raise _Fail(R.SYNTAX, q)
        self.p = q + 3

    def pi(self) -> None:
        s = self.p
        self.p += 2
        off = self.p
        name, colon = self.qname()
        if colon >= 0:
            raise _Fail(R.NAME, off)
        if name.lower() == b"xml":
            raise _Fail(R.XMLDECL, s)
        if self.p >= self.n:
            raise self.trunc()
        c = self.d[self.p]
        if c == 0x3F:   # '?'
            self.p += 1
            self.expect(b">", R.SYNTAX)
            return
        if c not in b" \t\r\n":
            raise _Fail(R.SYNTAX, self.p)
        self.p = self.find(b"?>")
        if self.p >= self.n:
            raise self.trunc()
        self.p += 2

    def cdata(self) -> None:
        self.expect(b"<![CDATA[", R.SYNTAX)
        end = self.find(b"]]>")
        if end >= self.n:
            raise self.trunc()
        if self.cap:
            self.emit_text(self.p, end)
        self.p = end + 3

    def text_run(self) -> None:
        s = self.p
        e = _TEXT.match(self.d, s).end()  # type: ignore[union-attr]
        bad = self.d.find(b"]]>", s, e)
        if bad >= 0:
            raise _Fail(R.SYNTAX, bad)
        if self.cap:
            self.emit_text(s, e)
        self.p = e

    def decl_eq_quote(self) -> int:
        self.skip_ws()
        self.expect(b"=", R.XMLDECL)
        self.skip_ws()
        if self.p >= self.n:
            raise self.trunc()
        q = self.d[self.p]
        if q not in (0x22, 0x27):
            raise _Fail(R.XMLDECL, self.p)
        self.p += 1
        return q

    def xmldecl(self) -> None:
        d = self.d
        self.p += 5
        self.skip_ws()
        self.expect(b"version", R.XMLDECL)
        q = self.decl_eq_quote()
        self.expect(b"1.0", R.XMLDECL)
        self.expect(bytes((q,)), R.XMLDECL)
        ws = self.skip_ws()
        if self.p >= self.n:
            raise self.trunc()
        if d[self.p] == 0x65:   # 'e'
            if not ws:
                raise _Fail(R.XMLDECL, self.p)
            self.expect(b"encoding", R.XMLDECL)
            q = self.decl_eq_quote()
            vs = self.p
            self.p = _NCNAME_CHARS.match(d, vs).end()  # type: ignore[union-attr]
            if self.p >= self.n:
                raise self.trunc()
            if d[self.p] != q:
                raise _Fail(R.XMLDECL, self.p)
            if d[vs:self.p].lower() != b"utf-8":
                raise _Fail(R.XMLDECL, vs)
            self.p += 1
            ws = self.skip_ws()
            if self.p >= self.n:
                raise self.trunc()
        if d[self.p] == 0x73:   # 's'
            if not ws:
                raise _Fail(R.XMLDECL, self.p)
            self.expect(b"standalone", R.XMLDECL)
            q = self.decl_eq_quote()
            self.expect(b"yes" if self.p < self.n and d[self.p] == 0x79 else b"no", R.XMLDECL)
            self.expect(bytes((q,)), R.XMLDECL)
            self.skip_ws()
        self.expect(b"?>", R.XMLDECL)

    def misc(self, epilog: bool) -> None:
        d = self.d
        while True:
            self.skip_ws()
            p = self.p
            if p >= self.n:
                if epilog:
                    return
                raise self.trunc()
            if d[p] != 0x3C:
                raise _Fail(R.EXTRA if epilog else R.SYNTAX, p)
            if p + 1 >= self.n:
                raise self.trunc()
            c = d[p + 1]
            if c == 0x3F:
                self.pi()
            elif c == 0x21:
                if p + 2 >= self.n:
                    raise self.trunc()
                c = d[p + 2]
                if c == 0x2D:
                    self.comment()
                elif 0x41 <= c <= 0x5A:
                    raise _Fail(R.DTD, p)
                else:
                    raise _Fail(R.EXTRA if epilog else R.SYNTAX, p)
            elif epilog:
                raise _Fail(R.EXTRA, p)
            else:
                return

    def content(self) -> None:
        d, n = self.d, self.n
        while self.depth > 0:
            p = self.p
            if p >= n:
                raise self.trunc()
            c = d[p]
            if c == 0x26:
                self.reference(self.cap != 0)
                continue
            if c != 0x3C:
                self.text_run()
                continue
            if p + 1 >= n:
                raise self.trunc()
            c = d[p + 1]
            if c == 0x2F:
                self.end_tag()
            elif c == 0x3F:
                self.pi()
            elif c == 0x21:
                if p + 2 >= n:
                    raise self.trunc()
                c = d[p + 2]
                if c == 0x2D:
                    self.comment()
                elif c == 0x5B:
                    self.cdata()
                elif 0x41 <= c <= 0x5A:
                    raise _Fail(R.DTD, p)
                else:
                    raise _Fail(R.SYNTAX, p)
            else:
                self.start_tag()

    def document(self) -> None:
        d = self.d
        self.check_chars()
        if d.startswith(b"\xef\xbb\xbf"):
            self.p = 3
        if d.startswith(b"<?xml", self.p):
            if self.n - self.p == 5:
                raise self.trunc()
            c = d[self.p + 5]
            if c in b" \t\r\n":
                self.xmldecl()
            elif c not in _NAME_CHARS and c != 0x3A:
                raise _Fail(R.XMLDECL, self.p)
        self.misc(False)
        self.start_tag()
        self.content()
        self.misc(True)

    # ---- numbers (parse_u64 / unit_scale / memory_field in fastxml.c) ----

    def has(self, f: int) -> bool:
        return bool(self.seen & (1 << f)) and self.val[f][1] > 0

    def number(self, f: int, limit: int) -> int:
        off, ln = self.val[f]
        s = bytes(self.out[off:off + ln]).lstrip(b" \t\r\n")
        i = 0
        while i < len(s) and 0x30 <= s[i] <= 0x39:
            i += 1
        digits = s[:i].lstrip(b"0")
        if len(digits) > 20 or int(digits or b"0") > limit:
            raise _Fail(R.OVERFLOW, self.tag_off[f], f)
        if not s or i < len(s):
            raise _Fail(R.NUMBER, self.tag_off[f], f)
        return int(digits or b"0")

    def memory(self, f: int) -> tuple[int, int]:
        v = self.number(f, _U64_MAX)
        u = self.unit.get(f)
        scale = _unit_scale(bytes(self.out[u[0]:u[0] + u[1]]) if u else b"")
        if scale is None:
            raise _Fail(R.UNIT, self.tag_off[f], f)
        if v and v > _LLONG_MAX // scale:
            raise _Fail(R.OVERFLOW, self.tag_off[f], f)
        kib = -(-(v * scale) // 1024)
        if kib >= _LLONG_MAX // 1024 + 1:
            raise _Fail(R.OVERFLOW, self.tag_off[f], f)
        return v, kib

    def summary(self) -> DomainSummary:
        root = self.tag_off[_ROOT]
        for f in (F.TYPE, F.NAME, F.MEMORY):
            if not self.has(f):
                raise _Fail(R.MISSING, root, f)
        mem_v, mem_kib = self.memory(F.MEMORY)
        if mem_v == 0:
            raise _Fail(R.MISSING, root, F.MEMORY)
        cur = self.memory(F.CURRENT_MEMORY)[1] if self.has(F.CURRENT_MEMORY) else None
        vcpu = 1
        if self.seen & (1 << F.VCPU):
            vcpu = self.number(F.VCPU, _U32_MAX)
            if vcpu == 0:
                raise _Fail(R.OVERFLOW, self.tag_off[F.VCPU], F.VCPU)
        if not self.has(F.OS_TYPE):
            raise _Fail(R.MISSING, root, F.OS_TYPE)
        u = self.unit.get(F.MEMORY)
        return make_summary(
            self.text(F.NAME), self.text(F.UUID) if self.has(F.UUID) else None,
            self.text(F.TYPE), mem_kib, mem_v,
            self.out[u[0]:u[0] + u[1]].decode() if u and u[1] else "KiB",
            cur, vcpu, self.text(F.OS_TYPE))

    def text(self, f: int) -> str:
        off, ln = self.val[f]
        return self.out[off:off + ln].decode("utf-8")


def _unit_scale(u: bytes) -> int | None:
    if not u:
        return 1024
    low = u.lower()
    if low in (b"b", b"byte", b"bytes"):
        return 1
    if len(u) == 1 or low[1:] == b"ib":
        base = 1024
    elif len(u) == 2 and low[1:] == b"b":
        base = 1000
    else:
        return None
    power = b"kmgtpe".find(low[:1]) + 1
    return base ** power if power else None


def as_utf8(data: bytes | str) -> bytes:
    """The document as UTF-8 bytes; a str with lone surrogates is refused (ENCODING)."""
    if isinstance(data, str):
        try:
            return data.encode("utf-8")
        except UnicodeEncodeError as e:
            at = len(data[:e.start].encode("utf-8"))
            raise FastParseError(R.ENCODING, at) from None
    return bytes(data)


def parse_domain_summary(data: bytes | str) -> DomainSummary:
    """Scan a domain XML for its hot fields; raise FastParseError outside the subset."""
    if type(data) is not bytes:
        data = as_utf8(data)
    if len(data) > FX_MAX_DOC:
        raise FastParseError(R.TOO_BIG, 0)
    sc = _Scanner(data)
    try:
        sc.document()
        return sc.summary()
    except _Fail as f:
        raise FastParseError(f.reason, f.offset, f.field) from None
