"""An lxml reference for the XML fast-parse, and Hypothesis strategies for domain XML.

reference_summary() reads a document the way libvirt does (full parse, then the same
XPath expressions virDomainDefParseXML uses), written independently of both fast
implementations so the tests compare against something else.  domain_docs() builds
valid domain documents with the awkward parts shuffled in: comments and PIs anywhere,
entities, character references and CDATA in values, decoy <name>s nested or in other
namespaces, every memory unit in random case.
"""
from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

from pyvirt._core import DomainSummary

PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

BASE = ("<domain type='kvm'><name>vm1</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid>"
        "<memory unit='KiB'>1048576</memory><currentMemory unit='KiB'>524288</currentMemory>"
        "<vcpu placement='static'>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type>"
        "<boot dev='hd'/></os></domain>")

_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
UNIT_SCALE = {"b": 1, "byte": 1, "bytes": 1}
for _p, _n in _POWERS.items():
    UNIT_SCALE[_p] = UNIT_SCALE[_p + "ib"] = 1024 ** _n
    UNIT_SCALE[_p + "b"] = 1000 ** _n
LLONG_MAX = (1 << 63) - 1


class Refused(Exception):
    """lxml, or libvirt's rules for the hot fields, refuse the document."""


def _number(text: str, limit: int) -> int:
    t = text.lstrip(" \t\r\n")     # virStrToLong_*: leading blanks only
    if not t or not (t.isascii() and t.isdigit()) or int(t) > limit:
        raise Refused(f"not a number: {text!r}")
    return int(t)


