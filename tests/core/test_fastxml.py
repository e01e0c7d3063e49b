"""XML fast-parse: known answers, and properties against an lxml reference, per impl."""
from __future__ import annotations

import pickle
import re

import pytest
from coretest import CORE_SETTINGS
from fastxml_reference import BASE, Refused, domain_docs, mutated_docs, reference_summary
from hypothesis import given
from hypothesis import strategies as st

from pyvirt._core import DomainSummary, FastParseError, Impl
from pyvirt._twins.abc import FX_MAX_DEPTH, FX_MAX_DOC, FxField, FxReason

R = FxReason



def dom(body: str, typ: str = "kvm", head: str = "") -> str:
    return f"{head}<domain type='{typ}'>{body}</domain>"


MIN = "<name>a</name><memory>1</memory><os><type>hvm</type></os>"


def test_known_answer_full(impl: Impl) -> None:
    assert impl.fastxml.parse_domain_summary(BASE) == DomainSummary(
        name="vm1", uuid="c7a5fdbd-edaf-9455-926a-d65c16db1809", type="kvm",
        memory_kib=1048576, memory_value=1048576, memory_unit="KiB",
        current_memory_kib=524288, vcpu=2, os_type="hvm")


def test_known_answer_minimal_defaults(impl: Impl) -> None:
    s = impl.fastxml.parse_domain_summary(dom(MIN, typ="test"))
    assert (s.uuid, s.current_memory_kib, s.vcpu, s.memory_unit, s.memory_kib) == \
        (None, None, 1, "KiB", 1)


@pytest.mark.parametrize("unit,value,kib", [
    (None, 1000, 1000), ("", 1000, 1000), ("b", 1025, 2), ("bytes", 1024, 1),
    ("byte", 1, 1), ("k", 3, 3), ("KiB", 3, 3), ("KB", 1000, 977), ("kb", 1024, 1000),
    ("M", 2, 2048), ("MiB", 2, 2048), ("MB", 1, 977), ("G", 1, 1048576), ("GiB", 1, 1048576),
    ("GB", 1, 976563), ("T", 1, 1 << 30), ("TiB", 1, 1 << 30), ("TB", 1, 976562500),
    ("P", 1, 1 << 40), ("PB", 1, 976562500000), ("E", 1, 1 << 50), ("EiB", 2, 1 << 51),
    ("EB", 1, 976562500000000), ("gib", 1, 1048576), ("mIb", 1, 1024), ("b", 1, 1),
    ("b", 9223372036854775807 - 1024, 9007199254740991),
])
def test_memory_units(impl: Impl, unit: str | None, value: int, kib: int) -> None:
    attr = "" if unit is None else f" unit='{unit}'"
    s = impl.fastxml.parse_domain_summary(dom(
        f"<name>a</name><memory{attr}>{value}</memory><currentMemory{attr}>{value}"
        "</currentMemory><os><type>hvm</type></os>"))
    assert (s.memory_value, s.memory_kib, s.current_memory_kib) == (value, kib, kib)
    assert s.memory_unit == (unit or "KiB")


