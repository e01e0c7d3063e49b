"""Turn an x86 bzImage into the plain vmlinux ELF inside it, for PVH direct boot.

Why: QEMU boots an ELF kernel that carries a Xen PVH entry note (CONFIG_PVH=y, as in
Debian's cloud kernels) straight into 32-bit protected mode with `-kernel vmlinux`. That
skips the real-mode setup code and the in-guest decompressor. The decompressor is what
makes a bzImage need `init_size` bytes (51 MiB for Debian's LZ4-compressed 6.1 cloud
kernel) above 16 MiB, so a bzImage cannot boot in a 64 MiB guest; the ELF can.

Payload formats handled: LZ4 legacy frames (pure Python below, ~1.5 s for 50 MiB),
gzip, xz, and zstd (with the `zstd` tool). Anything else: the caller keeps the bzImage.
"""
from __future__ import annotations

import lzma
import shutil
import struct
import subprocess
import zlib

__all__ = ["extract_vmlinux", "has_pvh_note", "lz4_legacy_decompress"]

_LZ4_LEGACY_MAGIC = 0x184C2102
_XEN_ELFNOTE_PHYS32_ENTRY = 18


def lz4_block_decompress(src: memoryview) -> bytearray:
    """One LZ4 block (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md)."""
    out = bytearray()
    i, n = 0, len(src)
    while i < n:
        token = src[i]
        i += 1
        lit = token >> 4
        if lit == 15:
            while True:
                b = src[i]
                i += 1
                lit += b
                if b != 255:
                    break
        if lit:
            out += src[i:i + lit]
            i += lit
        if i >= n:  # the last sequence has literals only
            break
        off = src[i] | (src[i + 1] << 8)
        i += 2
        if off == 0 or off > len(out):
            raise ValueError("corrupt LZ4 block: bad match offset")
        ml = token & 15
        if ml == 15:
            while True:
                b = src[i]
                i += 1
                ml += b
                if b != 255:
                    break
        ml += 4
        start = len(out) - off
        if off >= ml:
            out += out[start:start + ml]
        else:  # overlapping match: a repeated pattern
            chunk = out[start:]
            q, r = divmod(ml, off)
            out += chunk * q + chunk[:r]
    return out


def lz4_legacy_decompress(data: bytes) -> bytes:
    """LZ4 legacy frame format (what the kernel's LZ4 compression writes)."""
    if len(data) < 4 or struct.unpack_from("<I", data, 0)[0] != _LZ4_LEGACY_MAGIC:
        raise ValueError("not an LZ4 legacy frame")
    view = memoryview(data)
    i, parts = 4, []
    while i + 4 <= len(data):
        size, = struct.unpack_from("<I", data, i)
        if size == _LZ4_LEGACY_MAGIC:  # concatenated frame
            i += 4
            continue
        if i + 4 + size > len(data):  # trailer (the kernel appends the output size)
            break
        parts.append(lz4_block_decompress(view[i + 4:i + 4 + size]))
        i += 4 + size
    return b"".join(parts)


def _decompress(payload: bytes) -> bytes | None:
    if payload[:4] == b"\x02\x21\x4c\x18":
        return lz4_legacy_decompress(payload)
    if payload[:2] == b"\x1f\x8b":
        return zlib.decompressobj(wbits=31).decompress(payload)
    if payload[:6] == b"\xfd7zXZ\x00":
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if payload[:4] == b"\x28\xb5\x2f\xfd":
        zstd = shutil.which("zstd")
        if zstd is None:
            return None
        proc = subprocess.run([zstd, "-dcq"], input=payload, capture_output=True, check=False)
        return proc.stdout if proc.stdout else None
    return None


def has_pvh_note(elf: bytes) -> bool:
    """True if elf is an x86-64 ELF with a Xen PVH 32-bit entry point note."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for k in range(phnum):
        p_type, _flags, off, _va, _pa, filesz = struct.unpack_from(
            "<IIQQQQ", elf, phoff + k * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        i, end = off, off + filesz
        while i + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, i)
            name = elf[i + 12:i + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == _XEN_ELFNOTE_PHYS32_ENTRY:
                return True
            i += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3)
    return False


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """The vmlinux ELF inside a bzImage if it can be PVH-booted, else None."""
    if len(bzimage) < 0x270 or bzimage[0x202:0x206] != b"HdrS":
        return None
    version, = struct.unpack_from("<H", bzimage, 0x206)
    if version < 0x208:  # payload_offset/payload_length appeared in boot protocol 2.08
        return None
    setup_sects = bzimage[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = bzimage[start:start + payload_length]
    try:
        elf = _decompress(payload)
    except (ValueError, IndexError, zlib.error, lzma.LZMAError):
        return None
    if not elf or not has_pvh_note(elf):
        return None
    return elf
