"""The QEMU/KVM driver: real guests in qemu-system processes, driven over QMP.

Serves `qemu:///embed?root=DIR` in-process (libvirt's embedded driver); declines
`qemu:///system` and `qemu:///session`, which pyvirtd serves through the remote driver.
All connections a process opens on one root share its state (QemuNode); the first
takes the root's owner lock, reattaches to the guests a previous owner left running and
autostarts the rest, and the last to close releases the root, leaving guests running.
"""
from __future__ import annotations

import os
import threading
from typing import Any

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error
from ...uri import URI
from ..base import NetworkDriver, StorageDriver
from .driver import QemuDriver
from .node import QemuNode

__all__ = ["QemuDriver", "QemuNode", "open", "open_node"]

_lock = threading.Lock()
_nodes: dict[str, tuple[QemuNode, int]] = {}


def _release(node: QemuNode) -> None:
    with _lock:
        held, count = _nodes[node.layout.root]
        if count <= 1:
            del _nodes[node.layout.root]
        else:
            _nodes[node.layout.root] = (held, count - 1)
            return
    node.close()


def open_node(uri: str, root: str) -> QemuNode:
    """The node for `root`, created (and its guests reattached) on first use; the
    caller must balance with _release()."""
    from .reattach import load_root

    key = os.path.normpath(root)
    with _lock:
        held = _nodes.get(key)
        if held is not None:
            _nodes[key] = (held[0], held[1] + 1)
            return held[0]
        node = QemuNode(uri, key)
        try:
            node.engine = QemuDriver(node, None)
            load_root(node, node.engine)
        except BaseException:
            node.close()
            raise
        _nodes[key] = (node, 1)
        return node


def open(uri: URI, flags: int, auth: Any) -> Any:
    from .. import DriverSet

    if uri.driver != "qemu" or uri.is_remote:
        return None
    if uri.path != "/embed":
        return None     # qemu:///system, qemu:///session: pyvirtd, via the remote driver
    root = uri.param("root")
    if not root:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.QEMU,
                    "URI must be qemu:///embed?root=/some/path")
    if not os.path.isabs(root):
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.QEMU,
                    f"the embedded root must be an absolute path, not '{root}'")
    canonical = f"qemu:///embed?root={os.path.normpath(root)}"
    node = open_node(canonical, root)
    drv = QemuDriver(node, _release)
    return DriverSet(drv, NetworkDriver(), StorageDriver())
