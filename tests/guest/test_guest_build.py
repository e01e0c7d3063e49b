"""Building the test guest: cache, idempotence, concurrency, errors, kernel helpers."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pyvirt.testing import READY_LINE, GuestBuildError, GuestImage, build_guest, guest
from pyvirt.testing._kernel import has_pvh_note, lz4_block_decompress, lz4_legacy_decompress

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ no qemu, no apt

def test_lz4_block_literals_and_overlapping_match() -> None:
    # "abc" as literals, then a match of length 7 at offset 3 (overlapping copy), then
    # a final literal-only sequence "Z"
    block = bytes([0x33]) + b"abc" + (3).to_bytes(2, "little") + bytes([0x10]) + b"Z"
    assert lz4_block_decompress(memoryview(block)) == b"abcabcabcaZ"


def test_lz4_block_long_lengths() -> None:
    lit = bytes(range(256)) * 2  # 512 literals: 15 + 255 + 242
    block = bytes([0xF0, 255, 242]) + lit
    assert lz4_block_decompress(memoryview(block)) == lit
    # match length 4 + 15 + 30 = 49 at offset 1: a run of one byte
    block = bytes([0x1F]) + b"x" + (1).to_bytes(2, "little") + bytes([30]) + bytes([0x10]) + b"y"
    assert lz4_block_decompress(memoryview(block)) == b"x" * 50 + b"y"


def test_lz4_legacy_frame_with_trailer() -> None:
    block = bytes([0x50]) + b"hello"
    frame = (0x184C2102).to_bytes(4, "little") + len(block).to_bytes(4, "little") + block
    frame += (5).to_bytes(4, "little")  # the kernel's appended output size
    assert lz4_legacy_decompress(frame) == b"hello"
    with pytest.raises(ValueError):
        lz4_legacy_decompress(b"nope")
    bad = bytes([0x10]) + b"a" + (9).to_bytes(2, "little")
    with pytest.raises(ValueError):
        lz4_block_decompress(memoryview(bad))


def test_missing_tool_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(guest._TOOLS, "pyvirt-no-such-tool", "pyvirt-no-such-package")
    with pytest.raises(GuestBuildError, match="pyvirt-no-such-tool.*pyvirt-no-such-package"):
        guest._check_tools()


def test_concurrent_builders_build_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Lock + atomic rename: many builders, one build, everyone gets the same result."""
    pkgs = guest._Packages("linux-image-0-cloud-amd64", "1", "1:1")
    monkeypatch.setattr(guest, "_resolve", lambda cache_dir: pkgs)
    monkeypatch.setattr(guest, "_check_tools", lambda: None)
    calls: list[int] = []

    def fake_build(p: guest._Packages, work: Path, out: Path) -> None:
        calls.append(1)
        out.mkdir()
        time.sleep(0.3)  # a slow build, so that the others really wait on the lock
        (out / "vmlinux").write_bytes(b"k")
        (out / "initrd.img").write_bytes(b"i")
        (out / "manifest.json").write_text(json.dumps({"kernel_file": "vmlinux",
                                                       "min_memory_mib": 64}))

    monkeypatch.setattr(guest, "_build", fake_build)
    results: list[GuestImage] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(build_guest(tmp_path))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(calls) == 1
    assert len({r.kernel for r in results}) == 1 and len(results) == 4
    assert results[0].kernel.read_bytes() == b"k"
    # no temp dirs left behind; exactly one build dir
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == [pkgs.key()]
    # force rebuilds in place
    build_guest(tmp_path, force=True)
    assert len(calls) == 2


def test_failed_build_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pkgs = guest._Packages("linux-image-0-cloud-amd64", "1", "1")
    monkeypatch.setattr(guest, "_resolve", lambda cache_dir: pkgs)
    monkeypatch.setattr(guest, "_check_tools", lambda: None)

    def broken(p: guest._Packages, work: Path, out: Path) -> None:
        out.mkdir()
        raise GuestBuildError("boom")

    monkeypatch.setattr(guest, "_build", broken)
    with pytest.raises(GuestBuildError, match="boom"):
        build_guest(tmp_path)
    assert [p for p in tmp_path.iterdir() if p.is_dir()] == []


