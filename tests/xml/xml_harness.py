"""Shared by the pyvirt.xml tests: data paths and "what would the test driver say" runners."""
from __future__ import annotations

import json
import pathlib
from typing import Any

from record_xml_expected import mask

from pyvirt.errors import libvirtError
from pyvirt.xml import (
    format_domain,
    format_network,
    format_pool,
    format_volume,
    load_domain,
    load_network,
    load_pool,
    parse_volume,
    volume_defaults,
)

DATA = pathlib.Path(__file__).resolve().parent / "data"

# The test driver's own pool, into which volume cases are created.
DEFAULT_POOL = load_pool("<pool type='dir'><name>default-pool</name>"
                         "<target><path>/default-pool</path></target></pool>")


def define(kind: str, xml: str) -> str:
    """pyvirt's counterpart of the test driver's define (or volume create) + XMLDesc."""
    if kind == "domain":
        return format_domain(load_domain(xml))
    if kind == "network":
        return format_network(load_network(xml))
    if kind == "pool":
        return format_pool(load_pool(xml))
    vol = parse_volume(xml, DEFAULT_POOL.type)
    # testStorageVolCreateXML always places a new volume at <pool path>/<name>
    vol.target_path = vol.key = None
    volume_defaults(vol, DEFAULT_POOL)
    return format_volume(vol)


def outcome(kind: str, xml: str) -> dict[str, Any]:
    """{"xml": masked output} or {"error": libvirt's error fields}, as recorded."""
    try:
        return {"xml": mask(xml, define(kind, xml))}
    except libvirtError as e:
        return {"error": list(e.err)}


def expected(kind: str) -> dict[str, dict[str, Any]]:
    data: dict[str, dict[str, Any]] = json.loads((DATA / f"{kind}_expected.json").read_text())
    return data
