"""Test-driver node files: what libvirt 9.0 makes of data/node/node.xml, and errors."""
from __future__ import annotations

import json
import pathlib

import pytest
from record_xml_expected import mask
from xml_harness import DATA

from pyvirt.constants import ErrorDomain
from pyvirt.errors import libvirtError
from pyvirt.xml import (
    format_domain,
    format_network,
    format_pool,
    format_volume,
    load_node,
    parse_node,
)

NODE = DATA / "node" / "node.xml"
EXPECTED = json.loads((DATA / "node_expected.json").read_text())


@pytest.fixture(scope="module")
def node():  # type: ignore[no-untyped-def]
    return load_node(str(NODE))


def test_node_info(node) -> None:  # type: ignore[no-untyped-def]
    e = dict(EXPECTED["info"])
    assert node.info.memory // 1024 == e.pop("memory_mib")
    assert {k: getattr(node.info, k) for k in e} == e


def test_domains(node) -> None:  # type: ignore[no-untyped-def]
    text = NODE.read_text()
    assert {nd.domain.name for nd in node.domains} == set(EXPECTED["domains"])
    next_id = 1
    for nd in node.domains:     # running domains get ids in file order
        e = EXPECTED["domains"][nd.domain.name]
        live_id = None
        if nd.runstate != 5:
            live_id, next_id = next_id, next_id + 1
        assert (live_id or -1, nd.runstate, not nd.transient, nd.has_managed_save) == \
            (e["id"], e["state"], e["persistent"], e["managed_save"])
        assert mask(text, format_domain(nd.domain, live_id=live_id)) == e["xml"]
        assert mask(text, format_domain(nd.domain, inactive=True)) == e["inactive"]


def test_networks(node) -> None:  # type: ignore[no-untyped-def]
    text = NODE.read_text()
    assert {n.name: mask(text, format_network(n)) for n in node.networks} == EXPECTED["networks"]


def test_pools_and_volumes(node) -> None:  # type: ignore[no-untyped-def]
    got = {np.pool.name: {"xml": format_pool(np.pool),
                          "volumes": {v.name: format_volume(v) for v in np.volumes}}
           for np in node.pools}
    assert got == EXPECTED["pools"]


def test_interfaces(node) -> None:  # type: ignore[no-untyped-def]
    assert [r.tag for r in node.interfaces] == ["interface"]
    assert "aa:bb:cc:dd:ee:01" in node.interfaces[0].xml
    assert list(EXPECTED["interfaces"]) == ["eth7"]


def test_parse_is_pure_of_defaults() -> None:
    n = parse_node(NODE.read_bytes(), str(NODE))
    inline = next(nd for nd in n.domains if nd.domain.name == "inline-off")
    assert inline.domain.devices.consoles == [] and inline.domain.vcpu is None
    assert n.pools[0].pool.capacity == 5 * 1024 ** 3      # as written; load_node applies 100 GiB


def _write(tmp: pathlib.Path, text: str, name: str = "node.xml") -> str:
    p = tmp / name
    p.write_text(text)
    return str(p)


def test_defaults_without_cpu(tmp_path: pathlib.Path) -> None:
    n = load_node(_write(tmp_path, "<node/>"))
    assert (n.info.model, n.info.cpus, n.info.mhz, n.info.memory) == ("i686", 16, 1400, 3145728)
    assert (n.info.nodes, n.info.sockets, n.info.cores, n.info.threads) == (2, 2, 2, 2)


def test_active_only_lowers(tmp_path: pathlib.Path) -> None:
    n = load_node(_write(tmp_path, "<node><cpu><active>99</active><nodes>1</nodes></cpu></node>"))
    assert n.info.cpus == 8


def test_auth_users(tmp_path: pathlib.Path) -> None:
    n = load_node(_write(tmp_path, "<node><auth><user password='pw'>alice</user>"
                                   "<user>bob</user></auth></node>"))
    assert n.auth_users == [("alice", "pw"), ("bob", None)]


