"""The real test guest: a Debian kernel plus a busybox initramfs, built on demand.

    python -m pyvirt.testing.guest build [--cache DIR] [--force] [--json]
    python -m pyvirt.testing.guest check [--cache DIR] [--memory MIB]   # boot it once, report
    python -m pyvirt.testing.guest boot  [--cache DIR] [--memory MIB]   # serial on this terminal

What gets built (nothing is installed on the host; everything lands in the cache dir):
- the kernel from Debian's linux-image-*-cloud-amd64 package (the version the
  `linux-image-cloud-amd64` meta package points at), fetched with `apt-get download`
  and unpacked with `dpkg-deb -x`; the plain vmlinux ELF is taken out of its bzImage
  (see _kernel.py) so QEMU boots it through the PVH entry: faster under TCG, and it
  fits a 64 MiB guest, which the bzImage's decompressor does not;
- an initramfs (cpio newc, gzip) holding busybox from busybox-static, its applet
  symlinks, the kernel modules `button`, `evdev`, `virtio_pci` and `virtio_balloon`
  (+ their dependencies) and a few scripts. busybox init runs /etc/rc.sysinit (mounts, insmod, acpid), then a counter
  and a login shell on the serial console.

What the guest prints on its console (ttyS0, `console=ttyS0`):
- `PYVIRT-GUEST-READY` once per boot, printed by the console shell just before its
  first prompt; by then the modules are loaded, acpid listens to the power button and
  the counter runs, so QMP `system_powerdown` and typed commands both work;
- `PYVIRT-COUNTER <n>` about every 0.2 s, n = 0, 1, 2, ... since boot (memory
  continuity across save/restore: after a restore n continues);
  `pyvirt.counter=0` on the kernel command line turns it off;
- `PYVIRT-GUEST-POWEROFF` when the ACPI power button was pressed, right before
  `poweroff -f` (QEMU then emits SHUTDOWN and exits unless run with -no-shutdown);
- the shell prompt `pyvirt-guest# `.
`reboot` (typed) or QMP `system_reset` reboot the guest; it prints the ready line again.

The cache holds one directory per build key (package versions + a hash of the guest's
scripts), finished in a temp directory and renamed into place under a lock file, so
concurrent builders are safe and a second build is a few stat() calls.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import fcntl
import gzip
import hashlib
import io
import json
import logging
import lzma
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from ._kernel import extract_vmlinux

__all__ = [
    "COUNTER_PREFIX",
    "COUNTER_RE",
    "DEFAULT_CMDLINE",
    "POWEROFF_LINE",
    "READY_LINE",
    "SHELL_PROMPT",
    "GuestBuildError",
    "GuestImage",
    "build_guest",
    "default_cache_dir",
    "main",
]

log = logging.getLogger(__name__)

READY_LINE = "PYVIRT-GUEST-READY"
COUNTER_PREFIX = "PYVIRT-COUNTER "
COUNTER_RE = re.compile(r"PYVIRT-COUNTER (\d+)")
POWEROFF_LINE = "PYVIRT-GUEST-POWEROFF"
SHELL_PROMPT = "pyvirt-guest# "

# quiet: no boot log on the console; panic=-1: reboot at once on a panic instead of
# hanging; lockdown=confidentiality: the kernel then skips creating tracefs, whose
# ~10000 event inodes cost ~9 MiB and ~0.3 s under TCG (what lets the guest fit in
# 64 MiB); the rest trims probing that costs time under TCG (measured, see
# tests/guest/README.md).
DEFAULT_CMDLINE = (
    "console=ttyS0 quiet panic=-1 lockdown=confidentiality i8042.noaux i8042.nopnp "
    "8250.nr_uarts=1 cryptomgr.notests no_timer_check tsc=reliable"
)

KERNEL_META_PACKAGE = "linux-image-cloud-amd64"
BUSYBOX_PACKAGE = "busybox-static"
# button + evdev: the ACPI power button; virtio_pci + virtio_balloon: a balloon the guest
# really inflates (virDomainSetMemory's live path; idle without a <memballoon> device)
GUEST_MODULES = ("button", "evdev", "virtio_pci", "virtio_balloon")
ARCH = "amd64"
_PVH_MIN_MEMORY_MIB = 64
_BZIMAGE_MIN_MEMORY_MIB = 128

# Bump when the build procedure changes in a way the script hash below does not see.
_BUILD_FORMAT = 2

# Host tools the build needs: tool -> Debian package that provides it.
_TOOLS = {
    "apt-get": "apt",
    "apt-cache": "apt",
    "dpkg-deb": "dpkg",
    "cpio": "cpio",
}


class GuestBuildError(RuntimeError):
    """The test guest could not be built; the message says what to do about it."""


class _DownloadFailed(GuestBuildError):
    """apt-get download failed: the package lists may be stale (apt-get update helps)."""


@dataclasses.dataclass(frozen=True)
class GuestImage:
    """A built test guest: boot it with `-kernel kernel -initrd initrd -append cmdline`."""

    kernel: Path
    initrd: Path
    cmdline: str
    ready_line: str = READY_LINE
    counter_prefix: str = COUNTER_PREFIX
    poweroff_line: str = POWEROFF_LINE
    shell_prompt: str = SHELL_PROMPT
    key: str = ""
    # smallest -m (MiB) it boots with: 64 for the PVH ELF kernel; a bzImage needs its
    # decompressor's init_size above 16 MiB (51 MiB for Debian's 6.1 cloud kernel)
    min_memory_mib: int = 64

    def qemu_args(self, extra_cmdline: str = "") -> list[str]:
        """The qemu-system-x86_64 arguments that boot this guest."""
        cmdline = f"{self.cmdline} {extra_cmdline}".strip()
        return ["-kernel", str(self.kernel), "-initrd", str(self.initrd), "-append", cmdline]


def default_cache_dir() -> Path:
    env = os.environ.get("PYVIRT_GUEST_CACHE")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "pyvirt" / "guest"


# --------------------------------------------------------------------------- guest files

_INITTAB = """\
# pyvirt test guest: busybox init
::sysinit:/etc/rc.sysinit
::respawn:/bin/pyvirt-counter
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
::restart:/sbin/init
"""

# {insmod} is replaced with one insmod line per module, dependencies first.
_RC_SYSINIT = """\
#!/bin/sh
# pyvirt test guest: early boot, run once by busybox init before anything else.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
hostname pyvirt-guest
{insmod}
# acpid scans /dev/input/event* once at start and writes its pid file after opening
# them: wait for the pid file so a power-button press right after READY is not lost.
acpid -c /etc/acpi -l /dev/null -p /run/acpid.pid
i=0
while [ ! -s /run/acpid.pid ] && [ $i -lt 250 ]; do usleep 20000; i=$((i+1)); done
[ -s /run/acpid.pid ] || echo "pyvirt-guest: acpid did not start" >/dev/console
exit 0
"""

_PROFILE = """\
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export HOME=/root
export PS1='{prompt}'
cd /root
# Printed by the console shell itself, once per boot, so that whoever waits for it
# knows that the shell reads its input from now on.
if [ ! -e /run/pyvirt-ready ]; then
    : >/run/pyvirt-ready
    echo {ready}
