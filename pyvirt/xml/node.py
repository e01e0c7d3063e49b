"""libvirt's test-driver node file (test:///path/to/node.xml): the <node> description.

The format is what libvirt's test driver reads in testOpenFromFile (src/test/
test_driver.c): a <node> root holding
- <cpu> (<mhz>, <model>, <nodes>, <sockets>, <cores>, <threads>, <active>) and
  <memory> (KiB), which override the defaults of test:///default (i686, 16 CPUs at
  1400 MHz, 2 cells x 2 sockets x 2 cores x 2 threads, 3 GiB); the CPU count is
  nodes*sockets*cores*threads, lowered to <active> when that is smaller;
- <domain>, <network>, <interface>, <pool> (holding <volume>s) and <device> elements,
  each either inline or as <x file='...'/> naming a file (relative paths are relative
  to the node file's directory) whose root element must be the same x;
- in a domain, the test namespace (xmlns:test='http://libvirt.org/schemas/domain/test/1.0')
  gives <test:runstate> (a virDomainState number, default running), <test:transient/>,
  <test:hasmanagedsave/> and <test:domainsnapshot> elements;
- <auth><user password='...'>name</user></auth> for the driver's authentication.

`parse_node` is pure apart from reading included files; `load_node` also applies the
define-time normalisation the test driver applies to every object it loads.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from lxml import etree  # type: ignore[import-untyped]

from ..constants import DomainState, ErrorDomain, ErrorNumber
from ..errors import error
from .domain_model import DomainDef
from .domain_normalize import TEST_DEFAULTS, DomainDefaults, _normalize
from .domain_parse import domain_from_element
from .ids import RandomBytes, new_uuid
from .network import NetworkDef, network_from_element
from .props import xml_error
from .safe import NODE, XMLKind, parse_document
from .storage import (
    StoragePoolDef,
    StorageVolDef,
    pool_from_element,
    pool_test_defaults,
    volume_defaults,
    volume_from_element,
)
from .text import RawElement, content, raw
from .units import parse_uint, parse_ull

__all__ = [
    "DEFAULT_NODE_INFO",
    "TEST_NS",
    "NodeDef",
    "NodeDomain",
    "NodeInfo",
    "NodePool",
    "load_node",
    "parse_node",
]

T = ErrorDomain.TEST
TEST_NS = "http://libvirt.org/schemas/domain/test/1.0"
_RUNSTATE, _TRANSIENT, _MANAGEDSAVE, _SNAPSHOT = (
    f"{{{TEST_NS}}}{n}" for n in ("runstate", "transient", "hasmanagedsave", "domainsnapshot"))
_SHUTOFF = int(DomainState.SHUTOFF)
_MAX_MODEL = 31  # VIR_NODEINFO_MAXMODELLEN (32) less the terminating NUL


@dataclass(slots=True)
class NodeInfo:
    """virNodeInfo as the test driver fills it (memory in KiB)."""

    model: str = "i686"
    memory: int = 3 * 1024 * 1024
    cpus: int = 16
    mhz: int = 1400
    nodes: int = 2
    sockets: int = 2
    cores: int = 2
    threads: int = 2


DEFAULT_NODE_INFO = NodeInfo()


@dataclass(slots=True)
class NodeDomain:
    domain: DomainDef
    runstate: int = int(DomainState.RUNNING)
    transient: bool = False
    has_managed_save: bool = False
    snapshots: list[RawElement] = field(default_factory=list)


@dataclass(slots=True)
class NodePool:
    pool: StoragePoolDef
    volumes: list[StorageVolDef] = field(default_factory=list)


@dataclass(slots=True)
class NodeDef:
    info: NodeInfo = field(default_factory=NodeInfo)
    domains: list[NodeDomain] = field(default_factory=list)
    networks: list[NetworkDef] = field(default_factory=list)
    interfaces: list[RawElement] = field(default_factory=list)  # virInterfaceDef XML
    pools: list[NodePool] = field(default_factory=list)
    devices: list[RawElement] = field(default_factory=list)     # node device XML
    auth_users: list[tuple[str, str | None]] = field(default_factory=list)


def parse_node(text: str | bytes, path: str | None = None) -> NodeDef:
    """Parse a node file's text; `path` names it (messages, relative file='...')."""
    kind = XMLKind("node", path or NODE.filename, T)
    root = parse_document(text, kind, filename=path or NODE.filename)
    node = NodeDef(info=_info(root))
    for c in root:
        t = c.tag
        if t == "domain":
            node.domains.append(_domain(_resolve(c, path)))
        elif t == "network":
            node.networks.append(network_from_element(_resolve(c, path)))
        elif t == "interface":
            node.interfaces.append(raw(_resolve(c, path)))
        elif t == "pool":
            el = _resolve(c, path)
            pool = pool_from_element(el)
            vols = [volume_from_element(_resolve(v, path), pool.type)
                    for v in el if v.tag == "volume"]
            node.pools.append(NodePool(pool, vols))
        elif t == "device":
            node.devices.append(raw(_resolve(c, path)))
        elif t == "auth":
            for u in c:
                if u.tag != "user":
                    continue
                name = content(u)
                if not name:
                    raise xml_error(T, "missing username in /node/auth/user field")
                node.auth_users.append((name, u.get("password")))
    return node


