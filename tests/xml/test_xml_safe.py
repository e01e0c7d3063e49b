"""Safe parsing: no DTDs, entities, external resources; libvirt's syntax-error shape."""
from __future__ import annotations

import pytest

from pyvirt.constants import ErrorDomain, ErrorNumber
from pyvirt.errors import libvirtError
from pyvirt.xml import parse_domain, parse_network, parse_pool, parse_volume
from pyvirt.xml.safe import DOMAIN, NETWORK, POOL, VOLUME, parse_document

MINIMAL = "<domain type='test'><name>{}</name><memory>1</memory><os><type>hvm</type></os></domain>"


def _err(fn, text):  # type: ignore[no-untyped-def]
    with pytest.raises(libvirtError) as exc:
        fn(text)
    return exc.value


@pytest.mark.parametrize("doc", [
    # billion laughs
    ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
     '"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
     "<domain type='test'><name>&lol2;</name><memory>1</memory><os><type>hvm</type></os></domain>"),
    # external entity
    ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     "<domain type='test'><name>&xxe;</name><memory>1</memory><os><type>hvm</type></os></domain>"),
    # external DTD over the network
    '<?xml version="1.0"?><!DOCTYPE domain SYSTEM "http://127.0.0.1:9/evil.dtd">'
    + MINIMAL.format("x"),
    # a harmless-looking internal subset is refused all the same
    '<!DOCTYPE domain [<!ENTITY x "y">]>' + MINIMAL.format("&x;"),
    "<!DOCTYPE domain>" + MINIMAL.format("x"),
])
def test_doctype_refused(doc: str) -> None:
    e = _err(parse_domain, doc)
    assert e.get_error_code() in (ErrorNumber.XML_ERROR, ErrorNumber.XML_DETAIL)
    assert "lollol" not in e.get_error_message()
    assert "root:" not in e.get_error_message()


def test_doctype_message() -> None:
    e = _err(parse_domain, "<!DOCTYPE domain>" + MINIMAL.format("x"))
    assert (e.get_error_code(), e.get_error_domain()) == (ErrorNumber.XML_ERROR,
                                                          ErrorDomain.DOMAIN)
    assert e.get_error_message() == ("XML error: document type declarations (DOCTYPE) "
                                     "are not allowed")


def test_doctype_text_in_content_is_fine() -> None:
    d = parse_domain(MINIMAL.format("x").replace("</domain>",
                                                 "<description>&lt;!DOCTYPE x&gt;</description></domain>"))
    assert d.description == "<!DOCTYPE x>"


def test_xinclude_not_processed() -> None:
    doc = MINIMAL.format("x").replace(
        "</domain>", "<devices><xi:include xmlns:xi='http://www.w3.org/2001/XInclude' "
        "href='file:///etc/passwd' parse='text'/></devices></domain>")
    d = parse_domain(doc)
    assert len(d.devices.other) == 1 and "passwd" in d.devices.other[0].xml


def test_huge_text_refused() -> None:
    # libxml2 refuses text nodes over 10 MB unless huge_tree is on
    doc = MINIMAL.format("x").replace("</domain>",
                                      f"<description>{'a' * 11_000_000}</description></domain>")
    e = _err(parse_domain, doc)
    assert e.get_error_code() == ErrorNumber.XML_DETAIL


def test_deep_nesting_refused() -> None:
    doc = MINIMAL.format("x").replace("</domain>", "<a>" * 300 + "</a>" * 300 + "</domain>")
    e = _err(parse_domain, doc)
    assert e.get_error_code() == ErrorNumber.XML_DETAIL


@pytest.mark.parametrize("fn,filename,origin", [
    (parse_domain, "(domain_definition)", ErrorDomain.DOMAIN),
    (parse_network, "(network_definition)", ErrorDomain.NETWORK),
    (parse_pool, "(storage_pool_definition)", ErrorDomain.STORAGE),
    (parse_volume, "(storage_volume_definition)", ErrorDomain.STORAGE),
])
def test_syntax_error_shape(fn, filename: str, origin: int) -> None:  # type: ignore[no-untyped-def]
    # libvirt 9.0: virsh define of "<domain" (and the same for the other kinds)
    e = _err(fn, "<domain")
    message = f"{filename}:1: Couldn't find end of Start Tag domain line 1\n<domain\n-------^"
    assert e.err == (35, origin, message, 2, "%s", message, None, -1, -1)


@pytest.mark.parametrize("kind,root", [(DOMAIN, "domain"), (NETWORK, "network"),
                                       (POOL, "pool"), (VOLUME, "volume")])
def test_wrong_root(kind, root: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(libvirtError) as exc:
        parse_document("<x:foo xmlns:x='urn:x'/>", kind)
    assert exc.value.err[:3] == (27, ErrorDomain.XML,
                                 f"XML error: expecting root element of '{root}', not 'x:foo'")


def test_bytes_and_encoding_declaration() -> None:
    doc = MINIMAL.format("caf\u00e9")
    assert parse_domain(doc.encode()).name == "caf\u00e9"
    assert parse_domain('<?xml version="1.0" encoding="UTF-8"?>\n' + doc).name == "caf\u00e9"
    latin = ('<?xml version="1.0" encoding="ISO-8859-1"?>' + doc).encode("latin-1")
    assert parse_domain(latin).name == "caf\u00e9"


def test_comments_and_processing_instructions_ignored() -> None:
    doc = MINIMAL.format("x").replace("<memory>", "<!-- c --><?pi x?><memory>")
    assert parse_domain(doc).memory == 1
