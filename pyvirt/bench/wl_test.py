"""Test-driver workloads: define N, listAllDomains, lookup+info, XMLDesc, create/destroy.

Every target gets the same domain XML text: the test driver's own `test` domain (pyvirt's
and libvirt's are the same) renamed and given a fresh UUID per domain.  `pyvirt` and
`libvirt` run test:///default in-process, `pyvirtd` through the daemon (pyvirt's remote
driver as the client).  Each connection to test:///default starts from a fresh node, and
every domain a trial defines is undefined again, untimed.
"""
from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

from .core import Context, Measurement, Metric, Workload, timed_each
from .targets import Target

__all__ = ["WORKLOADS"]

_XML: str | None = None


def _template() -> str:
    """The test driver's `test` domain as a template with {name} and {uuid} slots."""
    global _XML
    if _XML is None:
        import pyvirt
        conn = pyvirt.open("test:///default")
        try:
            xml = conn.lookupByName("test").XMLDesc(0)
        finally:
            conn.close()
        xml = re.sub(r"<domain type='test' id='\d+'>", "<domain type='test'>", xml)
        xml = xml.replace("{", "{{").replace("}", "}}")
        xml = re.sub(r"<name>[^<]*</name>", "<name>{name}</name>", xml)
        _XML = re.sub(r"<uuid>[^<]*</uuid>", "<uuid>{uuid}</uuid>", xml)
    return _XML


def _xmls(prefix: str, n: int) -> list[str]:
    tpl = _template()
    return [tpl.format(name=f"{prefix}{i}", uuid=uuid.uuid4()) for i in range(n)]


@dataclasses.dataclass
class _State:
    target: Target
    ctx: Context
    api: Any
    uri: str
    conn: Any = None
    names: list[str] = dataclasses.field(default_factory=list)
    doms: list[Any] = dataclasses.field(default_factory=list)
    xmls: list[str] = dataclasses.field(default_factory=list)
    trial: int = 0


def _undefine_all(conn: Any, names: list[str]) -> None:
    for n in names:
        conn.lookupByName(n).undefine()


class _TestWorkload(Workload):
    group = "test"
    populate = True             # setup defines N domains on one connection

    def describe(self, ctx: Context) -> str:
        return (f"test driver, N={ctx.sizes.test_domains} domains (libvirt's `test` domain "
                "XML, renamed)")

    def check(self, target: Target, ctx: Context) -> None:
        target.test_uri()

    def setup(self, target: Target, ctx: Context) -> _State:
        st = _State(target, ctx, target.api(), target.test_uri())
        if self.populate:
            st.conn = st.api.open(st.uri)
            try:
                st.xmls = _xmls(ctx.name("t") + "-", ctx.sizes.test_domains)
                st.doms = [st.conn.defineXML(x) for x in st.xmls]
                st.names = [d.name() for d in st.doms]
            except BaseException:
                self.teardown(st)
                raise
        return st

    def teardown(self, st: _State) -> None:
        if st.conn is not None:
            try:
                _undefine_all(st.conn, st.names)
            finally:
                st.conn.close()
                st.conn = None


class TestDefine(_TestWorkload):
    name = "test.define"
    title = "defineXML, N domains on a fresh connection"
    metrics = (Metric("define", "defineXML (per domain)"),)
    populate = False

    def trial(self, st: _State) -> Measurement:
        st.trial += 1
        xmls = _xmls(st.ctx.name("d") + "-", st.ctx.sizes.test_domains)
        conn = st.api.open(st.uri)
        try:
            doms: list[Any] = []
            mean, lat = timed_each(lambda i: doms.append(conn.defineXML(xmls[i])), len(xmls))
            for d in doms:
                d.undefine()
        finally:
            conn.close()
        return {"define": (mean, lat)}


class TestList(_TestWorkload):
    name = "test.list"
    title = "listAllDomains over N domains"
    metrics = (Metric("list", "listAllDomains(0), N+1 domains"),)

    def trial(self, st: _State) -> Measurement:
        conn = st.conn
        return {"list": timed_each(lambda i: conn.listAllDomains(0), st.ctx.sizes.test_calls)}


class TestLookupInfo(_TestWorkload):
    name = "test.lookup_info"
    title = "lookupByName + info over all N domains"
    metrics = (Metric("lookup_info", "lookupByName(name).info() (per domain)"),)

    def trial(self, st: _State) -> Measurement:
        conn, names = st.conn, st.names
        return {"lookup_info": timed_each(lambda i: conn.lookupByName(names[i]).info(),
                                          len(names))}


class TestXMLDesc(_TestWorkload):
    name = "test.xmldesc"
    title = "XMLDesc over all N domains"
    metrics = (Metric("xmldesc", "XMLDesc(0) (per domain)"),)

    def trial(self, st: _State) -> Measurement:
        doms = st.doms
        return {"xmldesc": timed_each(lambda i: doms[i].XMLDesc(0), len(doms))}


class TestCreateDestroy(_TestWorkload):
    name = "test.create_destroy"
    title = "createXML (transient) + destroy cycles"
    metrics = (Metric("create_destroy", "createXML + destroy (per cycle)"),)
    populate = False

    def setup(self, target: Target, ctx: Context) -> _State:
        st = super().setup(target, ctx)
        st.conn = st.api.open(st.uri)
        st.xmls = _xmls(ctx.name("c") + "-", 1)
        return st

    def trial(self, st: _State) -> Measurement:
        conn, xml = st.conn, st.xmls[0]
        return {"create_destroy": timed_each(lambda i: conn.createXML(xml, 0).destroy(),
                                             st.ctx.sizes.test_calls)}


WORKLOADS: tuple[Workload, ...] = (TestDefine(), TestList(), TestLookupInfo(), TestXMLDesc(),
                                   TestCreateDestroy())