fi
"""

_COUNTER = """\
#!/bin/sh
# pyvirt test guest: prints an increasing number on the console about every 0.2 s.
case " $(cat /proc/cmdline) " in
*" pyvirt.counter=0 "*|*" pyvirt.counter=off "*) exec sleep 2147483647 ;;
esac
n=0
while :; do
    echo "{prefix}$n"
    n=$((n+1))
    usleep 200000
done
"""

# busybox acpid maps the power button (KEY_POWER from the ACPI button device, read
# through evdev) to the action "PWRF/00000080" and runs <confdir>/PWRF/00000080.
_POWER_BUTTON = """\
#!/bin/sh
echo {poweroff} >/dev/console
sync
exec poweroff -f
"""

_PASSWD = "root:x:0:0:root:/root:/bin/sh\n"
_GROUP = "root:x:0:\n"


def _guest_files(insmod_lines: Sequence[str]) -> dict[str, tuple[str, int]]:
    """Path in the initramfs -> (content, mode) of every text file the guest carries."""
    return {
        "etc/inittab": (_INITTAB, 0o644),
        "etc/rc.sysinit": (_RC_SYSINIT.format(insmod="\n".join(insmod_lines)), 0o755),
        "etc/profile": (_PROFILE.format(prompt=SHELL_PROMPT, ready=READY_LINE), 0o644),
        "etc/passwd": (_PASSWD, 0o644),
        "etc/group": (_GROUP, 0o644),
        "etc/hostname": ("pyvirt-guest\n", 0o644),
        "etc/acpi/PWRF/00000080": (_POWER_BUTTON.format(poweroff=POWEROFF_LINE), 0o755),
        "bin/pyvirt-counter": (_COUNTER.format(prefix=COUNTER_PREFIX), 0o755),
    }


def _recipe_hash() -> str:
    """Changes whenever what we put into the initramfs changes."""
    h = hashlib.sha256()
    h.update(f"format={_BUILD_FORMAT};modules={','.join(GUEST_MODULES)}".encode())
    for name, (text, mode) in sorted(_guest_files(["insmod"]).items()):
        h.update(f"\0{name}\0{mode:o}\0{text}".encode())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- host tools


def _which(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        # sbin is often missing from PATH for non-root users
        for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
            cand = Path(d) / tool
            if cand.is_file() and os.access(cand, os.X_OK):
                return str(cand)
        pkg = _TOOLS.get(tool, tool)
        raise GuestBuildError(
            f"building the pyvirt test guest needs '{tool}', which is not installed: "
            f"install the Debian package '{pkg}' (apt-get install {pkg})"
        )
    return path


def _check_tools() -> None:
    for tool in _TOOLS:
        _which(tool)


def _run(argv: Sequence[str], *, cwd: Path | None = None, what: str = "") -> str:
    try:
        proc = subprocess.run(
            list(argv), cwd=cwd, capture_output=True, text=True, check=False,
            env={**os.environ, "LC_ALL": "C"},
        )
    except OSError as exc:
        raise GuestBuildError(f"{what or argv[0]}: cannot run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()
        raise GuestBuildError(
            f"{what or 'command'} failed (exit {proc.returncode}): {' '.join(argv)}\n{detail}"
        )
    return proc.stdout


def _apt_update() -> None:
    if os.geteuid() != 0:
        raise GuestBuildError(
            "the package lists do not know the test guest's packages and updating them "
            "needs root: run 'apt-get update' as root once"
        )
    log.info("running apt-get update")
    _run([_which("apt-get"), "update", "-q"], what="apt-get update")


# --------------------------------------------------------------------------- resolution


@dataclasses.dataclass(frozen=True)
class _Packages:
    kernel_package: str
    kernel_version: str
    busybox_version: str

    def key(self) -> str:
        raw = (
            f"{self.kernel_package}_{self.kernel_version}"
            f"__busybox_{self.busybox_version}__{_recipe_hash()}"
        )
        return re.sub(r"[^A-Za-z0-9.+_-]", "_", raw)


def _apt_state_signature() -> str:
    """Cheap fingerprint of what apt-cache would answer (lists + sources + prefs)."""
    h = hashlib.sha256(os.environ.get("APT_CONFIG", "").encode())
    for d in ("/var/lib/apt/lists", "/etc/apt/sources.list.d", "/etc/apt/preferences.d"):
        with contextlib.suppress(OSError):
            for entry in sorted(os.scandir(d), key=lambda e: e.name):
                if entry.is_file():
                    st = entry.stat()
                    h.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for f in ("/etc/apt/sources.list", "/etc/apt/preferences"):
        with contextlib.suppress(OSError):
            st = os.stat(f)
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _apt_show(package: str) -> dict[str, str]:
    """Fields of the candidate version of package, or {} if apt does not know it."""
    proc = subprocess.run(
        [_which("apt-cache"), "show", "--no-all-versions", f"{package}:{ARCH}"],
        capture_output=True, text=True, check=False, env={**os.environ, "LC_ALL": "C"},
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        return {}
    fields: dict[str, str] = {}
    last = ""
    for line in proc.stdout.splitlines():
        if not line.strip():
            break  # first record only
        if line[0].isspace() and last:
            fields[last] += "\n" + line.strip()
        elif ":" in line:
            last, _, value = line.partition(":")
            fields[last] = value.strip()
    return fields


def _resolve_from_apt() -> _Packages:
    meta = _apt_show(KERNEL_META_PACKAGE)
    busybox = _apt_show(BUSYBOX_PACKAGE)
    if not meta or not busybox:
        raise LookupError
    m = re.search(r"(linux-image-[0-9][^\s,(]*-cloud-amd64)\s*\(=\s*([^)\s]+)\)",
                  meta.get("Depends", ""))
    if not m:
        raise GuestBuildError(
            f"cannot find the kernel package in {KERNEL_META_PACKAGE}'s dependencies: "
            f"{meta.get('Depends', '')!r}"
        )
    return _Packages(m.group(1), m.group(2), busybox["Version"])


def _resolve(cache_dir: Path) -> _Packages:
    """The packages to build from, re-asking apt only when its package lists changed."""
    record = cache_dir / "resolved.json"
    sig = _apt_state_signature()
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        data = json.loads(record.read_text())
        if data["signature"] == sig:
            return _Packages(data["kernel_package"], data["kernel_version"],
                             data["busybox_version"])
    _which("apt-cache")
    try:
        pkgs = _resolve_from_apt()
    except LookupError:
        _apt_update()
        sig = _apt_state_signature()
        try:
            pkgs = _resolve_from_apt()
        except LookupError:
            raise GuestBuildError(
                f"apt does not know {KERNEL_META_PACKAGE} and {BUSYBOX_PACKAGE} for {ARCH}, "
                "even after apt-get update: this needs Debian 12 (bookworm) package sources "
                "with the main component"
            ) from None
    _atomic_write(record, json.dumps({"signature": sig, **dataclasses.asdict(pkgs)}, indent=1))
    return pkgs


# --------------------------------------------------------------------------- kernel modules


def _modinfo(data: bytes) -> dict[str, str]:
    """The .modinfo section of an ELF64 kernel module, as key -> value."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise GuestBuildError("not a little-endian ELF64 kernel module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(i: int) -> tuple[int, int, int]:
        name, _typ, _flags, _addr, off, size = struct.unpack_from(
            "<IIQQQQ", data, shoff + i * shentsize)
        return name, off, size

    _, stroff, _ = section(shstrndx)
    for i in range(shnum):
        name_off, off, size = section(i)
        end = data.index(b"\0", stroff + name_off)
        if data[stroff + name_off:end] == b".modinfo":
            info: dict[str, str] = {}
            for item in data[off:off + size].split(b"\0"):
                k, sep, v = item.decode("utf-8", "replace").partition("=")
                if sep:
                    info.setdefault(k, v)
            return info
    return {}


