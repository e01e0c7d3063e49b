"""Fixtures for interop tests: the real clients (virsh, libvirt-python) and daemons."""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .peers import LibvirtdProcess, PyvirtdProcess, free_port, libvirtd_available
from .pki import make_pki, server_config

TLS_CLIENTS = {"virsh": "/C=GB/O=pyvirt tests/CN=client-virsh"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def virsh() -> str:
    path = shutil.which("virsh")
    if path is None:
        pytest.skip("virsh (libvirt-clients) is not installed")
    return path


@pytest.fixture(scope="session")
def lv() -> object:
    return pytest.importorskip("libvirt", reason="libvirt-python (python3-libvirt) is missing")


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pki(tmp_path_factory.mktemp("pki"), TLS_CLIENTS)


@pytest.fixture(scope="module")
def pyvirtd(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[PyvirtdProcess]:
    """pyvirtd on unix sockets, loopback TCP and TLS (test driver, and qemu when present)."""
    conf = server_config(pki, ["C=GB,O=pyvirt tests,CN=client-*"])
    with PyvirtdProcess(tmp_path_factory.mktemp("pyvirtd"), config=conf,
                        tls_port=free_port()) as d:
        yield d


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LibvirtdProcess]:
    """The real libvirtd, private: own mount namespace, own state, loopback TCP."""
    why = libvirtd_available()
    if why:
        pytest.skip(why)
    with LibvirtdProcess(tmp_path_factory.mktemp("libvirtd")) as d:
        yield d
