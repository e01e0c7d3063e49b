"""The test driver: an in-memory node with libvirt's test-driver semantics.

`test:///default` is shared by the connections a process holds open at once and starts
afresh once all of them are closed, as libvirt's is; `test:///ABSOLUTE/PATH.xml` loads a
node described in libvirt's test-driver file format (each connection its own copy).
"""
from __future__ import annotations

import copy
import threading
import uuid as _uuid
from typing import Any

from ...constants import DomainRunningReason, DomainState, ErrorDomain, ErrorNumber
from ...errors import error
from ...uri import URI
from ..domobj import DomainObj
from .driver import TestDriver
from .node import Cell, NetObj, PoolObj, TestNode, VolObj, default_node

__all__ = ["open", "TestDriver"]

_shared_lock = threading.Lock()
_shared: dict[str, tuple[TestNode, int]] = {}    # "test:///default" -> (node, open count)


def _release_default(node: TestNode) -> None:
    with _shared_lock:
        held, count = _shared[node.uri]
        if count <= 1:
            del _shared[node.uri]
            node.close()
        else:
            _shared[node.uri] = (held, count - 1)


def _release_private(node: TestNode) -> None:
    node.close()


def open(uri: URI, flags: int, auth: Any) -> Any:
    from .. import DriverSet

    if uri.driver != "test" or uri.is_remote:
        return None
    if uri.path == "/default":
        with _shared_lock:
            node, count = _shared.get("test:///default") or (default_node(), 0)
            _shared["test:///default"] = (node, count + 1)
        drv = TestDriver(node, _release_default)
    elif uri.path.startswith("/") and len(uri.path) > 1:
        drv = TestDriver(node_from_file(uri.path), _release_private)
    else:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.TEST,
                    "testOpen: supply a path or use test:///default")
    return DriverSet(drv, drv, drv)


def node_from_file(path: str) -> TestNode:
    """A node loaded from libvirt's test-driver file format (testOpenFromFile)."""
    from ...xml.node import load_node

    nd = load_node(path)
    i = nd.info
    from ...types import NodeInfo
    node = TestNode(f"test://{path}", NodeInfo(i.model, i.memory, i.cpus, i.mhz, i.nodes,
                                               i.sockets, i.cores, i.threads), [])
    for entry in nd.domains:
        d = entry.domain
        obj = DomainObj(def_=d, name=d.name, raw_uuid=_uuid.UUID(d.uuid).bytes,
                        persistent=not entry.transient, has_managed_save=entry.has_managed_save)
        state = DomainState(entry.runstate)
        if state != DomainState.SHUTOFF:
            obj.id = node.new_id()
            if obj.persistent:
                obj.new_def = copy.deepcopy(d)
        reason = DomainRunningReason.BOOTED if state == DomainState.RUNNING else 0
        obj.set_state(state, reason)
        node.domains.add(obj)
    for net in nd.networks:
        node.networks[net.name] = NetObj(def_=net, name=net.name,
                                         raw_uuid=_uuid.UUID(net.uuid).bytes, active=True)
    for np in nd.pools:
        p = np.pool
        pool = PoolObj(def_=p, name=p.name, raw_uuid=_uuid.UUID(p.uuid).bytes, active=True)
        for v in np.volumes:
            pool.volumes[v.name] = VolObj(def_=v, name=v.name, key=v.key or "",
                                          path=v.target_path or "")
        node.pools[p.name] = pool
    return node
