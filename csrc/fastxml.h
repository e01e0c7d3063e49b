/* fastxml.h: pull a libvirt domain XML's hot fields out without building a tree.
 *
 * One call scans the whole document once, checks it is well-formed (for the subset
 * of XML it accepts), and reports the string-values libvirt's own XPath lookups
 * would see: string(/domain/@type), string(./name[1]), string(./uuid[1]),
 * ./memory[1] (+ @unit), ./currentMemory[1] (+ @unit), string(./vcpu[1]) and
 * string(./os/type[1]).  Anything outside the subset (DOCTYPE, non-ASCII names,
 * encodings other than UTF-8, ...) is refused with a reason code so the caller can
 * fall back to a full parser: a refusal is never wrong, an answer must be.
 *
 * Rules (see DESIGN.md, "The C core"): no global state, every buffer bounded and
 * length-checked, the result is a count or -errno, no Python objects.
 *
 * This header is read twice: by the C compiler, and by csrc/build_core.py, which
 * feeds everything except preprocessor lines (other than integer #defines) to
 * cffi's cdef.  Keep declarations cdef-friendly: no macros in declarations.
 */
#ifndef PYVIRT_FASTXML_H
#define PYVIRT_FASTXML_H

#include <stddef.h>
#include <stdint.h>

/* Bounds.  4 MiB is libvirt's REMOTE_STRING_MAX: no domain XML that travels over the
 * wire is bigger.  Depth, name and attribute bounds sit well under libxml2's own
 * limits (depth 256, names 50000 bytes), so that whatever we accept, lxml accepts. */
#define PV_FX_MAX_DOC 4194304
#define PV_FX_MAX_DEPTH 128
#define PV_FX_MAX_NAME 1024
#define PV_FX_MAX_ATTRS 64
#define PV_FX_MAX_NSDECL 256

/* Why a document was refused (pv_fx_domain.reason).  The Python twin uses the same
 * numbers; pyvirt/_twins/abc.py holds the messages. */
enum pv_fx_reason {
    PV_FX_OK = 0,
    PV_FX_E_TOO_BIG = 1,        /* document longer than PV_FX_MAX_DOC */
    PV_FX_E_ENCODING = 2,       /* not valid UTF-8 */
    PV_FX_E_CHAR = 3,           /* a character XML 1.0 does not allow */
    PV_FX_E_TRUNCATED = 4,      /* input ended inside the document */
    PV_FX_E_SYNTAX = 5,         /* malformed markup */
    PV_FX_E_DTD = 6,            /* DOCTYPE / entity or other declarations */
    PV_FX_E_XMLDECL = 7,        /* bad or unsupported <?xml ...?> declaration */
    PV_FX_E_NAME = 8,           /* bad or unsupported (non-ASCII, too long) name */
    PV_FX_E_MISMATCH = 9,       /* end tag does not match start tag */
    PV_FX_E_DEPTH = 10,         /* nesting deeper than PV_FX_MAX_DEPTH */
    PV_FX_E_LIMIT = 11,         /* too many attributes or namespace declarations */
    PV_FX_E_ATTR_DUP = 12,      /* attribute given twice */
    PV_FX_E_REFERENCE = 13,     /* unknown entity or bad character reference */
    PV_FX_E_NAMESPACE = 14,     /* undeclared prefix, bad or unsupported declaration */
    PV_FX_E_NOT_DOMAIN = 15,    /* root element is not an un-namespaced <domain> */
    PV_FX_E_EXTRA = 16,         /* content after the root element */
    PV_FX_E_MISSING = 17,       /* a required field is absent or empty */
    PV_FX_E_NUMBER = 18,        /* memory / vcpu is not a plain decimal number */
    PV_FX_E_UNIT = 19,          /* unknown memory unit */
    PV_FX_E_OVERFLOW = 20,      /* number out of range (too large, or vcpu 0) */
    PV_FX_E_NOSPACE = 21        /* caller's output buffer too small */
};

/* Which field a semantic error (MISSING, NUMBER, UNIT, OVERFLOW) is about. */
enum pv_fx_field {
    PV_FX_F_NONE = 0,
    PV_FX_F_TYPE = 1,
    PV_FX_F_NAME = 2,
    PV_FX_F_UUID = 3,
    PV_FX_F_MEMORY = 4,
    PV_FX_F_CURRENT_MEMORY = 5,
    PV_FX_F_VCPU = 6,
    PV_FX_F_OS_TYPE = 7
};

/* pv_fx_domain.present bits */
#define PV_FX_HAVE_UUID 1
#define PV_FX_HAVE_MEMORY_UNIT 2
#define PV_FX_HAVE_CURRENT_MEMORY 4
#define PV_FX_HAVE_VCPU 8

/* A string-value, already unescaped, as UTF-8 bytes [off, off+len) of `out`. */
struct pv_fx_span {
    uint32_t off;
    uint32_t len;
};

struct pv_fx_domain {
    struct pv_fx_span type;             /* /domain/@type */
    struct pv_fx_span name;
    struct pv_fx_span uuid;             /* valid if PV_FX_HAVE_UUID */
    struct pv_fx_span memory_unit;      /* valid if PV_FX_HAVE_MEMORY_UNIT */
    struct pv_fx_span os_type;
    uint64_t memory_value;              /* as written, in memory_unit */
    uint64_t memory_kib;                /* libvirt's rounding: up to whole KiB */
    uint64_t current_memory_kib;        /* valid if PV_FX_HAVE_CURRENT_MEMORY; as written
                                           (libvirt later turns 0 or > memory into memory) */
    uint32_t vcpu;                      /* 1 when <vcpu> is absent */
    uint32_t present;                   /* PV_FX_HAVE_* */
    uint32_t reason;                    /* enum pv_fx_reason, on failure */
    uint32_t field;                     /* enum pv_fx_field, on semantic failure */
    uint64_t err_offset;                /* byte offset where the failure was seen */
};

/* Scan buf[0..len).  String-values are written to out[0..outlen); outlen >= len is
 * always enough (unescaping never grows text and each byte feeds one field at most).
 * Returns the number of bytes used in out, or -errno with res->reason set:
 * -E2BIG (size, depth or other bounds), -ENOTSUP (DTD), -ERANGE (overflow),
 * -ENOBUFS (out too small), -EINVAL (everything else). */
int pv_fx_parse_domain(const char *buf, size_t len, char *out, size_t outlen,
                       struct pv_fx_domain *res);

#endif /* PYVIRT_FASTXML_H */
