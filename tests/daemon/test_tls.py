"""pyvirtd over TLS: x509 server, verified client certificates, the DN allow-list."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
from pyvirt.constants import ErrorNumber
from tests.interop.peers import PyvirtdProcess, free_port
from tests.interop.pki import client_dir, make_pki, server_config

CLIENTS = {"alice": "/C=GB/O=pyvirt tests/CN=client-alice",
           "mallory": "/C=GB/O=elsewhere/CN=client-mallory",
           "rogue": "/C=GB/O=pyvirt tests/CN=client-rogue"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), CLIENTS)


@pytest.fixture(scope="module")
def tls_daemon(pki: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PyvirtdProcess]:
    conf = server_config(pki, ["C=GB,O=pyvirt tests,CN=client-*"])
    with PyvirtdProcess(tmp_path_factory.mktemp("tlsd"), config=conf,
                        tls_port=free_port()) as d:
        yield d


def _uri(d: PyvirtdProcess, pki: Path, who: str, extra: str = "") -> str:
    return f"test+tls://127.0.0.1:{d.tls_port}/default?pkipath={client_dir(pki, who)}{extra}"


def test_allowed_client(tls_daemon: PyvirtdProcess, pki: Path) -> None:
    with pyvirt.connect(_uri(tls_daemon, pki, "alice")) as c:
        assert c.lookup_domain_by_name("test").info().nr_virt_cpu == 2
        assert c.is_secure() and c.is_encrypted()
    assert "DN 'C=GB,O=pyvirt tests,CN=client-alice' allowed" in tls_daemon.log.read_text()


def test_dn_not_on_the_list_is_refused(tls_daemon: PyvirtdProcess, pki: Path) -> None:
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect(_uri(tls_daemon, pki, "mallory")).get_type()
    assert exc.value.code in (ErrorNumber.RPC, ErrorNumber.AUTH_FAILED, ErrorNumber.SYSTEM_ERROR)
    assert "is not on the list of allowed clients" in tls_daemon.log.read_text()


def test_certificate_from_another_ca_is_refused(tls_daemon: PyvirtdProcess, pki: Path) -> None:
    with pytest.raises(pyvirt.libvirtError):
        pyvirt.connect(_uri(tls_daemon, pki, "rogue")).get_type()
    # the alert reaches the client as the daemon fails the handshake, before it logs
    deadline = time.monotonic() + 10
    while "TLS handshake failed" not in tls_daemon.log.read_text():
        assert time.monotonic() < deadline, "the daemon did not log the failed handshake"
        time.sleep(0.05)


def test_client_without_certificate_is_refused(tls_daemon: PyvirtdProcess, pki: Path) -> None:
    import socket
    import ssl
    ctx = ssl.create_default_context(cafile=str(pki / "cacert.pem"))
    with socket.create_connection(("127.0.0.1", tls_daemon.tls_port or 0)) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                s.sendall(bytes.fromhex("0000001c200080860000000100000042"
                                        "000000000000000000000000"))
                if not s.recv(100):
                    raise OSError("closed")


def test_client_verifies_the_server(tls_daemon: PyvirtdProcess, pki: Path) -> None:
    # a client that trusts another CA refuses the server, unless no_verify=1 (libvirt's)
    import shutil
    d = client_dir(pki, "alice").parent / "client-alice-otherca"
    shutil.copytree(client_dir(pki, "alice"), d, dirs_exist_ok=True)
    shutil.copy(pki / "roguecacert.pem", d / "cacert.pem")
    bad = f"test+tls://127.0.0.1:{tls_daemon.tls_port}/default?pkipath={d}"
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect(bad)
    assert "certificate verify failed" in exc.value.message
    with pyvirt.connect(bad + "&no_verify=1") as c:
        assert c.get_type() == "TEST"


def test_missing_client_files_are_named(tls_daemon: PyvirtdProcess, tmp_path: Path) -> None:
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect(f"test+tls://127.0.0.1:{tls_daemon.tls_port}/default?pkipath={tmp_path}")
    assert "cacert.pem" in exc.value.message


def test_tls_listener_needs_its_files(tmp_path: Path) -> None:
    d = PyvirtdProcess(tmp_path, tls_port=free_port())
    with pytest.raises(RuntimeError, match="cert_file .* does not exist"):
        d.start()
