"""Volume upload/download over streams: pyvirt's remote driver against the real libvirtd.

The private libvirtd's storage driver serves a dir pool under the test's temp dir;
pyvirt (Pythonic, libvirt-python names, pyvirsh) writes a file's bytes into a volume
and reads them back over libvirt's stream packets (STORAGE_VOL_UPLOAD 208 and
DOWNLOAD 209). pyvirtd's test driver, like libvirt's, has no volume transfers: the
error comes back over the wire unchanged.
"""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import pyvirt
import pyvirt.libvirt as lv
from pyvirt.constants import ErrorDomain, ErrorNumber

from .peers import LibvirtdProcess, PyvirtdProcess

pytestmark = pytest.mark.interop

SIZE = 1 << 20
DATA = os.urandom(300_000)        # more than one stream packet (262120 bytes)


@pytest.fixture
def volume(libvirtd: LibvirtdProcess, tmp_path: Path) -> Iterator[tuple[str, pyvirt.StorageVol]]:
    """A 1 MiB raw volume in a dir pool of the real libvirtd; (URI, volume)."""
    uri = libvirtd.uri("qemu", "/system")
    conn = pyvirt.connect(uri)
    pooldir = tmp_path / "pool"
    pooldir.mkdir()
    name = f"xfer-{os.getpid()}"
    pool = conn.create_storage_pool(
        f"<pool type='dir'><name>{name}</name><target><path>{pooldir}</path></target></pool>")
    try:
        vol = pool.create_volume(
            f"<volume><name>v.img</name><capacity>{SIZE}</capacity>"
            "<target><format type='raw'/></target></volume>")
        yield uri, vol
    finally:
        pool.destroy()
        conn.close()


def test_pythonic_upload_then_libvirt_python_download(
        volume: tuple[str, pyvirt.StorageVol], tmp_path: Path) -> None:
    uri, vol = volume
    st = vol.upload(4096, len(DATA))
    st.sendall(DATA)
    st.finish()
    assert (Path(vol.path()).read_bytes()[4096:4096 + len(DATA)]) == DATA

    conn = lv.open(uri)
    try:
        v = conn.storageVolLookupByKey(vol.key)
        st2 = conn.newStream(0)
        v.download(st2, 4096, len(DATA), 0)
        got: list[bytes] = []
        st2.recvAll(lambda s, data, opaque: opaque.append(data) or len(data), got)
        st2.finish()
    finally:
        conn.close()
    assert b"".join(got) == DATA


def test_pyvirsh_vol_upload_and_download(volume: tuple[str, pyvirt.StorageVol],
                                         tmp_path: Path) -> None:
    uri, vol = volume
    src, dst = tmp_path / "src.bin", tmp_path / "dst.bin"
    src.write_bytes(DATA)
    p = subprocess.run([sys.executable, "-m", "pyvirt.cli", "-c", uri,
                        f"vol-upload {vol.key} {src}; "
                        f"vol-download {vol.key} {dst} --length {len(DATA)}"],
                       capture_output=True, text=True, timeout=60, check=False)
    assert p.returncode == 0, p.stderr
    assert dst.read_bytes() == DATA


def test_test_driver_has_no_volume_transfers_over_the_wire(pyvirtd: PyvirtdProcess) -> None:
    with pyvirt.connect(pyvirtd.uri("test", "/default")) as conn:
        pool = conn.lookup_storage_pool_by_name("default-pool")
        vol = pool.create_volume("<volume><name>nx.img</name><capacity>1024</capacity></volume>")
        try:
            for op in (vol.upload, vol.download):
                with pytest.raises(pyvirt.libvirtError) as e:
                    op()
                assert (e.value.get_error_code(), e.value.get_error_domain()) == (
                    ErrorNumber.NO_SUPPORT, ErrorDomain.STORAGE)
        finally:
            vol.delete()


def test_pyvirsh_refuses_sparse_transfers_up_front(volume: tuple[str, pyvirt.StorageVol],
                                                    tmp_path: Path) -> None:
    # holes (STREAM_HOLE) are not handled yet: --sparse is refused before anything opens,
    # rather than failing at libvirtd's first hole with a half-written file
    uri, vol = volume
    dst = tmp_path / "dst.bin"
    for cmd in (f"vol-download {vol.key} {dst} --sparse", f"vol-upload {vol.key} {dst} --sparse"):
        p = subprocess.run([sys.executable, "-m", "pyvirt.cli", "-c", uri, cmd],
                           capture_output=True, text=True, timeout=60, check=False)
        assert p.returncode == 1
        assert "error: sparse streams are not supported" in p.stderr
        assert not dst.exists()