@pytest.mark.parametrize("xml,expect", [
    # only direct children of <domain> count, the first one wins, namespaces matter
    (dom("<devices><name>no</name></devices><metadata><name>no</name></metadata>" + MIN),
     {"name": "a"}),
    (dom("<name xmlns='urn:x'>no</name><p:name xmlns:p='urn:p'>no</p:name>" + MIN), {"name": "a"}),
    (dom(MIN + "<name>second</name>"), {"name": "a"}),
    (dom("<name>a<b>b</b><!--c--><?p x?>&lt;<![CDATA[<&>]]>&#x1F600;&#233;</name>"
         "<memory>1</memory><os><type>hvm</type></os>"), {"name": "ab<<&>😀é"}),
    (dom("<name> a\r\nb\rc </name><memory>1</memory><os><type>hvm</type></os>"),
     {"name": " a\nb\nc "}),
    (dom("<name>&#13;&#10;</name><memory>1</memory><os><type>hvm</type></os>"),
     {"name": "\r\n"}),
    (dom("<name>a</name><memory> \n42</memory><vcpu>\t3</vcpu><os><type>hvm</type></os>"),
     {"memory_kib": 42, "vcpu": 3}),
    (dom("<name>a</name><memory>1</memory><uuid/><os/><os><type>exe</type></os>"),
     {"vcpu": 1, "uuid": None, "os_type": "exe"}),
    (dom("<name>a</name><memory>1</memory><currentMemory>0</currentMemory>"
         "<os><type>hvm</type></os>"), {"current_memory_kib": 0}),
    ("<domain type='a&amp;&#98;\tc'>" + MIN + "</domain>", {"type": "a&b c"}),
    ("\ufeff<?xml version='1.0' encoding='utf-8' standalone='no'?>\n<!--x--><?pi?>"
     + dom(MIN) + "\n<!--y-->\n", {"name": "a"}),
    (dom(MIN, head="<?xml version=\"1.0\"?>"), {"name": "a"}),
    (dom("<memory unit='MiB' xmlns='urn:x'>5</memory>" + MIN), {"memory_kib": 1,
                                                                "memory_unit": "KiB"}),
    ("<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>" + MIN +
     "<qemu:commandline><qemu:arg value='-s'/></qemu:commandline></domain>", {"name": "a"}),
    (dom("<name>a</name><memory>1</memory><os><type>hvm</type></os><x>]]</x>"), {}),
])
def test_known_answers(impl: Impl, xml: str, expect: dict[str, object]) -> None:
    s = impl.fastxml.parse_domain_summary(xml)
    assert {k: getattr(s, k) for k in expect} == expect
    assert s == reference_summary(xml.encode())