@pytest.mark.parametrize("text,err", [
    ("<node><cpu><nodes>x</nodes></cpu></node>",
     (27, ErrorDomain.TEST, "XML error: invalid node cpu nodes value")),
    ("<node><cpu><mhz>-1</mhz></cpu></node>",
     (27, ErrorDomain.TEST, "XML error: invalid node cpu mhz value")),
    ("<node><memory>lots</memory></node>",
     (27, ErrorDomain.TEST, "XML error: invalid node memory value")),
    ("<node><cpu><model>" + "m" * 40 + "</model></cpu></node>",
     (1, ErrorDomain.TEST, "internal error: Model " + "m" * 40 + " too big for destination")),
    (("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><domain type='test'>"
      "<name>a</name><memory>1</memory><os><type>hvm</type></os>"
      "<test:runstate>9</test:runstate></domain></node>"),
     (27, ErrorDomain.TEST, "XML error: runstate '9' out of range'")),
    (("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><domain type='test'>"
      "<name>a</name><memory>1</memory><os><type>hvm</type></os>"
      "<test:runstate>5</test:runstate><test:transient/></domain></node>"),
     (27, ErrorDomain.TEST, "XML error: transient domain cannot have runstate 'shutoff'")),
    (("<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'><domain type='test'>"
      "<name>a</name><memory>1</memory><os><type>hvm</type></os>"
      "<test:hasmanagedsave/></domain></node>"),
     (27, ErrorDomain.TEST,
      "XML error: domain with managedsave data can only have runstate 'shutoff'")),
    ("<node><auth><user/></auth></node>",
     (27, ErrorDomain.TEST, "XML error: missing username in /node/auth/user field")),
    ("<foo/>", (27, ErrorDomain.XML, "XML error: expecting root element of 'node', not 'foo'")),
])
def test_errors(tmp_path: pathlib.Path, text: str, err: tuple[int, int, str]) -> None:
    with pytest.raises(libvirtError) as exc:
        load_node(_write(tmp_path, text))
    assert exc.value.err[:3] == err


def test_syntax_error_names_the_file(tmp_path: pathlib.Path) -> None:
    # libvirt 9.0: virsh -c test:///tmp/bad.xml gives exactly this shape
    path = _write(tmp_path, "<node>\n<cpu>\n</node>\n")
    with pytest.raises(libvirtError) as exc:
        load_node(path)
    message = f"{path}:3: Opening and ending tag mismatch: cpu line 2 and node\n</node>\n-------^"
    assert exc.value.err[:3] == (35, ErrorDomain.TEST, message)


def test_missing_files(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "nope.xml")
    with pytest.raises(libvirtError) as exc:
        load_node(missing)
    assert exc.value.err[:3] == (27, ErrorDomain.TEST,
                                 f"XML error: failed to parse xml document '{missing}'")
    path = _write(tmp_path, "<node><domain file='gone.xml'/></node>")
    with pytest.raises(libvirtError) as exc:
        load_node(path)
    assert exc.value.get_error_message() == \
        f"XML error: failed to parse xml document '{tmp_path / 'gone.xml'}'"


def test_included_file_root_must_match(tmp_path: pathlib.Path) -> None:
    _write(tmp_path, "<network><name>x</name></network>", "n.xml")
    path = _write(tmp_path, "<node><domain file='n.xml'/></node>")
    with pytest.raises(libvirtError) as exc:
        load_node(path)
    assert exc.value.err[:3] == (27, ErrorDomain.XML,
                                 "XML error: expecting root element of 'domain', not 'network'")


def test_absolute_and_relative_includes(tmp_path: pathlib.Path) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    vol = sub / "v.xml"
    vol.write_text("<volume><name>v</name><capacity>7</capacity></volume>")
    path = _write(tmp_path, f"<node><pool type='dir'><name>p</name><target><path>/p</path>"
                            f"</target><volume file='{vol}'/><volume file='sub/v.xml'/>"
                            "</pool></node>")
    n = load_node(path)
    assert [v.target_path for v in n.pools[0].volumes] == ["/p/v", "/p/v"]
    assert n.pools[0].pool.allocation == 14
