"""Connection URIs: libvirt's grammar, the parts, and clear errors for bad ones."""
from __future__ import annotations

import pytest

import pyvirt
from pyvirt.uri import default_uri, parse


@pytest.mark.parametrize("text, parts", [
    ("test:///default", ("test", None, None, None, None, "/default")),
    ("qemu:///embed?root=/srv/vms", ("qemu", None, None, None, None, "/embed")),
    ("qemu+tcp://127.0.0.1:16509/system", ("qemu", "tcp", None, "127.0.0.1", 16509, "/system")),
    ("qemu+ssh://me@host.example/system", ("qemu", "ssh", "me", "host.example", None, "/system")),
    ("qemu+tcp://[::1]:1/system", ("qemu", "tcp", None, "::1", 1, "/system")),
    ("remote+tls://h/", ("remote", "tls", None, "h", None, "/")),
    ("test+unix:///default?socket=/run/x.sock", ("test", "unix", None, None, None, "/default")),
    ("QEMU:///system", ("qemu", None, None, None, None, "/system")),
])
def test_parts(text: str, parts: tuple[object, ...]) -> None:
    u = parse(text)
    assert (u.driver, u.transport, u.user, u.host, u.port, u.path) == parts
    assert str(u) == text


def test_params_and_server_uri() -> None:
    u = parse("qemu+unix:///system?socket=/run/x.sock&mode=direct&foo=bar%20baz")
    assert u.param("socket") == "/run/x.sock"
    assert u.param("foo") == "bar baz"
    assert u.param("nope", "d") == "d"
    # the name a remote client sends in CONNECT_OPEN drops transport, host and
    # client-only parameters (rpc-protocol.md 3.1)
    assert u.server_uri() == "qemu:///system?foo=bar%20baz"
    assert parse("test+tcp://h:5/default").server_uri() == "test:///default"
    assert parse("remote+tcp://h/").server_uri() == ""


def test_remote_detection() -> None:
    assert parse("qemu+tcp://h/system").is_remote
    assert parse("qemu://h/system").is_remote
    assert not parse("qemu:///system").is_remote


@pytest.mark.parametrize("bad, why", [
    ("", "empty"),
    ("qemu", "expected driver"),
    ("qemu+bogus:///system", "unknown transport 'bogus'"),
    ("qemu+tcp://h:70000/system", "port 70000 out of range"),
    ("qemu:///sys tem", "whitespace"),
    ("test:///default?=x", "malformed query parameter"),
])
def test_malformed_uris_say_why(bad: str, why: str) -> None:
    with pytest.raises(pyvirt.libvirtError) as e:
        parse(bad)
    assert e.value.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG
    assert e.value.get_error_domain() == pyvirt.VIR_FROM_URI
    assert why in str(e.value)


def test_unknown_driver_is_no_connect() -> None:
    with pytest.raises(pyvirt.libvirtError) as e:
        pyvirt.open("bogus:///x")
    assert e.value.get_error_code() == pyvirt.VIR_ERR_NO_CONNECT
    assert "bogus:///x" in str(e.value) and "known drivers" in str(e.value)


def test_test_driver_needs_a_path() -> None:
    with pytest.raises(pyvirt.libvirtError) as e:
        pyvirt.open("test://")
    assert e.value.get_error_code() == pyvirt.VIR_ERR_INVALID_ARG
    assert str(e.value) == "invalid argument: testOpen: supply a path or use test:///default"


def test_default_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    assert default_uri() == "test:///default"
    with pyvirt.connect() as c:
        assert c.get_uri() == "test:///default"
    monkeypatch.delenv("LIBVIRT_DEFAULT_URI")
    monkeypatch.setenv("PYVIRT_ROOT", "/srv/pyvirt")
    assert default_uri() == "qemu:///embed?root=/srv/pyvirt"