@pytest.mark.parametrize("xml,reason,field", [
    ("", R.TRUNCATED, 0), ("   ", R.TRUNCATED, 0), ("<domain", R.TRUNCATED, 0),
    ("<domain type='kvm'>" + MIN, R.TRUNCATED, 0),
    (dom(MIN)[:-3], R.TRUNCATED, 0),
    ("<!DOCTYPE domain><domain/>", R.DTD, 0),
    (dom("<!ENTITY x 'y'>" + MIN), R.DTD, 0),
    ("<!DOCTYPE d [<!ENTITY e 'v'>]>" + dom("<name>&e;</name>"), R.DTD, 0),
    (dom("<name>&e;</name>"), R.REFERENCE, 0),
    (dom("<name>&#0;</name>"), R.REFERENCE, 0), (dom("<name>&#x110000;</name>"), R.REFERENCE, 0),
    (dom("<name>&#X41;</name>"), R.REFERENCE, 0), (dom("<name>&amp</name>"), R.REFERENCE, 0),
    ("<domain></domai>", R.MISMATCH, 0), (dom("<name>a</nam>"), R.MISMATCH, 0),
    ("<foo/>", R.NOT_DOMAIN, 0), ("<p:domain xmlns:p='urn:x'/>", R.NOT_DOMAIN, 0),
    ("<domain xmlns='urn:x'/>", R.NOT_DOMAIN, 0),
    (dom(MIN) + "<extra/>", R.EXTRA, 0), (dom(MIN) + "x", R.EXTRA, 0),
    ("<domain a='1' a='2'/>", R.ATTR_DUP, 0), ("<domain a='1'b='2'/>", R.SYNTAX, 0),
    ("<domain a='<'/>", R.SYNTAX, 0), (dom("]]>"), R.SYNTAX, 0),
    ("<!-- a -- b -->" + dom(MIN), R.SYNTAX, 0),
    (dom("<x:a/>"), R.NAMESPACE, 0), (dom("<a xmlns:p=''/>"), R.NAMESPACE, 0),
    (dom("<a xmlns:p='not a uri'/>"), R.NAMESPACE, 0),
    (dom("<a xmlns:p='urn:x' xmlns:q='urn:x' p:x='1' q:x='2'/>"), R.ATTR_DUP, 0),
    (dom("<\u00e9/>"), R.NAME, 0), (dom("<a:b:c xmlns:a='urn:a'/>"), R.NAME, 0),
    ("<?xml version='1.1'?>" + dom(MIN), R.XMLDECL, 0),
    ("<?xml version='1.0' encoding='latin1'?>" + dom(MIN), R.XMLDECL, 0),
    (" <?xml version='1.0'?>" + dom(MIN), R.XMLDECL, 0),
    (dom("<?xml version='1.0'?>" + MIN), R.XMLDECL, 0),
    (dom("<name>\x01</name>"), R.CHAR, 0), (dom("<name>\ufffe</name>"), R.CHAR, 0),
    (dom("<a>" * (FX_MAX_DEPTH + 1)), R.DEPTH, 0),
    ("<domain" + "".join(f" a{i}='1'" for i in range(65)) + "/>", R.LIMIT, 0),
    (dom("<memory>1</memory><os><type>hvm</type></os>"), R.MISSING, FxField.NAME),
    (dom("<name></name><memory>1</memory><os><type>hvm</type></os>"), R.MISSING, FxField.NAME),
    ("<domain>" + MIN + "</domain>", R.MISSING, FxField.TYPE),
    ("<domain type=''>" + MIN + "</domain>", R.MISSING, FxField.TYPE),
    (dom("<name>a</name><os><type>hvm</type></os>"), R.MISSING, FxField.MEMORY),
    (dom("<name>a</name><memory/><os><type>hvm</type></os>"), R.MISSING, FxField.MEMORY),
    (dom("<name>a</name><memory>1</memory>"), R.MISSING, FxField.OS_TYPE),
    (dom("<name>a</name><memory>1</memory><os><type/></os>"), R.MISSING, FxField.OS_TYPE),
    (dom("<name>a</name><memory>1x</memory><os><type>hvm</type></os>"), R.NUMBER, FxField.MEMORY),
    (dom("<name>a</name><memory>-1</memory><os><type>hvm</type></os>"), R.NUMBER, FxField.MEMORY),
    (dom("<name>a</name><memory>0x10</memory><os><type>hvm</type></os>"), R.NUMBER, FxField.MEMORY),
    (dom("<name>a</name><memory> </memory><os><type>hvm</type></os>"), R.NUMBER, FxField.MEMORY),
    (dom("<name>a</name><memory>12 </memory><os><type>hvm</type></os>"), R.NUMBER,
     FxField.MEMORY),
    (dom("<name>a</name><memory>+5</memory><os><type>hvm</type></os>"), R.NUMBER, FxField.MEMORY),
    (dom("<name>a</name><memory>0</memory><os><type>hvm</type></os>"), R.MISSING, FxField.MEMORY),
    (dom("<name>a</name><memory>1</memory><vcpu/><os><type>hvm</type></os>"),
     R.NUMBER, FxField.VCPU),
    (dom("<name>a</name><memory>1</memory><vcpu> 3 </vcpu><os><type>hvm</type></os>"),
     R.NUMBER, FxField.VCPU),
    (dom("<name>a</name><memory>1</memory><vcpu>0</vcpu><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.VCPU),
    (dom("<name>a</name><memory unit='b'>9223372036854775807</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
    (dom("<name>a</name><memory>9007199254740992</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
    (dom("<name>a</name><memory>1</memory><vcpu>two</vcpu><os><type>hvm</type></os>"),
     R.NUMBER, FxField.VCPU),
    (dom("<name>a</name><memory>1</memory><vcpu>4294967296</vcpu><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.VCPU),
    (dom("<name>a</name><memory unit='X'>1</memory><os><type>hvm</type></os>"),
     R.UNIT, FxField.MEMORY),
    (dom("<name>a</name><memory unit=' KiB'>1</memory><os><type>hvm</type></os>"),
     R.UNIT, FxField.MEMORY),
    (dom("<name>a</name><memory>1</memory><currentMemory unit='ki'>1</currentMemory>"
         "<os><type>hvm</type></os>"), R.UNIT, FxField.CURRENT_MEMORY),
    (dom("<name>a</name><memory unit='b'>9223372036854775808</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
    (dom("<name>a</name><memory unit='EiB'>8</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
    (dom("<name>a</name><memory>99999999999999999999999</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
    (dom("<name>a</name><memory unit='b'>9223372036854775000</memory><os><type>hvm</type></os>"),
     R.OVERFLOW, FxField.MEMORY),
])
def test_refusals(impl: Impl, xml: str, reason: int, field: int) -> None:
    with pytest.raises(FastParseError) as ei:
        impl.fastxml.parse_domain_summary(xml)
    assert (ei.value.reason, ei.value.field) == (reason, field), str(ei.value)
    assert isinstance(ei.value, ValueError)


def test_refusal_message_and_pickle(impl: Impl) -> None:
    with pytest.raises(FastParseError) as ei:
        impl.fastxml.parse_domain_summary(dom("<name>a</name><memory>1x</memory>"))
    assert re.fullmatch(r"cannot fast-parse domain XML: <memory> is not a decimal number "
                        r"\(at byte \d+\)", str(ei.value))
    again = pickle.loads(pickle.dumps(ei.value))
    assert (again.reason, again.offset, again.field) == (ei.value.reason, ei.value.offset,
                                                         ei.value.field)


def test_size_bound(impl: Impl) -> None:
    pad = "<!--" + "x" * (FX_MAX_DOC - len(dom(MIN)) - 7) + "-->"
    ok = dom(MIN + pad)
    assert len(ok) == FX_MAX_DOC
    assert impl.fastxml.parse_domain_summary(ok).name == "a"
    with pytest.raises(FastParseError) as ei:
        impl.fastxml.parse_domain_summary(dom(MIN + pad + " "))
    assert ei.value.reason == R.TOO_BIG


def test_str_with_lone_surrogate(impl: Impl) -> None:
    with pytest.raises(FastParseError) as ei:
        impl.fastxml.parse_domain_summary(dom("<name>\ud800</name>"))
    assert ei.value.reason == R.ENCODING


@pytest.mark.parametrize("data", [b"\xc3(", b"<domain>\xed\xa0\x80</domain>",
                                  b"<domain>\xf4\x90\x80\x80</domain>", b"\xe0\x80\x80",
                                  b"<domain>\xc3"])
def test_bad_utf8(impl: Impl, data: bytes) -> None:
    with pytest.raises(FastParseError) as ei:
        impl.fastxml.parse_domain_summary(data)
    assert ei.value.reason == R.ENCODING


@CORE_SETTINGS
@given(doc=domain_docs())
def test_valid_documents_match_lxml(impl: Impl, doc: bytes) -> None:
    try:
        want = reference_summary(doc)
    except Refused:
        # Generated documents are well-formed; only the fields' values can be refused,
        # and then the fast parser must refuse them too, for a field reason.
        with pytest.raises(FastParseError) as ei:
            impl.fastxml.parse_domain_summary(doc)
        assert ei.value.reason in (R.NUMBER, R.UNIT, R.OVERFLOW, R.MISSING), str(ei.value)
        return
    assert impl.fastxml.parse_domain_summary(doc) == want


@CORE_SETTINGS
@given(doc=st.one_of(mutated_docs(), st.binary(max_size=200),
                     st.binary(max_size=200).map(lambda b: b"<domain type='x'>" + b)))
def test_never_wrong_on_mangled_input(impl: Impl, doc: bytes) -> None:
    """Any input: a result equal to lxml's reading, or FastParseError; never a crash."""
    try:
        got = impl.fastxml.parse_domain_summary(doc)
    except FastParseError:
        return
    assert got == reference_summary(doc)