def _kib(text: str, unit: str) -> tuple[int, int]:
    value = _number(text, (1 << 64) - 1)
    scale = 1024 if unit == "" else UNIT_SCALE.get(unit.lower())
    if scale is None:
        raise Refused(f"unit {unit!r}")
    if value * scale > LLONG_MAX:
        raise Refused("memory overflow")
    kib = -(-(value * scale) // 1024)
    if kib >= -(-LLONG_MAX // 1024):
        raise Refused("memory overflow")
    return value, kib


def reference_summary(data: bytes) -> DomainSummary:
    """What libvirt would read from data's hot fields; Refused if it would not."""
    try:
        root = etree.fromstring(data, PARSER)
    except etree.XMLSyntaxError as e:
        raise Refused(f"lxml: {e}") from None
    if root.tag != "domain":
        raise Refused(f"root {root.tag!r}")

    def s(xpath: str) -> str:
        return str(root.xpath(f"string({xpath})"))

    typ, name, mem = root.get("type") or "", s("./name[1]"), s("./memory[1]")
    if not typ or not name or not mem:
        raise Refused("missing type, name or memory")
    mem_v, mem_kib = _kib(mem, s("./memory[1]/@unit"))
    if mem_v == 0:
        raise Refused("memory 0: 'Memory size must be specified'")
    cur = s("./currentMemory[1]")
    cur_kib = _kib(cur, s("./currentMemory[1]/@unit"))[1] if cur else None
    vcpu = 1
    if root.find("vcpu") is not None:   # present: its content must parse (libvirt 9)
        vcpu = _number(s("./vcpu[1]"), (1 << 32) - 1)
        if vcpu == 0:
            raise Refused("vcpu 0")
    os_type = s("./os/type[1]")
    if not os_type:
        raise Refused("missing os type")
    return DomainSummary(
        name=name, uuid=s("./uuid[1]") or None, type=typ, memory_kib=mem_kib,
        memory_value=mem_v, memory_unit=s("./memory[1]/@unit") or "KiB",
        current_memory_kib=cur_kib, vcpu=vcpu, os_type=os_type)


# ---- strategies ----

_TEXT_CHARS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from("\t\n\r<>&'\"]] é€😀\u2028\ufdd0"),
    st.characters(min_codepoint=0xA0, max_codepoint=0x10FFFF,
                  blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff"),
)
NS_URIS = ["http://app1.org/app1/", "urn:x-pyvirt:meta",
           "http://libvirt.org/schemas/domain/qemu/1.0",
           "https://example.com:8443/a/b;c=d/%7Euser", "x+y.z-w:"]


def _escape(chunk: str) -> str:
    return (chunk.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


@st.composite
def rendered(draw: st.DrawFn, value: str) -> str:
    """value as element content: escaped, char refs, CDATA, split by comments/PIs."""
    cuts = sorted(set(draw(st.lists(st.integers(0, len(value)), max_size=3))))
    parts, prev = [], 0
    for cut in [*cuts, len(value)]:
        chunk, prev = value[prev:cut], cut
        mode = draw(st.sampled_from(["esc", "esc", "ref", "cdata"]))
        if mode == "ref":
            parts.append("".join(draw(st.sampled_from([f"&#{ord(c)};", f"&#x{ord(c):X};",
                                                       f"&#x{ord(c):04x};"])) for c in chunk))
        elif mode == "cdata" and "]]>" not in chunk and "\r" not in chunk and chunk:
            parts.append(f"<![CDATA[{chunk}]]>")
        else:
            parts.append(_escape(chunk))
        parts.append(draw(st.sampled_from(["", "", "<!-- c -->", "<?pi data?>", "<!---->"])))
    return "".join(parts)


def _ws(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", " ", "\n  ", "\t", "\r\n", " <!-- x --> ", "<?p?>"]))


def _attr(draw: st.DrawFn, name: str, value: str) -> str:
    q = draw(st.sampled_from(["'", '"']))
    eq = draw(st.sampled_from(["=", " = ", "=\n"]))
    v = _escape(value).replace(q, "&apos;" if q == "'" else "&quot;")
    return f" {name}{eq}{q}{v}{q}"


@st.composite
def memory_elem(draw: st.DrawFn, tag: str) -> str:
    value = draw(st.one_of(st.integers(0, 1 << 40), st.integers(0, (1 << 66))))
    unit = draw(st.one_of(st.none(), st.sampled_from(sorted(UNIT_SCALE)), st.just("KiB"),
                          st.just("GiB"), st.just("MB"), st.just("bogus"), st.just("")))
    if unit:
        unit = "".join(c.upper() if draw(st.booleans()) else c for c in unit)
    text = draw(st.sampled_from(["{}", " {}", "\n{}", "0{}", " {} "])).format(value)
    attrs = "" if unit is None else _attr(draw, "unit", unit)
    if draw(st.booleans()):
        attrs += _attr(draw, "dumpCore", "on")
    return f"<{tag}{attrs}>{draw(rendered(text))}</{tag}>"


@st.composite
def domain_docs(draw: st.DrawFn) -> bytes:
    """A well-formed domain XML within the fast parser's subset (fields may still be
    semantically invalid: huge or unknown-unit memory, vcpu overflow)."""
    name = draw(st.text(_TEXT_CHARS, min_size=1, max_size=12))
    os_type = draw(rendered(draw(st.sampled_from(["hvm", "exe", "linux", " hvm "]))))
    children = [f"<name>{draw(rendered(name))}</name>", draw(memory_elem("memory")),
                (f"<os>{_ws(draw)}<type arch='x86_64'>{os_type}</type>{_ws(draw)}"
                 "<boot dev='hd'/></os>")]
    if draw(st.booleans()):
        uuid = draw(st.sampled_from(["c7a5fdbd-edaf-9455-926a-d65c16db1809",
                                     "C7A5FDBDEDAF9455926AD65C16DB1809", " x ", ""]))
        children.append(f"<uuid>{draw(rendered(uuid))}</uuid>")
    if draw(st.booleans()):
        children.append(draw(memory_elem("currentMemory")))
    if draw(st.booleans()):
        vcpu = draw(st.one_of(st.integers(0, 512), st.integers(0, 1 << 33)))
        children.append(f"<vcpu placement='static'>{draw(rendered(str(vcpu)))}</vcpu>")
    decoys = [
        "<devices><disk type='file'><name>decoy</name><source file='/a&amp;b'/></disk></devices>",
        ("<metadata><app1:name xmlns:app1='http://app1.org/app1/'>decoy</app1:name>"
         "<foo xmlns='urn:x-foo'><name>deep</name><os><type>xen</type></os></foo></metadata>"),
        "<description>a &lt;name&gt; in text</description>",
        "<clock offset='utc'/>", "<on_poweroff>destroy</on_poweroff>", "<os/>",
        "<os><loader readonly='yes'>/usr/share/OVMF.fd</loader></os>",
    ]
    children += draw(st.lists(st.sampled_from(decoys), max_size=4))
    draw(st.randoms()).shuffle(children)
    # Namespaced look-alikes as direct children must not count, wherever they are.
    front = draw(st.lists(st.sampled_from([
        "<name xmlns='http://example.com/ns'>nsdecoy</name>",
        "<q:memory xmlns:q='urn:x-mem'>7</q:memory>",
        "<vcpu xmlns='urn:x-v'>9</vcpu>"]), max_size=2))
    body = "".join(_ws(draw) + c for c in front + children) + _ws(draw)
    if draw(st.booleans()):     # a second <name>: libvirt's ./name[1] takes the first
        body += "<name>second</name>"
    attrs = _attr(draw, "type", draw(st.sampled_from(["kvm", "qemu", "test", "lxc", "k&v"])))
    if draw(st.booleans()):
        attrs += _attr(draw, "xmlns:qemu", draw(st.sampled_from(NS_URIS)))
    if draw(st.booleans()):
        attrs += _attr(draw, "id", "5")
    prolog = draw(st.sampled_from([
        "", "<?xml version='1.0'?>\n", '<?xml version="1.0" encoding="UTF-8"?>',
        "<?xml version='1.0' encoding='utf-8' standalone='yes' ?>\r\n",
        "\ufeff<?xml version='1.0'?>", "<!-- saved by virsh -->\n", "<?xml-stylesheet href='a'?>"]))
    epilog = draw(st.sampled_from(["", "\n", "\n<!-- end -->\n", "<?done?>"]))
    return f"{prolog}<domain{attrs}>{body}</domain>{epilog}".encode()


TOKENS = [b"<", b">", b"&", b"&#0;", b"&#x110000;", b"&bogus;", b"]]>", b"<!DOCTYPE d>",
          b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\r\n", b" xmlns='urn:z'", b" xmlns:p=''",
          b" a='1' a='2'", b"<!--", b"-->", b"--", b"<![CDATA[", b"<?xml version='1.0'?>",
          b"&lt;", b"'", b'"', b"</name>", b"<name>", b":", b"\t", b"p:", b"<p:x/>", b"/>",
          b"<memory>1</memory>", b" unit='MiB'", b"\xef\xbf\xbe", b"&#xD800;", b"<?", b"?>"]


@st.composite
def mutated_docs(draw: st.DrawFn) -> bytes:
    """A valid document after a few random byte-level edits."""
    doc = bytearray(draw(domain_docs()))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(doc)))
        op = draw(st.sampled_from(["flip", "delete", "insert", "token", "truncate", "dup"]))
        if op == "flip" and pos < len(doc):
            doc[pos] ^= 1 << draw(st.integers(0, 7))
        elif op == "delete":
            del doc[pos:pos + draw(st.integers(1, 8))]
        elif op == "insert":
            doc[pos:pos] = draw(st.binary(min_size=1, max_size=4))
        elif op == "token":
            doc[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "truncate":
            del doc[pos:]
        elif op == "dup":
            doc[pos:pos] = doc[max(0, pos - 16):pos]
    return bytes(doc)
