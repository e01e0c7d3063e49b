"""Writing XML text the way libvirt does: escaping, indentation, verbatim elements.

libvirt builds its XML with virBuffer: two spaces per level, attributes in single
quotes, and virBufferEscapeString turning < > & " ' into entities in both text and
attribute values. pyvirt formats the same way with plain string joins.

Elements pyvirt does not model (a <sound> device, <memtune>, a driver namespace
element) are kept as `RawElement`: the element re-serialized once, at parse time, in
libvirt's layout (single quotes, two-space indent, no blank text), so formatting it
later is a string copy and a parse/format round trip is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

__all__ = ["RawElement", "content", "escape", "indent_block", "local_name", "raw"]

_SPECIAL = frozenset("<>&\"'")
_TABLE = str.maketrans({"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"})


def escape(s: str) -> str:
    """virBufferEscapeString's escaping, for text and (single-quoted) attributes alike."""
    for ch in s:
        if ch in _SPECIAL:
            return s.translate(_TABLE)
    return s


def local_name(tag: str) -> str:
    """The local part of an lxml tag ('{uri}name' -> 'name')."""
    return tag[tag.index("}") + 1:] if tag[0] == "{" else tag


def content(el: Any) -> str:
    """virXMLNodeContentString: the text of an element, children's text included."""
    if len(el):
        return "".join(el.itertext())
    return el.text or ""


@dataclass(frozen=True, slots=True)
class RawElement:
    """An element kept verbatim: its tag and its text in libvirt's layout at indent 0."""

    tag: str
    xml: str

    def format(self, indent: str) -> str:
        """The element's lines at `indent`, each ending in a newline."""
        if "\n" not in self.xml:
            return f"{indent}{self.xml}\n"
        return indent_block(self.xml, indent)


def indent_block(text: str, indent: str) -> str:
    """Indent each markup line of `text`; continuation lines of multi-line text content
    (which cannot start with '<', escaped in text) are left as they are."""
    return "".join(f"{indent}{line}\n" if line.lstrip(" ").startswith("<") else f"{line}\n"
                   for line in text.split("\n"))


def raw(el: Any) -> RawElement:
    """Keep `el` verbatim, normalised to libvirt's layout."""
    tag = el.tag
    if _has_namespace(el):
        # Namespaced content keeps the declarations lxml knows it needs; libxml2's
        # own serializer (double quotes) is what libvirt uses for such foreign XML.
        text = etree.tostring(el, encoding="unicode", pretty_print=True, with_tail=False)
        return RawElement(tag, text.rstrip("\n"))
    lines: list[str] = []
    _serialize(el, "", lines)
    return RawElement(tag, "\n".join(lines))


def _has_namespace(el: Any) -> bool:
    for e in el.iter():
        if not isinstance(e.tag, str) or e.tag[0] == "{":
            return True
        for k in e.attrib:
            if k[0] == "{":
                return True
    return False


def _attrs(el: Any) -> str:
    return "".join(f" {k}='{escape(v)}'" for k, v in el.attrib.items())


def _serialize(el: Any, indent: str, out: list[str]) -> None:
    tag = el.tag
    attrs = _attrs(el)
    children = [c for c in el if isinstance(c.tag, str)]
    text = el.text or ""
    if not children and not text.strip():
        text = ""  # whitespace-only content is layout, as libvirt's own elements treat it
    if not children:
        if text:
            out.append(f"{indent}<{tag}{attrs}>{escape(text)}</{tag}>")
        else:
            out.append(f"{indent}<{tag}{attrs}/>")
        return
    mixed = text.strip() or any((c.tail or "").strip() for c in children)
    if mixed:
        # Mixed content cannot be re-indented without changing it: keep it on one line.
        inner = escape(text) + "".join(
            etree.tostring(c, encoding="unicode", with_tail=False) + escape(c.tail or "")
            for c in children)
        out.append(f"{indent}<{tag}{attrs}>{inner}</{tag}>")
        return
    out.append(f"{indent}<{tag}{attrs}>")
    inner_indent = indent + "  "
    for c in children:
        _serialize(c, inner_indent, out)
    out.append(f"{indent}</{tag}>")