def _read_module(path: Path) -> bytes:
    name = path.name
    if name.endswith(".ko"):
        return path.read_bytes()
    if name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    if name.endswith(".ko.gz"):
        return gzip.decompress(path.read_bytes())
    if name.endswith(".ko.zst"):
        zstd = shutil.which("zstd")
        if zstd is None:
            raise GuestBuildError(
                f"{name} is zstd-compressed: install the Debian package 'zstd'")
        return subprocess.run([zstd, "-dcq", str(path)], capture_output=True,
                              check=True).stdout
    raise GuestBuildError(f"unknown kernel module format: {path}")


def _modname(filename: str) -> str:
    base = filename.split(".ko", 1)[0]
    return base.replace("-", "_")


def _module_load_order(moddir: Path, wanted: Sequence[str]) -> list[tuple[str, bytes]]:
    """(name, uncompressed .ko) for wanted modules and their dependencies, deps first."""
    files: dict[str, Path] = {}
    for root, _dirs, names in os.walk(moddir):
        for n in names:
            if ".ko" in n:
                files.setdefault(_modname(n), Path(root) / n)
    builtin: set[str] = set()
    with contextlib.suppress(OSError):
        for line in (moddir / "modules.builtin").read_text().splitlines():
            builtin.add(_modname(line.rsplit("/", 1)[-1]))

    order: list[tuple[str, bytes]] = []
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        name = name.replace("-", "_")
        if name in done:
            return
        if name in chain:
            raise GuestBuildError(f"kernel module dependency cycle: {' -> '.join(chain)}")
        if name not in files:
            if name in builtin:
                done.add(name)
                return
            raise GuestBuildError(f"kernel module {name!r} not found under {moddir}")
        data = _read_module(files[name])
        deps = [d for d in _modinfo(data).get("depends", "").split(",") if d]
        for dep in deps:
            visit(dep, (*chain, name))
        done.add(name)
        order.append((name, data))

    for w in wanted:
        visit(w, ())
    return order


