"""pyvirt.xml: libvirt's config XML (domain, network, pool, volume, test node) <-> typed models.

Parse functions are pure (text in, model out; libvirtError with libvirt's code, origin
and message on bad input); `load_*` parse and apply the defaults a driver applies on
define; `format_*` write libvirt's exact layout. Documents go through one safe parser
(safe.parse_document): no DTDs, no entities, no network.
"""
from __future__ import annotations

from .domain_format import format_domain
from .domain_model import (
    Address,
    CharDevDef,
    CharSource,
    ClockDef,
    ControllerDef,
    CPUDef,
    CPUFeatureDef,
    DevicesDef,
    DiskDef,
    DomainDef,
    FeatureDef,
    GraphicsDef,
    GraphicsListen,
    InputDef,
    InterfaceDef,
    LoaderDef,
    MemballoonDef,
    OSDef,
    RngDef,
    TimerDef,
    VideoDef,
)
from .domain_normalize import (
    TEST_DEFAULTS,
    DomainDefaults,
    load_domain,
    normalize_domain,
    test_video_type,
)
from .domain_parse import parse_domain
from .ids import new_mac, new_uuid, parse_mac, parse_uuid
from .network import (
    DHCPHost,
    DHCPRange,
    NetworkDef,
    NetworkForward,
    NetworkIP,
    format_network,
    load_network,
    normalize_network,
    parse_network,
)
from .node import NodeDef, NodeDomain, NodeInfo, NodePool, load_node, parse_node
from .safe import XMLKind, parse_document
from .storage import (
    Permissions,
    StoragePoolDef,
    StorageVolDef,
    format_pool,
    format_volume,
    load_pool,
    normalize_pool,
    parse_pool,
    parse_volume,
    pool_test_defaults,
    volume_defaults,
)
from .text import RawElement
from .units import memory_to_kib, scale_integer

__all__ = [
    "TEST_DEFAULTS",
    "Address",
    "CPUDef",
    "CPUFeatureDef",
    "CharDevDef",
    "CharSource",
    "ClockDef",
    "ControllerDef",
    "DHCPHost",
    "DHCPRange",
    "DevicesDef",
    "DiskDef",
    # domains
    "DomainDef",
    "DomainDefaults",
    "FeatureDef",
    "GraphicsDef",
    "GraphicsListen",
    "InputDef",
    "InterfaceDef",
    "LoaderDef",
    "MemballoonDef",
    # networks
    "NetworkDef",
    "NetworkForward",
    "NetworkIP",
    # test-driver node files
    "NodeDef",
    "NodeDomain",
    "NodeInfo",
    "NodePool",
    "OSDef",
    "Permissions",
    "RawElement",
    "RngDef",
    # storage
    "StoragePoolDef",
    "StorageVolDef",
    "TimerDef",
    "VideoDef",
    # building blocks
    "XMLKind",
    "format_domain",
    "format_network",
    "format_pool",
    "format_volume",
    "load_domain",
    "load_network",
    "load_node",
    "load_pool",
    "memory_to_kib",
    "new_mac",
    "new_uuid",
    "normalize_domain",
    "normalize_network",
    "normalize_pool",
    "parse_document",
    "parse_domain",
    "parse_mac",
    "parse_network",
    "parse_node",
    "parse_pool",
    "parse_uuid",
    "parse_volume",
    "pool_test_defaults",
    "scale_integer",
    "test_video_type",
    "volume_defaults",
]
