"""Printing XML documents, whole or filtered by --xpath (virsh's virshDumpXML)."""
from __future__ import annotations

import copy
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from .control import Control

XMLSyntaxError = etree.XMLSyntaxError

__all__ = ["XMLSyntaxError", "dump_xml", "parse_xml"]


def parse_xml(xml: str) -> Any:
    """Parse XML the API returned, with no DTD, entity or network access (it is only
    ever the library's own output, but nothing here needs more)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(xml.encode("utf-8"), parser)


def _attr_text(name: str, value: str) -> str:
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return f' {name}="{value}"'


def _node_text(node: Any) -> str:
    if isinstance(node, etree._Element):
        return str(etree.tostring(node, with_tail=False, encoding="unicode"))
    if getattr(node, "is_attribute", False):
        return _attr_text(str(node.attrname), str(node))
    return str(node)


def dump_xml(ctl: Control, xml: str, xpath: str | None, wrap: bool) -> bool:
    """Print `xml`; with `xpath`, print each selected node instead (one per line), or with
    `wrap` all of them inside one <nodes> element."""
    if xpath is None:
        ctl.print(xml)
        return True
    try:
        doc = parse_xml(xml)
    except etree.XMLSyntaxError as e:
        raise ctl.fail(f"XML error: {e}") from None
    try:
        result = doc.xpath(xpath)
    except etree.XPathError as e:
        raise ctl.fail(f"XPath error : {e}") from None
    if not isinstance(result, list):
        # numbers, strings and booleans are not node sets (virXPathNodeSet)
        raise ctl.fail(f"internal error: Incorrect xpath '{xpath}'")
    if not wrap:
        for node in result:
            ctl.print(_node_text(node) + "\n")
        return True
    root = etree.Element("nodes")
    for node in result:
        if isinstance(node, etree._Element):
            child = copy.deepcopy(node)
            child.tail = None
            root.append(child)
        elif getattr(node, "is_attribute", False):
            root.set(str(node.attrname), str(node))
        elif root.__len__():
            last = root[-1]
            last.tail = (last.tail or "") + str(node)
        else:
            root.text = (root.text or "") + str(node)
    etree.indent(root, space="  ")
    ctl.print(etree.tostring(root, encoding="unicode") + "\n")
    return True