# --------------------------------------------------------------------------- building


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            os.fchmod(fd, 0o644)
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _download(pkgs: _Packages, dest: Path) -> tuple[Path, Path]:
    argv = [_which("apt-get"), "download", "-q"]
    if os.geteuid() == 0:
        # apt drops to the _apt user for downloads, which cannot write into a private
        # cache under /root: download as root instead (same as apt's fallback, quieter).
        argv += ["-o", "APT::Sandbox::User=root"]
    argv += [f"{pkgs.kernel_package}:{ARCH}={pkgs.kernel_version}",
             f"{BUSYBOX_PACKAGE}:{ARCH}={pkgs.busybox_version}"]
    try:
        _run(argv, cwd=dest, what="apt-get download")
    except GuestBuildError as exc:
        raise _DownloadFailed(str(exc)) from None
    debs = {p.name.split("_", 1)[0]: p for p in dest.glob("*.deb")}
    try:
        return debs[pkgs.kernel_package], debs[BUSYBOX_PACKAGE]
    except KeyError as exc:
        raise GuestBuildError(f"apt-get download did not produce {exc.args[0]}.deb") from None


def _find_kernel(tree: Path) -> tuple[Path, Path, str]:
    """(vmlinuz, lib/modules/<version>, version) in an unpacked linux-image package."""
    for vmlinuz in sorted((tree / "boot").glob("vmlinuz-*")):
        kver = vmlinuz.name[len("vmlinuz-"):]
        for libdir in ("lib", "usr/lib"):
            moddir = tree / libdir / "modules" / kver
            if moddir.is_dir():
                return vmlinuz, moddir, kver
    raise GuestBuildError(f"no boot/vmlinuz-* with matching modules in {tree}")


