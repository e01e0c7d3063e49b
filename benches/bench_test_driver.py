"""The test driver against libvirt's (through libvirt-python), same machine, same run.

Groups: define 1000 domains, listAllDomains over 1000, lookupByName+info over all,
XMLDesc over all; each measured for `libvirt` and `pyvirt` (libvirt-python names on
both). Compare the two rows of each group; issue 2's goals: lookup+info at least
libvirt's rate; listAllDomains and defineXML no slower.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest

import pyvirt

real = pytest.importorskip("libvirt")
real.registerErrorHandler(lambda ctx, err: None, None)

IMPLS = {"libvirt": real, "pyvirt": pyvirt}
N = 1000


def _xmls(lv: Any) -> list[str]:
    c = lv.open("test:///default")
    xml = c.lookupByName("test").XMLDesc(0).replace(" id='1'", "")
    c.close()
    return [xml.replace("<name>test</name>", f"<name>bench{i}</name>")
            .replace("6695eb01", f"{i:08x}") for i in range(N)]


@pytest.fixture(params=sorted(IMPLS))
def lv(request: Any) -> Any:
    return IMPLS[request.param]


@pytest.fixture
def populated(lv: Any) -> Iterator[Any]:
    c = lv.open("test:///default")
    for x in _xmls(lv):
        c.defineXML(x)
    yield c
    for name in c.listDefinedDomains():
        c.lookupByName(name).undefine()
    c.close()


def test_define_1000(benchmark: Any, lv: Any) -> None:
    benchmark.group = "define 1000 domains"
    xmls = _xmls(lv)

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (lv.open("test:///default"),), {}

    def define(c: Any) -> None:
        for x in xmls:
            c.defineXML(x)
        for name in c.listDefinedDomains():
            c.lookupByName(name).undefine()
        c.close()
    benchmark.pedantic(define, setup=setup, rounds=5)


def test_list_all_domains(benchmark: Any, populated: Any) -> None:
    benchmark.group = "listAllDomains (1001 domains)"
    benchmark(populated.listAllDomains, 0)


def test_lookup_info_all(benchmark: Any, populated: Any) -> None:
    benchmark.group = "lookupByName+info over 1001 domains"
    names = [d.name() for d in populated.listAllDomains(0)]

    def run() -> None:
        for n in names:
            populated.lookupByName(n).info()
    benchmark(run)


def test_xmldesc_all(benchmark: Any, populated: Any) -> None:
    benchmark.group = "XMLDesc over 1001 domains"
    doms = populated.listAllDomains(0)

    def run() -> None:
        for d in doms:
            d.XMLDesc(0)
    benchmark(run)
