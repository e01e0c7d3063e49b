"""Network: the hand-written part of a virtual network handle; entry points are in _api.py."""
from __future__ import annotations

from ._handle import UUIDHandle

__all__ = ["NetworkBase"]


class NetworkBase(UUIDHandle):
    """A virtual network on a node."""

    __slots__ = ()