def _busybox_applets(busybox: Path) -> list[str]:
    try:
        out = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True,
                             check=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise GuestBuildError(
            f"cannot run the guest's busybox ({busybox}) to list its applets: {exc}; "
            "the test guest is built on x86-64 hosts"
        ) from exc
    return [line.strip().lstrip("/") for line in out.splitlines() if line.strip()]


def _stage_root(root: Path, busybox: Path, modules: list[tuple[str, bytes]]) -> None:
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "run",
              "tmp", "root", "var/log", "lib/modules"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "root").chmod(0o700)
    os.symlink("../run", root / "var/run")
    shutil.copyfile(busybox, root / "bin/busybox")
    (root / "bin/busybox").chmod(0o755)
    for applet in _busybox_applets(root / "bin/busybox"):
        link = root / applet
        if applet in ("bin/busybox", "linuxrc") or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink("/bin/busybox", link)
    os.symlink("/bin/busybox", root / "init")  # busybox init, reads /etc/inittab

    insmod = []
    for name, data in modules:
        (root / "lib/modules" / f"{name}.ko").write_bytes(data)
        insmod.append(f"insmod /lib/modules/{name}.ko")
    for rel, (text, mode) in _guest_files(insmod).items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
        p.chmod(mode)


def _make_initramfs(root: Path, out: Path, mtime: int) -> None:
    paths: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel != ".":
            paths.append(rel)
        for n in sorted(filenames) + [d for d in dirnames if os.path.islink(
                os.path.join(dirpath, d))]:
            paths.append(os.path.normpath(os.path.join(rel, n)))
    paths.sort()
    for p in [*paths, "."]:
        os.utime(root / p, (mtime, mtime), follow_symlinks=False)
    proc = subprocess.run(
        [_which("cpio"), "--create", "--format=newc", "--null", "--quiet", "--reproducible",
         "--owner=0:0"],
        input=b"".join(p.encode() + b"\0" for p in paths), cwd=root,
        capture_output=True, check=False,
    )
    if proc.returncode != 0:
        raise GuestBuildError(f"cpio failed: {proc.stderr.decode(errors='replace')}")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=mtime) as gz:
        gz.write(proc.stdout)
    out.write_bytes(buf.getvalue())


