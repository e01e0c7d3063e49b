"""TestDriver: one connection's view of a test node, filling all three driver tables."""
from __future__ import annotations

from typing import Callable

from ..base import HypervisorDriver, NetworkDriver, StorageDriver
from .domains import DomainSlots
from .host import HostSlots
from .networks import NetworkSlots
from .node import TestNode
from .storage import StorageSlots


class TestDriver(HostSlots, DomainSlots, NetworkSlots, StorageSlots,
                 HypervisorDriver, NetworkDriver, StorageDriver):
    """The test driver's tables for one connection; the node behind it may be shared."""

    __test__ = False  # not a pytest test class
    name = "TEST"

    def __init__(self, node: TestNode, release: Callable[[TestNode], None]) -> None:
        self.node = node
        self._release: Callable[[TestNode], None] | None = release

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            self.node.events.remove_owner(self)
            release(self.node)