def test_download_failure_updates_lists_and_resolves_again(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    old = guest._Packages("linux-image-0-cloud-amd64", "1", "1")
    new = guest._Packages("linux-image-0-cloud-amd64", "2", "1")
    resolved = iter([old, new])
    monkeypatch.setattr(guest, "_resolve", lambda cache_dir: next(resolved))
    monkeypatch.setattr(guest, "_check_tools", lambda: None)
    updates: list[int] = []
    monkeypatch.setattr(guest, "_apt_update", lambda: updates.append(1))

    def build(p: guest._Packages, work: Path, out: Path) -> None:
        if p == old:
            raise guest._DownloadFailed("404 Not Found")
        out.mkdir()
        for n in ("vmlinux", "initrd.img"):
            (out / n).write_bytes(b"x")
        (out / "manifest.json").write_text(json.dumps({"kernel_file": "vmlinux"}))

    monkeypatch.setattr(guest, "_build", build)
    image = build_guest(tmp_path)
    assert updates == [1]
    assert image.key == new.key()


# ------------------------------------------------------------------ the real build

@pytest.mark.slow
def test_build_is_cached_and_cheap(guest_image: GuestImage) -> None:
    assert guest_image.kernel.is_file() and guest_image.initrd.is_file()
    assert "console=ttyS0" in guest_image.cmdline
    assert guest_image.ready_line == READY_LINE
    mtime = guest_image.initrd.stat().st_mtime_ns
    t0 = time.perf_counter()
    again = build_guest(guest_image.kernel.parent.parent)
    assert time.perf_counter() - t0 < 1.0
    assert again == guest_image
    assert guest_image.initrd.stat().st_mtime_ns == mtime


@pytest.mark.slow
def test_built_kernel_is_pvh_elf(guest_image: GuestImage) -> None:
    if guest_image.kernel.name != "vmlinux":
        pytest.skip("this kernel could not be extracted for PVH boot; the bzImage is used")
    with open(guest_image.kernel, "rb") as f:
        head = f.read(64 << 20)
    assert has_pvh_note(head)
    assert guest_image.min_memory_mib == 64


@pytest.mark.slow
def test_initramfs_contents(guest_image: GuestImage) -> None:
    listing = subprocess.run(
        f"zcat {guest_image.initrd} | cpio -it --quiet", shell=True, check=True,
        capture_output=True, text=True).stdout.split()
    for path in ("init", "bin/busybox", "bin/sh", "sbin/acpid", "etc/inittab",
                 "etc/acpi/PWRF/00000080", "lib/modules/button.ko", "lib/modules/evdev.ko",
                 "lib/modules/virtio_pci.ko", "lib/modules/virtio_balloon.ko",
                 "bin/pyvirt-counter"):
        assert path in listing, path


@pytest.mark.slow
def test_cli_build_json(guest_image: GuestImage) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "pyvirt.testing.guest", "build", "--json",
         "--cache", str(guest_image.kernel.parent.parent)],
        check=True, capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(out.stdout)
    assert data["kernel"] == str(guest_image.kernel)
    assert data["cmdline"] == guest_image.cmdline
    assert "Warning" not in out.stderr


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_fresh_build_is_reproducible(guest_image: GuestImage, tmp_path: Path) -> None:
    """A build from scratch (apt-get download, dpkg-deb, cpio) gives the same bytes."""
    fresh = build_guest(tmp_path)
    assert fresh.key == guest_image.key
    assert fresh.initrd.read_bytes() == guest_image.initrd.read_bytes()
    assert fresh.kernel.stat().st_size == guest_image.kernel.stat().st_size
