/* fastxml.c: one-pass scanner for the hot fields of a libvirt domain XML.
 *
 * The scanner is a well-formedness checker for a strict subset of XML 1.0 plus
 * Namespaces: whatever it accepts, libxml2 (lxml) accepts with the same string
 * values; whatever it is unsure about, it refuses.  The subset: UTF-8 only, ASCII
 * names, no DTD, predefined entities and character references only, namespace URIs
 * that match a conservative RFC 3986 shape.  pyvirt/_twins/fastxml.py is a line-by-
 * line twin: same checks in the same order, so both report the same reason and
 * offset for the same input (the differential tests rely on it).
 *
 * Field semantics follow libvirt's virDomainDefParseXML lookups (XPath 1.0
 * string-values: all descendant text, CDATA included, comments/PIs excluded), on
 * direct children of the root only; the first matching element wins.
 */
#include <errno.h>
#include <string.h>

#include "fastxml.h"

enum { F_ROOT = 8, F_OS = 9 };   /* element roles that are not reported fields */

typedef struct {
    const uint8_t *d;           /* the document */
    size_t n;                   /* its length (<= PV_FX_MAX_DOC) */
    size_t p;                   /* cursor */
    char *out;                  /* string-values go here */
    size_t outlen, outpos;
    int depth;                  /* open elements */
    uint32_t stk_off[PV_FX_MAX_DEPTH];  /* open element names, for end-tag checks */
    uint16_t stk_len[PV_FX_MAX_DEPTH];
    uint8_t stk_defns[PV_FX_MAX_DEPTH]; /* a non-empty default namespace is in scope */
    int nns;                    /* prefix declarations in scope */
    uint32_t ns_off[PV_FX_MAX_NSDECL];
    uint16_t ns_len[PV_FX_MAX_NSDECL];
    uint16_t ns_depth[PV_FX_MAX_NSDECL];
    int cap;                    /* field whose string-value is being collected, or 0 */
    int cap_depth;
    uint32_t cap_start;
    int os_depth;               /* depth of the enclosing <os>, or 0 */
    uint32_t seen;              /* 1 << field, for fields already taken */
    uint32_t val_off[8], val_len[8];    /* string-values per field */
    uint32_t unit_off[8], unit_len[8];  /* @unit of memory / currentMemory */
    uint8_t have_unit[8];
    size_t tag_off[10];         /* where each field's element (and the root) starts */
    int reason;
    size_t err_off;
    int err_field;
} fx_t;

#define TRY(e) do { int rc_ = (e); if (rc_) return rc_; } while (0)

static int fail(fx_t *x, int reason, size_t off)
{
    x->reason = reason;
    x->err_off = off;
    return reason;
}

/* Running out of input is always reported at the end of the input. */
static int trunc_(fx_t *x)
{
    return fail(x, PV_FX_E_TRUNCATED, x->n);
}

/* Character classes, one table lookup per byte (read-only data, not mutable state). */
enum { C_WS = 1, C_NSTART = 2, C_NAME = 4, C_TEXT_STOP = 8, C_ATTR_STOP = 16 };
#define R4(v) v, v, v, v
#define R8(v) R4(v), R4(v)
#define R16(v) R8(v), R8(v)
#define NS (C_NSTART | C_NAME)
static const uint8_t cls[256] = {
    /* 0x00 */ R8(0), 0, C_WS, C_WS, 0, 0, C_WS, 0, 0, R16(0),
    /* 0x20 */ C_WS, 0, C_ATTR_STOP, 0, 0, 0, C_TEXT_STOP | C_ATTR_STOP, C_ATTR_STOP,
    /* 0x28 */ 0, 0, 0, 0, 0, C_NAME, C_NAME, 0,
    /* 0x30 */ R8(C_NAME), C_NAME, C_NAME, 0, 0, C_TEXT_STOP | C_ATTR_STOP, 0, 0, 0,
    /* 0x40 */ 0, R8(NS), R4(NS), NS, NS, NS,
    /* 0x50 */ R8(NS), NS, NS, NS, 0, 0, C_TEXT_STOP, 0, NS,
    /* 0x60 */ 0, R8(NS), R4(NS), NS, NS, NS,
    /* 0x70 */ R8(NS), NS, NS, NS, 0, 0, 0, 0, 0,
    /* 0x80 */ R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0), R16(0)
};

static inline int is_ws(uint8_t c)
{
    return cls[c] & C_WS;
}

static inline int is_name_start(uint8_t c)
{
    return cls[c] & C_NSTART;
}

static inline int is_name_char(uint8_t c)
{
    return cls[c] & C_NAME;
}

static int is_xml_char(uint32_t cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
           (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
}

static size_t skip_ws(fx_t *x)
{
    size_t s = x->p;
    while (x->p < x->n && is_ws(x->d[x->p]))
        x->p++;
    return x->p - s;
}

/* Literal comparisons with compile-time lengths (no strlen per call). */
#define eq_lit(s, len, lit) \
    ((len) == sizeof(lit) - 1 && memcmp((s), (lit), sizeof(lit) - 1) == 0)

static int eq_lit_ci(const uint8_t *s, size_t len, const char *lit)
{
    size_t i, l = strlen(lit);
    if (len != l)
        return 0;
    for (i = 0; i < l; i++) {
        uint8_t c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c + 32);
        if (c != (uint8_t)lit[i])
            return 0;
    }
    return 1;
}

