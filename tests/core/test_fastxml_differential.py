"""XML fast-parse, differential: the C scanner and its twin agree on every input.

Agreement is exact: the same DomainSummary, or the same refusal (reason, byte offset,
field).  The twin is a line-by-line port, so any difference is a bug in one of them.
"""
from __future__ import annotations

from coretest import CORE_SETTINGS
from fastxml_reference import BASE, TOKENS, domain_docs, mutated_docs
from hypothesis import given
from hypothesis import strategies as st

from pyvirt._core import DomainSummary, FastParseError, Impl


def outcome(impl: Impl, data: bytes) -> DomainSummary | tuple[int, int, int]:
    try:
        return impl.fastxml.parse_domain_summary(data)
    except FastParseError as e:
        return (e.reason, e.offset, e.field)


def assert_agree(both: tuple[Impl, Impl], data: bytes) -> None:
    c, py = both
    assert outcome(c, data) == outcome(py, data), data


@CORE_SETTINGS
@given(doc=st.one_of(domain_docs(), mutated_docs()))
def test_documents(both: tuple[Impl, Impl], doc: bytes) -> None:
    assert_agree(both, doc)


@CORE_SETTINGS
@given(data=st.one_of(
    st.binary(max_size=300),
    st.lists(st.sampled_from(TOKENS + [b"<domain type='t'>", b"</domain>", b"<name>a",
                                       b"<memory>1", b"</memory>", b"<os><type>h",
                                       b"</type></os>", b" ", b"x"]),
             max_size=25).map(b"".join)))
def test_token_soup(both: tuple[Impl, Impl], data: bytes) -> None:
    assert_agree(both, data)


def test_every_prefix_of_a_document(both: tuple[Impl, Impl]) -> None:
    """Truncation at each byte: the same reason at the same place."""
    doc = ("<?xml version='1.0' encoding='UTF-8' standalone='yes'?><!--c--><?p d?>"
           + BASE.replace("<os>", "<![CDATA[x]]><p:q xmlns:p='urn:x' a='&amp;&#x41;'/><os>")
           + "\n").encode()
    for i in range(len(doc) + 1):
        assert_agree(both, doc[:i])


def test_every_single_byte_substitution(both: tuple[Impl, Impl]) -> None:
    doc = BASE.encode()
    for i in range(len(doc)):
        for b in (0x00, 0x20, 0x22, 0x26, 0x27, 0x2F, 0x3A, 0x3C, 0x3E, 0x5D, 0x80, 0xFF):
            assert_agree(both, doc[:i] + bytes((b,)) + doc[i + 1:])