def load_node(path: str, defaults: DomainDefaults = TEST_DEFAULTS,
              rand: RandomBytes = os.urandom) -> NodeDef:
    """Read, parse and normalise the node file at `path`, as testOpenFromFile loads it."""
    node = parse_node(_read(path), path)
    for nd in node.domains:
        _normalize(nd.domain, defaults, rand)
    for net in node.networks:
        if net.uuid is None:
            net.uuid = new_uuid(rand)
    for np in node.pools:
        if np.pool.uuid is None:
            np.pool.uuid = new_uuid(rand)
        pool_test_defaults(np.pool)
        # testOpenVolumesForPool: volumes count against the pool's space
        for v in np.volumes:
            volume_defaults(v, np.pool)
            np.pool.allocation = (np.pool.allocation or 0) + (v.allocation or 0)
            np.pool.available = (np.pool.capacity or 0) - np.pool.allocation
    return node


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        raise xml_error(T, f"failed to parse xml document '{path}'") from None


def _build_filename(node_path: str | None, rel: str) -> str:
    """testBuildFilename: absolute as given, else relative to the node file's directory."""
    if rel.startswith("/") or not node_path or "/" not in node_path:
        return rel
    return os.path.join(os.path.dirname(node_path), rel)


def _resolve(el: Any, node_path: str | None) -> Any:
    """testParseXMLDocFromFile: an element, or the root of the file it names."""
    rel = el.get("file")
    if rel is None:
        return el
    absfile = _build_filename(node_path, rel)
    kind = XMLKind(el.tag, absfile, T)
    return parse_document(_read(absfile), kind, filename=absfile)


def _uint(root: Any, path: str, what: str) -> int | None:
    el = root.find(path)
    text = content(el) if el is not None else ""
    if not text:
        return None
    v = parse_uint(text)
    if v is None:
        raise xml_error(T, f"invalid node cpu {what} value")
    return v


def _info(root: Any) -> NodeInfo:
    """testParseNodeInfo."""
    d = DEFAULT_NODE_INFO
    info = NodeInfo(d.model, d.memory, d.cpus, d.mhz, d.nodes, d.sockets, d.cores, d.threads)
    for attr in ("nodes", "sockets", "cores", "threads"):
        v = _uint(root, f"cpu/{attr}", attr)
        if v is not None:
            setattr(info, attr, v)
    info.cpus = info.cores * info.threads * info.sockets * info.nodes
    active = _uint(root, "cpu/active", "active")
    if active is not None and active < info.cpus:
        info.cpus = active
    mhz = _uint(root, "cpu/mhz", "mhz")
    if mhz is not None:
        info.mhz = mhz
    el = root.find("cpu/model")
    if el is not None and content(el):
        model = content(el)
        if len(model.encode()) > _MAX_MODEL:
            raise error(ErrorNumber.INTERNAL_ERROR, T, f"Model {model} too big for destination")
        info.model = model
    el = root.find("memory")
    if el is not None and content(el):
        mem = parse_ull(content(el))
        if mem is None:
            raise xml_error(T, "invalid node memory value")
        info.memory = mem
    return info


def _domain(el: Any) -> NodeDomain:
    """A domain of the node with its test-namespace state (testDomainDefNamespaceParse)."""
    nd_runstate = None
    transient = managed = False
    snaps: list[RawElement] = []
    for c in list(el):
        t = c.tag
        if t == _RUNSTATE:
            if nd_runstate is None:
                nd_runstate = content(c)
            el.remove(c)
        elif t == _TRANSIENT:
            transient = True
            el.remove(c)
        elif t == _MANAGEDSAVE:
            managed = True
            el.remove(c)
        elif t == _SNAPSHOT:
            snaps.append(raw(c))
            el.remove(c)
    etree.cleanup_namespaces(el)
    runstate = int(DomainState.RUNNING)
    if nd_runstate:
        v = parse_uint(nd_runstate)
        if v is None:
            raise xml_error(T, "invalid runstate")
        if v >= len(DomainState):
            raise xml_error(T, f"runstate '{v}' out of range'")
        runstate = v
    if transient and runstate == _SHUTOFF:
        raise xml_error(T, "transient domain cannot have runstate 'shutoff'")
    if managed and runstate != _SHUTOFF:
        raise xml_error(T, "domain with managedsave data can only have runstate 'shutoff'")
    return NodeDomain(domain_from_element(el), runstate, transient, managed, snaps)