/* Consume `lit`; TRUNCATED if the input ends inside a prefix of it, else `reason`. */
#define expect(x, lit, reason) expect_n((x), (lit), sizeof(lit) - 1, (reason))
static int expect_n(fx_t *x, const char *lit, size_t l, int reason)
{
    size_t avail = x->n - x->p, k = avail < l ? avail : l;
    if (memcmp(x->d + x->p, lit, k) != 0)
        return fail(x, reason, x->p);
    if (k < l)
        return trunc_(x);
    x->p += l;
    return 0;
}

/* First occurrence of needle at or after `from`, or n. */
static size_t find(const fx_t *x, size_t from, const char *needle)
{
    size_t l = strlen(needle);
    while (from + l <= x->n) {
        const uint8_t *hit = memchr(x->d + from, needle[0], x->n - from - l + 1);
        if (!hit)
            break;
        from = (size_t)(hit - x->d);
        if (memcmp(hit, needle, l) == 0)
            return from;
        from++;
    }
    return x->n;
}

static int emit(fx_t *x, const uint8_t *src, size_t len)
{
    if (len > x->outlen - x->outpos)
        return fail(x, PV_FX_E_NOSPACE, x->p);
    memcpy(x->out + x->outpos, src, len);
    x->outpos += len;
    return 0;
}

static int emit_byte(fx_t *x, uint8_t c)
{
    return emit(x, &c, 1);
}

/* Copy text with XML 1.0 section 2.11 line-end handling (\r\n and \r become \n). */
static int emit_text(fx_t *x, size_t from, size_t to)
{
    while (from < to) {
        const uint8_t *cr = memchr(x->d + from, '\r', to - from);
        size_t stop = cr ? (size_t)(cr - x->d) : to;
        TRY(emit(x, x->d + from, stop - from));
        if (stop == to)
            break;
        TRY(emit_byte(x, '\n'));
        from = stop + 1;
        if (from < to && x->d[from] == '\n')
            from++;
    }
    return 0;
}

/* UTF-8 validity and XML 1.0 Char production over the whole input, up front, so the
 * scanner below only deals with structure.  Errors point at the sequence's first byte,
 * as Python's UTF-8 decoder reports them. */
