"""pyvirtd's settings: the libvirtd.conf syntax, checks, and the command line's rules."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from pyvirt.daemon.config import Config, ConfigError, is_loopback, parse, parse_hostport
from pyvirt.daemon.main import build_config, main


def test_defaults_are_libvirtds() -> None:
    c = Config(root=Path("/r"))
    assert (c.max_workers, c.min_workers, c.max_client_requests) == (20, 5, 5)
    assert (c.keepalive_interval, c.keepalive_count, c.tcp_port) == (5, 5, "16509")
    assert c.rw_socket == Path("/r/run/libvirt-sock")
    assert c.ro_socket == Path("/r/run/libvirt-sock-ro")
    assert c.pki("ca_file") == "/r/pki/cacert.pem"


def test_parse_values_lists_and_comments() -> None:
    c = parse('''
# a comment
listen_tcp = 1
listen_addr = "127.0.0.1"   # trailing comment
tcp_port = "16600"
max_workers = 7
tls_allowed_dn_list = ["C=GB,O=Example,CN=*",
                       "CN=#not a comment"]
''')
    assert c.listen_tcp is True and c.listen_addr == "127.0.0.1" and c.tcp_port == "16600"
    assert c.max_workers == 7
    assert c.tls_allowed_dn_list == ["C=GB,O=Example,CN=*", "CN=#not a comment"]


@pytest.mark.parametrize("text, words", [
    ("nonsense = 1", "unknown setting 'nonsense'"),
    ("max_workers = \"many\"", "must be a number"),
    ("listen_tcp = 2", "must be 0 or 1"),
    ("listen_addr = 5", "must be a \"string\""),
    ("tls_allowed_dn_list = \"x\"", "must be a [list]"),
    ("max_workers 5", "expected 'name = value'"),
    ("max_workers = 5 6", "unexpected text"),
    ("root = \"/etc\"", "unknown setting 'root'"),
])
def test_parse_errors_name_the_line(text: str, words: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse("\n" + text, source="f.conf")
    assert "f.conf:2" in str(exc.value) and words in str(exc.value)


@pytest.mark.parametrize("text, words", [
    ("min_workers = 30", "min_workers <= max_workers"),
    ("auth_tcp = \"sasl\"", "auth_tcp"),
    ("unix_sock_rw_perms = \"rwx\"", "octal"),
    ("tcp_port = \"99999\"", "not a port"),
    ("max_message_size = 10", "max_message_size"),
])
def test_check_refuses_unusable_settings(text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse(text).check()


def test_hostport_and_loopback() -> None:
    assert parse_hostport("127.0.0.1:5", "x") == ("127.0.0.1", 5)
    assert parse_hostport("[::1]:16509", "x") == ("::1", 16509)
    with pytest.raises(ConfigError):
        parse_hostport("127.0.0.1", "x")
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("8.8.8.8")


def _args(root: Path, **kw: object) -> argparse.Namespace:
    base = dict(root=str(root), listen=None, tls_listen=None, config=None, timeout=None,
                verbose=False, foreground=True)
    base.update(kw)
    return argparse.Namespace(**base)


def test_command_line_listens_on_loopback_only(tmp_path: Path) -> None:
    cfg, tcp, tls = build_config(_args(tmp_path, listen="127.0.0.1:0"))
    assert tcp == ("127.0.0.1", 0) and tls is None and cfg.root == tmp_path.resolve()
    with pytest.raises(ConfigError, match="not a loopback address"):
        build_config(_args(tmp_path, listen="8.8.8.8:16509"))
    # a non-loopback address is allowed when the config file configures it
    conf = tmp_path / "d.conf"
    conf.write_text('listen_addr = "8.8.8.8"\n')
    _, tcp, _ = build_config(_args(tmp_path, listen="8.8.8.8:16509", config=str(conf)))
    assert tcp == ("8.8.8.8", 16509)


def test_main_reports_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "bad.conf"
    conf.write_text("max_workers = 0\n")
    assert main(["--root", str(tmp_path), "--config", str(conf), "--foreground"]) == 1
    assert "min_workers <= max_workers" in capsys.readouterr().err
    assert main(["--root", str(tmp_path), "--config", str(tmp_path / "none"),
                 "--foreground"]) == 1
    assert "cannot read config file" in capsys.readouterr().err