def _build(pkgs: _Packages, work: Path, out: Path) -> None:
    dl = work / "download"
    dl.mkdir()
    kernel_deb, busybox_deb = _download(pkgs, dl)
    kx, bx = work / "kernel", work / "busybox"
    _run([_which("dpkg-deb"), "-x", str(kernel_deb), str(kx)], what="dpkg-deb -x")
    _run([_which("dpkg-deb"), "-x", str(busybox_deb), str(bx)], what="dpkg-deb -x")
    vmlinuz, moddir, kver = _find_kernel(kx)
    busybox = bx / "bin/busybox"
    if not busybox.is_file():
        raise GuestBuildError(f"{BUSYBOX_PACKAGE} has no bin/busybox")
    modules = _module_load_order(moddir, GUEST_MODULES)
    root = work / "root"
    root.mkdir()
    _stage_root(root, busybox, modules)
    out.mkdir()
    # a fixed timestamp keeps the initramfs byte-identical for the same inputs
    _make_initramfs(root, out / "initrd.img", mtime=int(vmlinuz.stat().st_mtime))
    elf = extract_vmlinux(vmlinuz.read_bytes())
    if elf is not None:
        kernel_file, min_mem = "vmlinux", _PVH_MIN_MEMORY_MIB
        (out / kernel_file).write_bytes(elf)
    else:
        log.warning("cannot extract a PVH-bootable vmlinux from %s; using the bzImage "
                    "(needs %d MiB of guest RAM)", vmlinuz.name, _BZIMAGE_MIN_MEMORY_MIB)
        kernel_file, min_mem = "vmlinuz", _BZIMAGE_MIN_MEMORY_MIB
        shutil.copyfile(vmlinuz, out / kernel_file)
    manifest = {
        **dataclasses.asdict(pkgs),
        "kernel_file": kernel_file,
        "min_memory_mib": min_mem,
        "kernel_release": kver,
        "modules": [name for name, _ in modules],
        "recipe": _recipe_hash(),
        "ready_line": READY_LINE,
        "counter_prefix": COUNTER_PREFIX,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


def _manifest(build_dir: Path) -> dict[str, object] | None:
    try:
        data = json.loads((build_dir / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("kernel_file"), str):
        return None
    return data


def _image(build_dir: Path) -> GuestImage:
    manifest = _manifest(build_dir)
    assert manifest is not None
    return GuestImage(
        kernel=build_dir / str(manifest["kernel_file"]),
        initrd=build_dir / "initrd.img",
        cmdline=DEFAULT_CMDLINE,
        key=build_dir.name,
        min_memory_mib=int(str(manifest.get("min_memory_mib", _BZIMAGE_MIN_MEMORY_MIB))),
    )


def _complete(build_dir: Path) -> bool:
    manifest = _manifest(build_dir)
    return (manifest is not None and (build_dir / str(manifest["kernel_file"])).is_file()
            and (build_dir / "initrd.img").is_file())


def _latest_existing(cache_dir: Path) -> Path | None:
    """The newest complete build of the current recipe, for hosts without apt."""
    suffix = f"__{_recipe_hash()}"
    found = [p for p in cache_dir.glob(f"*{suffix}") if _complete(p)]
    if not found:
        return None
    return max(found, key=lambda p: (p / "manifest.json").stat().st_mtime)


def build_guest(cache_dir: Path | None = None, *, force: bool = False) -> GuestImage:
    """Build the test guest if needed and return it.

    Cheap when it is already built: the package versions are re-resolved with apt only
    when apt's package lists changed. Safe to call from several processes at once.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir = cache_dir.expanduser().absolute()
    cache_dir.mkdir(parents=True, exist_ok=True)
    try:
        pkgs = _resolve(cache_dir)
    except GuestBuildError:
        existing = _latest_existing(cache_dir)
        if existing is None or force:
            raise
        log.warning("cannot resolve the guest's packages with apt; using %s", existing)
        return _image(existing)
    final = cache_dir / pkgs.key()
    if _complete(final) and not force:
        return _image(final)
    with _locked(cache_dir / ".build.lock"):
        if _complete(final) and not force:  # built by someone else while we waited
            return _image(final)
        _check_tools()
        try:
            _build_into(cache_dir, pkgs, final)
        except _DownloadFailed as exc:
            # stale lists name versions the mirror no longer has: update once, resolve
            # again (the versions, hence the key, may change) and retry
            log.info("apt-get download failed, updating the package lists once: %s", exc)
            _apt_update()
            pkgs = _resolve(cache_dir)
            final = cache_dir / pkgs.key()
            if force or not _complete(final):
                _build_into(cache_dir, pkgs, final)
        _prune(cache_dir, keep=final)
    return _image(final)


def _build_into(cache_dir: Path, pkgs: _Packages, final: Path) -> None:
    """Build in a temp dir next to final and rename it into place (under the lock)."""
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        t0 = time.monotonic()
        _build(pkgs, work, work / "out")
        if final.exists():  # --force: move the old one out of the way, removed below
            os.rename(final, work / "old")
        os.rename(work / "out", final)
        log.info("built the test guest %s in %.1f s", final, time.monotonic() - t0)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _prune(cache_dir: Path, keep: Path) -> None:
    """Drop builds of older package versions (same recipe) and temp dirs of crashed
    builders; called under the build lock. Builds of other recipes (other checkouts of
    this code) are left alone."""
    suffix = f"__{_recipe_hash()}"
    now = time.time()
    for p in cache_dir.iterdir():
        with contextlib.suppress(OSError):
            if not p.is_dir() or p.is_symlink() or p == keep:
                continue
            stale_tmp = p.name.startswith(".build-") and now - p.stat().st_mtime > 3600
            if stale_tmp or p.name.endswith(suffix):
                log.info("removing %s", p)
                shutil.rmtree(p, ignore_errors=True)


# --------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pyvirt.testing.guest",
                                     description="pyvirt's real test guest")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_build = sub.add_parser("build", help="build the guest (cached) and print its paths")
    p_check = sub.add_parser("check", help="build, boot under TCG once and report timings")
    p_boot = sub.add_parser("boot", help="boot it with the serial console on this terminal")
    for p in (p_build, p_check, p_boot):
        p.add_argument("--cache", type=Path, default=None,
                       help="cache directory (default $PYVIRT_GUEST_CACHE or "
                            "~/.cache/pyvirt/guest)")
    p_build.add_argument("--force", action="store_true", help="rebuild even if cached")
    p_build.add_argument("--json", action="store_true", help="print the result as JSON")
    for p in (p_check, p_boot):
        p.add_argument("--memory", type=int, default=128, help="guest RAM in MiB")
        p.add_argument("--append", default="", help="extra kernel command line")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    try:
        image = build_guest(args.cache, force=getattr(args, "force", False))
    except GuestBuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    if args.cmd == "build":
        if args.json:
            d = {k: str(v) for k, v in dataclasses.asdict(image).items()}
            print(json.dumps(d, indent=1))
        else:
            print(f"kernel:  {image.kernel}\ninitrd:  {image.initrd}\ncmdline: {image.cmdline}")
        return 0

    from .rawqemu import RawGuest, qemu_binary

    if args.cmd == "boot":
        argv2 = [qemu_binary(), "-accel", "tcg", "-m", str(args.memory), "-nodefaults",
                 "-no-user-config", "-display", "none", "-serial", "mon:stdio",
                 *image.qemu_args(args.append)]
        print("booting; Ctrl-A X quits", file=sys.stderr)

        def _exit_on(signum: int, frame: object) -> None:
            raise SystemExit(128 + signum)

        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _exit_on)  # so that the finally below stops QEMU
        proc = subprocess.Popen(argv2, start_new_session=True)
        try:
            return proc.wait()
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()

    t0 = time.monotonic()
    with RawGuest(image, memory_mib=args.memory, extra_cmdline=args.append) as g:
        ready = g.wait_ready(timeout=60)
        print(f"ready after {ready:.2f} s (qemu start to '{image.ready_line}')")
        c1 = g.wait_counter(timeout=10)
        c2 = g.wait_counter(above=c1 + 4, timeout=10)
        print(f"counter {c1} -> {c2}")
        marker = f"marker-{os.getpid()}"
        g.send_line(f"echo {marker}")
        g.wait_for(rf"(?m)^{marker}\r?$", timeout=10)
        print(f"shell echoed {marker}")
        took = g.powerdown(timeout=30)
        print(f"system_powerdown -> qemu exited after {took:.2f} s")
    print(f"total {time.monotonic() - t0:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