static int check_chars(fx_t *x)
{
    const uint8_t *d = x->d;
    size_t i = 0, n = x->n;
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    while (i < n) {
        uint8_t c;
        uint32_t cp;
        size_t k, j;
        uint8_t lo = 0x80, hi = 0xBF;
        /* Eight plain printable ASCII bytes at a time: no byte >= 0x80, none < 0x20
         * (the "hasless" bit trick); anything else takes the byte path below. */
        while (n - i >= 8) {
            uint64_t w;
            memcpy(&w, d + i, 8);
            if (((w - ones * 0x20) & ~w & highs) | (w & highs))
                break;
            i += 8;
        }
        if (i >= n)
            break;
        c = d[i];
        if (c < 0x80) {
            if (c < 0x20 && c != 0x09 && c != 0x0A && c != 0x0D)
                return fail(x, PV_FX_E_CHAR, i);
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            cp = c & 0x0Fu;
            if (c == 0xE0)
                lo = 0xA0;          /* overlong */
            else if (c == 0xED)
                hi = 0x9F;          /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            cp = c & 0x07u;
            if (c == 0xF0)
                lo = 0x90;          /* overlong */
            else if (c == 0xF4)
                hi = 0x8F;          /* beyond U+10FFFF */
        } else {
            return fail(x, PV_FX_E_ENCODING, i);
        }
        if (n - i - 1 < k)
            return fail(x, PV_FX_E_ENCODING, i);
        for (j = 1; j <= k; j++) {
            uint8_t b = d[i + j];
            if (b < (j == 1 ? lo : 0x80) || b > (j == 1 ? hi : 0xBF))
                return fail(x, PV_FX_E_ENCODING, i);
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if (cp == 0xFFFE || cp == 0xFFFF)
            return fail(x, PV_FX_E_CHAR, i);
        i += k + 1;
    }
    return 0;
}

/* QName = NCName (':' NCName)?, ASCII only.  *colon: index of ':' in the name or -1. */
static int parse_qname(fx_t *x, size_t *off, size_t *len, int *colon)
{
    size_t s = x->p;
    *colon = -1;
    if (x->p >= x->n)
        return trunc_(x);
    if (!is_name_start(x->d[x->p]))
        return fail(x, PV_FX_E_NAME, x->p);
    x->p++;
    for (;;) {
        uint8_t c;
        while (x->p < x->n && is_name_char(x->d[x->p]))
            x->p++;
        if (x->p >= x->n)
            break;
        c = x->d[x->p];
        if (c == ':') {
            if (*colon >= 0)
                return fail(x, PV_FX_E_NAME, x->p);
            *colon = (int)(x->p - s);
            x->p++;
            if (x->p >= x->n)
                return trunc_(x);
            if (!is_name_start(x->d[x->p]))
                return fail(x, PV_FX_E_NAME, x->p);
            x->p++;
            continue;
        }
        if (c >= 0x80)      /* a non-ASCII name character: outside our subset */
            return fail(x, PV_FX_E_NAME, x->p);
        break;
    }
    if (x->p - s > PV_FX_MAX_NAME)
        return fail(x, PV_FX_E_NAME, s);
    *off = s;
    *len = x->p - s;
    return 0;
}

static int emit_cp(fx_t *x, uint32_t cp)
{
    uint8_t b[4];
    size_t k;
    if (cp < 0x80) {
        b[0] = (uint8_t)cp;
        k = 1;
    } else if (cp < 0x800) {
        b[0] = (uint8_t)(0xC0 | (cp >> 6));
        b[1] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 2;
    } else if (cp < 0x10000) {
        b[0] = (uint8_t)(0xE0 | (cp >> 12));
        b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 3;
    } else {
        b[0] = (uint8_t)(0xF0 | (cp >> 18));
        b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (uint8_t)(0x80 | (cp & 0x3F));
        k = 4;
    }
    return emit(x, b, k);
}

/* At '&': a predefined entity or a character reference; anything else is refused
 * (without a DTD every other entity is undeclared, a well-formedness error). */
static int reference(fx_t *x, int capture)
{
    size_t s = x->p;
    uint32_t cp = 0;
    x->p++;
    if (x->p >= x->n)
        return trunc_(x);
    if (x->d[x->p] == '#') {
        int hex = 0, big = 0;
        size_t ds;
        x->p++;
        if (x->p < x->n && x->d[x->p] == 'x') {
            hex = 1;
            x->p++;
        }
        ds = x->p;
        while (x->p < x->n) {
            uint8_t c = x->d[x->p];
            uint32_t v;
            if (c >= '0' && c <= '9')
                v = (uint32_t)(c - '0');
            else if (hex && c >= 'a' && c <= 'f')
                v = (uint32_t)(c - 'a' + 10);
            else if (hex && c >= 'A' && c <= 'F')
                v = (uint32_t)(c - 'A' + 10);
            else
                break;
            if (!big) {     /* clamp: cp stays <= 0x10FFFF * 16 + 15, no wrap */
                cp = cp * (hex ? 16u : 10u) + v;
                if (cp > 0x10FFFF)
                    big = 1;
            }
            x->p++;
        }
        if (x->p >= x->n)
            return trunc_(x);
        if (x->d[x->p] != ';' || x->p == ds || big || !is_xml_char(cp))
            return fail(x, PV_FX_E_REFERENCE, s);
        x->p++;
    } else {
        size_t ns = x->p, len;
        const uint8_t *nm;
        while (x->p < x->n && is_name_char(x->d[x->p]))
            x->p++;
        if (x->p >= x->n)
            return trunc_(x);
        if (x->d[x->p] != ';')
            return fail(x, PV_FX_E_REFERENCE, s);
        nm = x->d + ns;
        len = x->p - ns;
        if (eq_lit(nm, len, "lt"))
            cp = '<';
        else if (eq_lit(nm, len, "gt"))
            cp = '>';
        else if (eq_lit(nm, len, "amp"))
            cp = '&';
        else if (eq_lit(nm, len, "apos"))
            cp = '\'';
        else if (eq_lit(nm, len, "quot"))
            cp = '"';
        else
            return fail(x, PV_FX_E_REFERENCE, s);
        x->p++;
    }
    return capture ? emit_cp(x, cp) : 0;
}

/* At the opening quote.  With `capture`, the normalized value (XML 1.0 section 3.3.3:
 * references replaced, literal \t \n \r and \r\n each become one space) goes to out. */
static int attr_value(fx_t *x, int capture, size_t *voff, size_t *vlen, int *amp)
{
    uint8_t q = x->d[x->p];
    size_t start;
    x->p++;
    start = x->p;
    *amp = 0;
    for (;;) {
        uint8_t c;
        if (!capture)   /* skip plain bytes fast */
            while (x->p < x->n && !(cls[x->d[x->p]] & C_ATTR_STOP))
                x->p++;
        if (x->p >= x->n)
            return trunc_(x);
        c = x->d[x->p];
        if (c == q)
            break;
        if (c == '<')
            return fail(x, PV_FX_E_SYNTAX, x->p);
        if (c == '&') {
            *amp = 1;
            TRY(reference(x, capture));
            continue;
        }
        if (capture) {
            if (c == '\r' && x->p + 1 < x->n && x->d[x->p + 1] == '\n')
                x->p++;
            TRY(emit_byte(x, (c == '\t' || c == '\n' || c == '\r') ? ' ' : c));
        }
        x->p++;
    }
    *voff = start;
    *vlen = x->p - start;
    x->p++;
    return 0;
}

/* Namespace URIs: libxml2 refuses declarations whose value is not a valid URI, so
 * only accept a conservative shape that surely is one:
 *   scheme ":" ( "//" host [":" 1*5DIGIT] *("/" *pchar) | *(pchar | "/") )
 * with host = 1*(ALNUM "-._~"), pchar = ALNUM "-._~!$()*+,;=:@" | %HH.
 * No query, fragment, userinfo, '&' or '\''. */
static int is_unreserved(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int pchars(const uint8_t *s, size_t n, size_t i, int slash_ok)
{
    while (i < n) {
        uint8_t c = s[i];
        if (is_unreserved(c) || (c != 0 && strchr("!$()*+,;=:@", c) != NULL) ||
            (c == '/' && slash_ok)) {
            i++;
        } else if (c == '%' && i + 2 < n && is_hex(s[i + 1]) && is_hex(s[i + 2])) {
            i += 3;
        } else {
            return 0;
        }
    }
    return 1;
}

static int valid_ns_uri(const uint8_t *s, size_t n)
{
    size_t i = 0, h;
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z')))
        return 0;
    while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                     (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' ||
                     s[i] == '.'))
        i++;
    if (i >= n || s[i] != ':')
        return 0;
    i++;
    if (n - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        h = i;
        while (i < n && is_unreserved(s[i]))
            i++;
        if (i == h)
            return 0;
        if (i < n && s[i] == ':') {
            size_t ps = ++i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            if (i == ps || i - ps > 5)
                return 0;
        }
        if (i < n && s[i] != '/')
            return 0;
    }
    return pchars(s, n, i, 1);
}

#define XML_NS_URI "http://www.w3.org/XML/1998/namespace"
#define XMLNS_NS_URI "http://www.w3.org/2000/xmlns/"

static int ns_value_ok(const uint8_t *v, size_t len, int amp)
{
    return !amp && !eq_lit(v, len, XML_NS_URI) && !eq_lit(v, len, XMLNS_NS_URI) &&
           valid_ns_uri(v, len);
}

static int prefix_declared(const fx_t *x, const uint8_t *pfx, size_t len)
{
    int i;
    if (eq_lit(pfx, len, "xml"))
        return 1;
    for (i = x->nns - 1; i >= 0; i--)
        if (x->ns_len[i] == len && memcmp(x->d + x->ns_off[i], pfx, len) == 0)
            return 1;
    return 0;
}

typedef struct {
    size_t off, len, voff, vlen;
    int colon, amp;
} attr_t;

/* Which field an element stands for, judged by its name and position only. */
static int candidate(const fx_t *x, int level, const uint8_t *nm, size_t len)
{
    int f = 0;
    if (level == 2) {
        if (eq_lit(nm, len, "name"))
            f = PV_FX_F_NAME;
        else if (eq_lit(nm, len, "uuid"))
            f = PV_FX_F_UUID;
        else if (eq_lit(nm, len, "memory"))
            f = PV_FX_F_MEMORY;
        else if (eq_lit(nm, len, "currentMemory"))
            f = PV_FX_F_CURRENT_MEMORY;
        else if (eq_lit(nm, len, "vcpu"))
            f = PV_FX_F_VCPU;
        else if (eq_lit(nm, len, "os"))
            return F_OS;    /* any <os> child counts: string(./os/type[1]) */
    } else if (level == 3 && x->os_depth == 2 && eq_lit(nm, len, "type")) {
        f = PV_FX_F_OS_TYPE;
    }
    if (f && (x->seen & (1u << f)))
        return 0;           /* the first one wins, as with [1] in libvirt's XPath */
    return f;
}

static int start_tag(fx_t *x)
{
    size_t tag = x->p, noff, nlen, i;
    int ncolon, level = x->depth + 1, cand = 0, empty = 0, defns, nattr = 0, nns0 = x->nns;
    size_t out0 = x->outpos, unit_off = 0, unit_len = 0;
    int have_unit = 0;
    attr_t a[PV_FX_MAX_ATTRS];

    x->p++;
    TRY(parse_qname(x, &noff, &nlen, &ncolon));
    if (x->p >= x->n)
        return trunc_(x);
    if (level > PV_FX_MAX_DEPTH)
        return fail(x, PV_FX_E_DEPTH, tag);
    if (level == 1) {
        if (ncolon >= 0 || !eq_lit(x->d + noff, nlen, "domain"))
            return fail(x, PV_FX_E_NOT_DOMAIN, tag);
        cand = F_ROOT;
    } else if (ncolon < 0) {
        cand = candidate(x, level, x->d + noff, nlen);
    }

    for (;;) {
        size_t ws = skip_ws(x), aoff, alen, voff, vlen;
        int acolon, amp, want;
        uint8_t c;
        if (x->p >= x->n)
            return trunc_(x);
        c = x->d[x->p];
        if (c == '>') {
            x->p++;
            break;
        }
        if (c == '/') {
            x->p++;
            if (x->p >= x->n)
                return trunc_(x);
            if (x->d[x->p] != '>')
                return fail(x, PV_FX_E_SYNTAX, x->p);
            x->p++;
            empty = 1;
            break;
        }
        if (!ws)
            return fail(x, PV_FX_E_SYNTAX, x->p);
        if (nattr == PV_FX_MAX_ATTRS)
            return fail(x, PV_FX_E_LIMIT, x->p);
        TRY(parse_qname(x, &aoff, &alen, &acolon));
        skip_ws(x);
        TRY(expect(x, "=", PV_FX_E_SYNTAX));
        skip_ws(x);
        if (x->p >= x->n)
            return trunc_(x);
        if (x->d[x->p] != '"' && x->d[x->p] != '\'')
            return fail(x, PV_FX_E_SYNTAX, x->p);
        want = acolon < 0 &&
               ((cand == F_ROOT && eq_lit(x->d + aoff, alen, "type")) ||
                ((cand == PV_FX_F_MEMORY || cand == PV_FX_F_CURRENT_MEMORY) &&
                 eq_lit(x->d + aoff, alen, "unit")));
        if (want)
            unit_off = x->outpos;
        TRY(attr_value(x, want, &voff, &vlen, &amp));
        if (want) {
            unit_len = x->outpos - unit_off;
            have_unit = 1;
        }
        for (i = 0; i < (size_t)nattr; i++) {
            int dup = a[i].len == alen && memcmp(x->d + a[i].off, x->d + aoff, alen) == 0;
            /* Conservatively refuse p:x and q:x on one element: they clash when p and
             * q name the same URI, which we do not resolve. */
            if (!dup && a[i].colon >= 0 && acolon >= 0 &&
                !eq_lit(x->d + aoff, (size_t)acolon, "xmlns") &&
                !eq_lit(x->d + a[i].off, (size_t)a[i].colon, "xmlns"))
                dup = a[i].len - (size_t)a[i].colon == alen - (size_t)acolon &&
                      memcmp(x->d + a[i].off + a[i].colon, x->d + aoff + acolon,
                             alen - (size_t)acolon) == 0;
            if (dup)
                return fail(x, PV_FX_E_ATTR_DUP, aoff);
        }
        a[nattr].off = aoff;
        a[nattr].len = alen;
        a[nattr].colon = acolon;
        a[nattr].voff = voff;
        a[nattr].vlen = vlen;
        a[nattr].amp = amp;
        nattr++;
    }

    /* Namespace declarations first: they apply to the element's own prefixes. */
    defns = level > 1 ? x->stk_defns[level - 2] : 0;
    for (i = 0; i < (size_t)nattr; i++) {
        const uint8_t *an = x->d + a[i].off, *v = x->d + a[i].voff;
        if (a[i].colon < 0 && eq_lit(an, a[i].len, "xmlns")) {
            if (a[i].vlen == 0 && !a[i].amp) {
                defns = 0;
            } else {
                if (!ns_value_ok(v, a[i].vlen, a[i].amp))
                    return fail(x, PV_FX_E_NAMESPACE, a[i].off);
                defns = 1;
            }
        } else if (a[i].colon == 5 && eq_lit(an, 5, "xmlns")) {
            const uint8_t *pfx = an + 6;
            size_t plen = a[i].len - 6;
            if (eq_lit(pfx, plen, "xml") || eq_lit(pfx, plen, "xmlns") ||
                !ns_value_ok(v, a[i].vlen, a[i].amp))
                return fail(x, PV_FX_E_NAMESPACE, a[i].off);
            if (x->nns == PV_FX_MAX_NSDECL)
                return fail(x, PV_FX_E_LIMIT, a[i].off);
            x->ns_off[x->nns] = (uint32_t)(a[i].off + 6);
            x->ns_len[x->nns] = (uint16_t)plen;
            x->ns_depth[x->nns] = (uint16_t)level;
            x->nns++;
        }
    }
    if (ncolon >= 0 && (eq_lit(x->d + noff, (size_t)ncolon, "xmlns") ||
                        !prefix_declared(x, x->d + noff, (size_t)ncolon)))
        return fail(x, PV_FX_E_NAMESPACE, tag);
    for (i = 0; i < (size_t)nattr; i++) {
        if (a[i].colon < 0 || eq_lit(x->d + a[i].off, (size_t)a[i].colon, "xmlns"))
            continue;
        if (!prefix_declared(x, x->d + a[i].off, (size_t)a[i].colon))
            return fail(x, PV_FX_E_NAMESPACE, a[i].off);
    }

    /* XPath's unprefixed names match only elements in no namespace. */
    if (defns) {
        if (cand == F_ROOT)
            return fail(x, PV_FX_E_NOT_DOMAIN, tag);
        cand = 0;
    }
    if (cand == F_ROOT) {
        x->tag_off[F_ROOT] = tag;
        if (have_unit) {
            x->val_off[PV_FX_F_TYPE] = (uint32_t)unit_off;
            x->val_len[PV_FX_F_TYPE] = (uint32_t)unit_len;
            x->seen |= 1u << PV_FX_F_TYPE;
        }
    } else if (cand == F_OS) {
        if (!empty)
            x->os_depth = level;
    } else if (cand) {
        x->seen |= 1u << cand;
        x->tag_off[cand] = tag;
        x->unit_off[cand] = (uint32_t)unit_off;
        x->unit_len[cand] = (uint32_t)unit_len;
        x->have_unit[cand] = (uint8_t)have_unit;
        x->val_off[cand] = (uint32_t)x->outpos;
        x->val_len[cand] = 0;
        if (!empty) {
            x->cap = cand;
            x->cap_depth = level;
            x->cap_start = (uint32_t)x->outpos;
        }
    } else {
        x->outpos = out0;   /* speculative @unit of a namespaced <memory>: drop it */
    }

    if (empty) {
        x->nns = nns0;
    } else {
        x->stk_off[level - 1] = (uint32_t)noff;
        x->stk_len[level - 1] = (uint16_t)nlen;
        x->stk_defns[level - 1] = (uint8_t)defns;
        x->depth = level;
    }
    return 0;
}

static int end_tag(fx_t *x)
{
    size_t tag = x->p, off, len;
    int colon;
    x->p += 2;
    TRY(parse_qname(x, &off, &len, &colon));
    if (x->p >= x->n)
        return trunc_(x);
    if (len != x->stk_len[x->depth - 1] ||
        memcmp(x->d + off, x->d + x->stk_off[x->depth - 1], len) != 0)
        return fail(x, PV_FX_E_MISMATCH, tag);
    skip_ws(x);
    TRY(expect(x, ">", PV_FX_E_SYNTAX));
    while (x->nns > 0 && x->ns_depth[x->nns - 1] == x->depth)
        x->nns--;
    if (x->cap && x->cap_depth == x->depth) {
        x->val_len[x->cap] = (uint32_t)(x->outpos - x->cap_start);
        x->cap = 0;
    }
    if (x->os_depth == x->depth)
        x->os_depth = 0;
    x->depth--;
    return 0;
}

static int comment(fx_t *x)
{
    size_t q;
    TRY(expect(x, "<!--", PV_FX_E_SYNTAX));
    q = find(x, x->p, "--");
    if (q + 2 >= x->n)
        return trunc_(x);
    if (x->d[q + 2] != '>')     /* "--" may only close a comment */
        return fail(x, PV_FX_E_SYNTAX, q);
    x->p = q + 3;
    return 0;
}

static int pi(fx_t *x)
{
    size_t s = x->p, off, len;
    int colon;
    x->p += 2;
    TRY(parse_qname(x, &off, &len, &colon));
    if (colon >= 0)
        return fail(x, PV_FX_E_NAME, off);
    if (eq_lit_ci(x->d + off, len, "xml"))     /* an XML declaration out of place */
        return fail(x, PV_FX_E_XMLDECL, s);
    if (x->p >= x->n)
        return trunc_(x);
    if (x->d[x->p] == '?') {
        x->p++;
        return expect(x, ">", PV_FX_E_SYNTAX);
    }
    if (!is_ws(x->d[x->p]))
        return fail(x, PV_FX_E_SYNTAX, x->p);
    x->p = find(x, x->p, "?>");
    if (x->p >= x->n)
        return trunc_(x);
    x->p += 2;
    return 0;
}

static int cdata(fx_t *x)
{
    size_t end;
    TRY(expect(x, "<![CDATA[", PV_FX_E_SYNTAX));
    end = find(x, x->p, "]]>");
    if (end >= x->n)
        return trunc_(x);
    if (x->cap)
        TRY(emit_text(x, x->p, end));
    x->p = end + 3;
    return 0;
}

static int text_run(fx_t *x)
{
    size_t s = x->p, i = s;
    for (;;) {
        while (i < x->n && !(cls[x->d[i]] & C_TEXT_STOP))
            i++;
        if (i >= x->n || x->d[i] != ']')
            break;
        if (i + 2 < x->n && x->d[i + 1] == ']' && x->d[i + 2] == '>')
            return fail(x, PV_FX_E_SYNTAX, i);
        i++;
    }
    if (x->cap)
        TRY(emit_text(x, s, i));
    x->p = i;
    return 0;
}

/* '=' S? quote: the opening quote character, for the XML declaration. */
static int decl_eq_quote(fx_t *x, uint8_t *q)
{
    skip_ws(x);
    TRY(expect(x, "=", PV_FX_E_XMLDECL));
    skip_ws(x);
    if (x->p >= x->n)
        return trunc_(x);
    *q = x->d[x->p];
    if (*q != '"' && *q != '\'')
        return fail(x, PV_FX_E_XMLDECL, x->p);
    x->p++;
    return 0;
}

static int expect_byte(fx_t *x, uint8_t c, int reason)
{
    char lit = (char)c;
    return expect_n(x, &lit, 1, reason);
}

/* <?xml version="1.0" (encoding="UTF-8")? (standalone="yes|no")? ?>: UTF-8 only,
 * since a declared legacy encoding would change what the bytes mean to lxml. */
static int xmldecl(fx_t *x)
{
    uint8_t q;
    size_t ws, vs;
    x->p += 5;
    skip_ws(x);
    TRY(expect(x, "version", PV_FX_E_XMLDECL));
    TRY(decl_eq_quote(x, &q));
    TRY(expect(x, "1.0", PV_FX_E_XMLDECL));
    TRY(expect_byte(x, q, PV_FX_E_XMLDECL));
    ws = skip_ws(x);
    if (x->p >= x->n)
        return trunc_(x);
    if (x->d[x->p] == 'e') {
        if (!ws)
            return fail(x, PV_FX_E_XMLDECL, x->p);
        TRY(expect(x, "encoding", PV_FX_E_XMLDECL));
        TRY(decl_eq_quote(x, &q));
        vs = x->p;
        while (x->p < x->n && is_name_char(x->d[x->p]))
            x->p++;
        if (x->p >= x->n)
            return trunc_(x);
        if (x->d[x->p] != q)
            return fail(x, PV_FX_E_XMLDECL, x->p);
        if (!eq_lit_ci(x->d + vs, x->p - vs, "utf-8"))
            return fail(x, PV_FX_E_XMLDECL, vs);
        x->p++;
        ws = skip_ws(x);
        if (x->p >= x->n)
            return trunc_(x);
    }
    if (x->d[x->p] == 's') {
        if (!ws)
            return fail(x, PV_FX_E_XMLDECL, x->p);
        TRY(expect(x, "standalone", PV_FX_E_XMLDECL));
        TRY(decl_eq_quote(x, &q));
        if (x->p < x->n && x->d[x->p] == 'y')
            TRY(expect(x, "yes", PV_FX_E_XMLDECL));
        else
            TRY(expect(x, "no", PV_FX_E_XMLDECL));
        TRY(expect_byte(x, q, PV_FX_E_XMLDECL));
        skip_ws(x);
    }
    return expect(x, "?>", PV_FX_E_XMLDECL);
}

/* Comments, PIs and whitespace around the root.  Returns 0 at the root's '<' (prolog)
 * or at the end of input (epilog). */
static int misc(fx_t *x, int epilog)
{
    for (;;) {
        uint8_t c;
        skip_ws(x);
        if (x->p >= x->n)
            return epilog ? 0 : trunc_(x);
        if (x->d[x->p] != '<')
            return fail(x, epilog ? PV_FX_E_EXTRA : PV_FX_E_SYNTAX, x->p);
        if (x->p + 1 >= x->n)
            return trunc_(x);
        c = x->d[x->p + 1];
        if (c == '?') {
            TRY(pi(x));
        } else if (c == '!') {
            if (x->p + 2 >= x->n)
                return trunc_(x);
            c = x->d[x->p + 2];
            if (c == '-')
                TRY(comment(x));
            else if (c >= 'A' && c <= 'Z')
                return fail(x, PV_FX_E_DTD, x->p);
            else
                return fail(x, epilog ? PV_FX_E_EXTRA : PV_FX_E_SYNTAX, x->p);
        } else {
            return epilog ? fail(x, PV_FX_E_EXTRA, x->p) : 0;
        }
    }
}

static int content(fx_t *x)
{
    while (x->depth > 0) {
        uint8_t c;
        if (x->p >= x->n)
            return trunc_(x);
        c = x->d[x->p];
        if (c == '&') {
            TRY(reference(x, x->cap != 0));
            continue;
        }
        if (c != '<') {
            TRY(text_run(x));
            continue;
        }
        if (x->p + 1 >= x->n)
            return trunc_(x);
        c = x->d[x->p + 1];
        if (c == '/') {
            TRY(end_tag(x));
        } else if (c == '?') {
            TRY(pi(x));
        } else if (c == '!') {
            if (x->p + 2 >= x->n)
                return trunc_(x);
            c = x->d[x->p + 2];
            if (c == '-')
                TRY(comment(x));
            else if (c == '[')
                TRY(cdata(x));
            else if (c >= 'A' && c <= 'Z')
                return fail(x, PV_FX_E_DTD, x->p);
            else
                return fail(x, PV_FX_E_SYNTAX, x->p);
        } else {
            TRY(start_tag(x));
        }
    }
    return 0;
}

static int document(fx_t *x)
{
    TRY(check_chars(x));
    if (x->n >= 3 && x->d[0] == 0xEF && x->d[1] == 0xBB && x->d[2] == 0xBF)
        x->p = 3;   /* UTF-8 byte order mark */
    if (x->n - x->p >= 5 && memcmp(x->d + x->p, "<?xml", 5) == 0) {
        uint8_t c;
        if (x->n - x->p == 5)
            return trunc_(x);
        c = x->d[x->p + 5];
        if (is_ws(c))
            TRY(xmldecl(x));
        else if (!is_name_char(c) && c != ':')
            return fail(x, PV_FX_E_XMLDECL, x->p);
    }
    TRY(misc(x, 0));
    TRY(start_tag(x));
    TRY(content(x));
    return misc(x, 1);
}

/* ---- numbers, with libvirt's rules ---- */

static int sem_fail(fx_t *x, int reason, int field, size_t off)
{
    x->err_field = field;
    return fail(x, reason, off);
}

/* Plain decimal after optional leading whitespace, nothing after it: libvirt's
 * virStrToLong_*p refuse trailing blanks too (and would take "+5", which we refuse;
 * a refusal only sends the caller to the full parser). */
static int parse_u64(fx_t *x, int field, uint64_t limit, uint64_t *out)
{
    const uint8_t *s = (const uint8_t *)x->out + x->val_off[field];
    size_t n = x->val_len[field], i = 0;
    uint64_t v = 0;
    while (i < n && is_ws(s[i]))
        i++;
    if (i == n)
        return sem_fail(x, PV_FX_E_NUMBER, field, x->tag_off[field]);
    for (; i < n; i++) {
        uint64_t dgt;
        if (s[i] < '0' || s[i] > '9')
            return sem_fail(x, PV_FX_E_NUMBER, field, x->tag_off[field]);
        dgt = (uint64_t)(s[i] - '0');
        if (v > (limit - dgt) / 10)
            return sem_fail(x, PV_FX_E_OVERFLOW, field, x->tag_off[field]);
        v = v * 10 + dgt;
    }
    *out = v;
    return 0;
}

/* virScaleInteger (src/util/virutil.c): case-insensitive b/byte/bytes, k..e with
 * optional "iB" (1024^n) or "B" (1000^n); no unit means KiB for domain memory. */
static int unit_scale(const uint8_t *u, size_t n, uint64_t *scale)
{
    uint64_t base, s = 1;
    const char *order = "kmgtpe", *at;
    size_t i, power;
    uint8_t c0;
    if (n == 0) {
        *scale = 1024;
        return 0;
    }
    if (eq_lit_ci(u, n, "b") || eq_lit_ci(u, n, "byte") || eq_lit_ci(u, n, "bytes")) {
        *scale = 1;
        return 0;
    }
    if (n == 1 || eq_lit_ci(u + 1, n - 1, "ib"))
        base = 1024;
    else if (n == 2 && (u[1] == 'b' || u[1] == 'B'))
        base = 1000;
    else
        return -1;
    c0 = u[0];
    if (c0 >= 'A' && c0 <= 'Z')
        c0 = (uint8_t)(c0 + 32);
    at = c0 ? strchr(order, c0) : NULL;
    if (!at)
        return -1;
    power = (size_t)(at - order) + 1;     /* k = base^1 ... e = base^6 */
    for (i = 0; i < power; i++)
        s *= base;
    *scale = s;
    return 0;
}

#define LLONG_MAX_U 0x7FFFFFFFFFFFFFFFull

/* virDomainParseMemory: bytes <= LLONG_MAX, KiB rounded up, and refused when the KiB
 * value reaches VIR_DIV_UP(LLONG_MAX, 1024). */
static int memory_field(fx_t *x, int field, uint64_t *value, uint64_t *kib)
{
    uint64_t v, scale, bytes, k;
    const uint8_t *u = (const uint8_t *)x->out + x->unit_off[field];
    TRY(parse_u64(x, field, UINT64_MAX, &v));
    if (unit_scale(u, x->have_unit[field] ? x->unit_len[field] : 0, &scale) < 0)
        return sem_fail(x, PV_FX_E_UNIT, field, x->tag_off[field]);
    if (v && v > LLONG_MAX_U / scale)
        return sem_fail(x, PV_FX_E_OVERFLOW, field, x->tag_off[field]);
    bytes = v * scale;
    k = bytes / 1024 + (bytes % 1024 != 0);
    if (k >= (LLONG_MAX_U / 1024) + 1)
        return sem_fail(x, PV_FX_E_OVERFLOW, field, x->tag_off[field]);
    *value = v;
    *kib = k;
    return 0;
}

static int has(const fx_t *x, int field)
{
    return (x->seen & (1u << field)) && x->val_len[field] > 0;
}

static int fields(fx_t *x, struct pv_fx_domain *res)
{
    uint64_t v, cur_v;
    size_t root = x->tag_off[F_ROOT];
    if (!has(x, PV_FX_F_TYPE))
        return sem_fail(x, PV_FX_E_MISSING, PV_FX_F_TYPE, root);
    if (!has(x, PV_FX_F_NAME))
        return sem_fail(x, PV_FX_E_MISSING, PV_FX_F_NAME, root);
    if (!has(x, PV_FX_F_MEMORY))
        return sem_fail(x, PV_FX_E_MISSING, PV_FX_F_MEMORY, root);
    TRY(memory_field(x, PV_FX_F_MEMORY, &res->memory_value, &res->memory_kib));
    if (res->memory_value == 0)     /* "Memory size must be specified" (or via NUMA) */
        return sem_fail(x, PV_FX_E_MISSING, PV_FX_F_MEMORY, root);
    if (has(x, PV_FX_F_CURRENT_MEMORY)) {
        TRY(memory_field(x, PV_FX_F_CURRENT_MEMORY, &cur_v, &res->current_memory_kib));
        res->present |= PV_FX_HAVE_CURRENT_MEMORY;
    }
    res->vcpu = 1;      /* libvirt's default when <vcpu> is absent; present, it must parse */
    if (x->seen & (1u << PV_FX_F_VCPU)) {
        TRY(parse_u64(x, PV_FX_F_VCPU, UINT32_MAX, &v));
        if (v == 0)
            return sem_fail(x, PV_FX_E_OVERFLOW, PV_FX_F_VCPU, x->tag_off[PV_FX_F_VCPU]);
        res->vcpu = (uint32_t)v;
        res->present |= PV_FX_HAVE_VCPU;
    }
    if (!has(x, PV_FX_F_OS_TYPE))
        return sem_fail(x, PV_FX_E_MISSING, PV_FX_F_OS_TYPE, root);
    res->type.off = x->val_off[PV_FX_F_TYPE];
    res->type.len = x->val_len[PV_FX_F_TYPE];
    res->name.off = x->val_off[PV_FX_F_NAME];
    res->name.len = x->val_len[PV_FX_F_NAME];
    res->os_type.off = x->val_off[PV_FX_F_OS_TYPE];
    res->os_type.len = x->val_len[PV_FX_F_OS_TYPE];
    if (has(x, PV_FX_F_UUID)) {     /* libvirt treats an empty <uuid/> as absent */
        res->uuid.off = x->val_off[PV_FX_F_UUID];
        res->uuid.len = x->val_len[PV_FX_F_UUID];
        res->present |= PV_FX_HAVE_UUID;
    }
    if (x->have_unit[PV_FX_F_MEMORY] && x->unit_len[PV_FX_F_MEMORY] > 0) {
        res->memory_unit.off = x->unit_off[PV_FX_F_MEMORY];
        res->memory_unit.len = x->unit_len[PV_FX_F_MEMORY];
        res->present |= PV_FX_HAVE_MEMORY_UNIT;
    }
    return 0;
}

static int reason_errno(int reason)
{
    switch (reason) {
    case PV_FX_E_TOO_BIG:
    case PV_FX_E_DEPTH:
    case PV_FX_E_LIMIT:
        return E2BIG;
    case PV_FX_E_DTD:
        return ENOTSUP;
    case PV_FX_E_OVERFLOW:
        return ERANGE;
    case PV_FX_E_NOSPACE:
        return ENOBUFS;
    default:
        return EINVAL;
    }
}

int pv_fx_parse_domain(const char *buf, size_t len, char *out, size_t outlen,
                       struct pv_fx_domain *res)
{
    fx_t x;
    int rc;

    if (!res)
        return -EINVAL;
    memset(res, 0, sizeof(*res));
    if ((!buf && len) || (!out && outlen)) {
        res->reason = PV_FX_E_SYNTAX;
        return -EINVAL;
    }
    if (len > PV_FX_MAX_DOC) {
        res->reason = PV_FX_E_TOO_BIG;
        return -E2BIG;
    }
    /* Only the scalars need clearing; the stacks are written before they are read. */
    x.d = (const uint8_t *)buf;
    x.n = len;
    x.p = 0;
    x.out = out;
    x.outlen = outlen;
    x.outpos = 0;
    x.depth = 0;
    x.nns = 0;
    x.cap = 0;
    x.cap_depth = 0;
    x.cap_start = 0;
    x.os_depth = 0;
    x.seen = 0;
    memset(x.val_off, 0, sizeof(x.val_off));
    memset(x.val_len, 0, sizeof(x.val_len));
    memset(x.unit_off, 0, sizeof(x.unit_off));
    memset(x.unit_len, 0, sizeof(x.unit_len));
    memset(x.have_unit, 0, sizeof(x.have_unit));
    memset(x.tag_off, 0, sizeof(x.tag_off));
    x.reason = 0;
    x.err_off = 0;
    x.err_field = 0;

    rc = document(&x);
    if (!rc)
        rc = fields(&x, res);
    if (rc) {
        res->reason = (uint32_t)x.reason;
        res->field = (uint32_t)x.err_field;
        res->err_offset = x.err_off;
        return -reason_errno(x.reason);
    }
    return (int)x.outpos;
}
