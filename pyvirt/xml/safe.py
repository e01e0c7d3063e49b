"""Safe XML parsing: lxml with DTDs, entities and network refused, libvirt's parse errors.

Every config document (domain, network, pool, volume, test-driver node file) enters
pyvirt through `parse_document`. It never loads a DTD, never expands or resolves an
entity, never touches the network, keeps libxml2's size limits (no huge_tree), and
refuses any document that carries a DOCTYPE at all, so entity-expansion and external
entity attacks have nothing to work with.

Malformed input is reported the way libvirt's `catchXMLError` (src/util/virxml.c)
reports it: code VIR_ERR_XML_DETAIL, the origin of the document kind
(VIR_FROM_DOMAIN for domains, ...) and the message

    (domain_definition):LINE: LIBXML2 MESSAGE
    THE LINE OF TEXT AT THE PARSER POSITION
    ------^

where the dashes count bytes of that line up to the parser position (tabs are kept as
tabs so the caret lines up), and an empty context line prints as "(null)", as libvirt's
printf of a NULL buffer does. A wrong root element is VIR_ERR_XML_ERROR from
VIR_FROM_XML: "expecting root element of 'domain', not 'foo'" (virXMLParseHelper).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError

__all__ = [
    "DOMAIN",
    "NETWORK",
    "NODE",
    "POOL",
    "VOLUME",
    "Element",
    "XMLKind",
    "parse_document",
    "syntax_error",
]

Element = Any  # lxml.etree._Element; lxml ships no type stubs


@dataclass(frozen=True, slots=True)
class XMLKind:
    """What a document must be: its root tag, libvirt's pseudo file name, its error origin."""

    root: str
    filename: str
    origin: int


# Pseudo file names and origins as libvirt 9.0 prints them (checked with libvirt-python
# against test:///default: defineXML, networkDefineXML, storagePoolDefineXML,
# storageVolCreateXML given "<domain").
DOMAIN = XMLKind("domain", "(domain_definition)", ErrorDomain.DOMAIN)
NETWORK = XMLKind("network", "(network_definition)", ErrorDomain.NETWORK)
POOL = XMLKind("pool", "(storage_pool_definition)", ErrorDomain.STORAGE)
VOLUME = XMLKind("volume", "(storage_volume_definition)", ErrorDomain.STORAGE)
# The test driver parses node files by path; errors name the path and come from the
# test driver (VIR_FROM_TEST), which node.py fills in per file.
NODE = XMLKind("node", "(test driver)", ErrorDomain.TEST)

_DOCTYPE = b"<!DOCTYPE"


def _parser() -> Any:
    # A parser per call: lxml parsers keep per-parse state (the error log), and
    # creating one costs well under a microsecond.
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
        dtd_validation=False, attribute_defaults=False, remove_comments=True,
        remove_pis=True, remove_blank_text=True, strip_cdata=True, collect_ids=False,
    )


def parse_document(text: str | bytes, kind: XMLKind, *, filename: str | None = None) -> Element:
    """Parse `text` as a document of `kind` and return its root element.

    Raises libvirtError: VIR_ERR_XML_DETAIL for malformed XML, VIR_ERR_XML_ERROR for a
    DOCTYPE (refused outright) or a root element other than `kind.root`.
    """
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:
        raise syntax_error(data, parser.error_log, kind, filename) from None
    if _DOCTYPE in data and root.getroottree().docinfo.doctype:
        # libxml2 would keep entity declarations in an internal subset; rather than
        # reason about which are harmless, pyvirt takes none.
        raise error(ErrorNumber.XML_ERROR, kind.origin,
                    "document type declarations (DOCTYPE) are not allowed")
    tag = root.tag
    if tag != kind.root:
        raise error(ErrorNumber.XML_ERROR, ErrorDomain.XML,
                    f"expecting root element of '{kind.root}', not '{_qname(root)}'")
    return root


def _qname(el: Element) -> str:
    """The element's name as written (prefix:local), as libvirt prints node->name."""
    tag = el.tag
    if not isinstance(tag, str):
        return str(tag)
    if tag[0] == "{":
        local = tag[tag.index("}") + 1:]
        return f"{el.prefix}:{local}" if el.prefix else local
    return tag


def syntax_error(data: bytes, log: Any, kind: XMLKind, filename: str | None = None,
                 origin: int | None = None) -> libvirtError:
    """Build libvirt's VIR_ERR_XML_DETAIL error for the first error in an lxml error log."""
    entry = None
    for e in log:
        if e.level >= etree.ErrorLevels.ERROR:
            entry = e
            break
    if entry is None:  # pragma: no cover - lxml raised without logging an error
        return error(ErrorNumber.XML_DETAIL, kind.origin if origin is None else origin,
                     f"{filename or kind.filename}:0: malformed XML")
    line = max(entry.line, 1)
    context, pointer = _context(data, line, max(entry.column, 1))
    message = f"{filename or kind.filename}:{line}: {entry.message}\n{context}\n{pointer}"
    return error(ErrorNumber.XML_DETAIL, kind.origin if origin is None else origin, message)


def _context(data: bytes, line: int, column: int) -> tuple[str, str]:
    """The context line and caret libvirt's catchXMLError prints for a parser position.

    lxml reports a 1-based line and a 1-based column counted in characters; libvirt
    works from the parser's byte pointer. Convert to a byte offset, then follow
    catchXMLError: back up to the start of the line, print it up to the next line
    break, and draw one '-' per byte (a tab per tab) before the '^'.
    """
    start = 0
    for _ in range(line - 1):
        nl = data.find(b"\n", start)
        if nl < 0:
            break
        start = nl + 1
    end = start
    # advance column-1 characters (UTF-8 aware) from the start of the line
    remaining = column - 1
    n = len(data)
    while remaining > 0 and end < n and data[end] not in (0x0A, 0x0D):
        end += 1
        while end < n and (data[end] & 0xC0) == 0x80:
            end += 1
        remaining -= 1
    cur = end
    # catchXMLError: skip back over line ends the pointer sits on, then to line start
    while cur > 0 and cur < n and data[cur] in (0x0A, 0x0D):
        cur -= 1
    while cur > 0 and (cur >= n or data[cur] not in (0x0A, 0x0D)):
        cur -= 1
    if cur < n and data[cur] in (0x0A, 0x0D):
        cur += 1
    col = end - cur
    stop = cur
    while stop < n and data[stop] not in (0x0A, 0x0D, 0):
        stop += 1
    raw = data[cur:stop]
    if not raw:
        return "(null)", "^"
    pointer = bytearray()
    for i in range(min(col, len(raw))):
        pointer.append(0x09 if raw[i] == 0x09 else 0x2D)
    pointer.append(0x5E)
    return raw.decode("utf-8", "replace"), pointer.decode("ascii")
