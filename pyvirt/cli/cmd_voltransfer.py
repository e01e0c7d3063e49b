"""Volume transfers over a stream: vol-upload and vol-download (virsh-volume.c).

A file's bytes go to the volume (or the volume's to a file) over a Stream tied by
StorageVol.upload/download: a local file for a local driver, STREAM packets for a remote
connection. As virsh does, a file vol-download created is removed when the transfer
fails, and the messages name the step that failed.
"""
from __future__ import annotations

import os
from typing import Any

from .cmd_volume import POOL_NAMED, VOL_OPT
from .control import Control
from .options import bool_opt, command, data_opt, int_opt
from .parser import ParsedCommand

__all__ = ["cmd_vol_download", "cmd_vol_upload"]

_VOL = "volume"


def _range(ctl: Control, pc: ParsedCommand) -> tuple[int, int, int]:
    if pc.flag("sparse"):
        # a sparse stream carries holes (STREAM_HOLE packets), which pyvirt's streams do
        # not handle yet: refuse before anything is opened or created, not half-way
        raise ctl.fail("sparse streams are not supported by pyvirt yet (drop --sparse)")
    offset = ctl.opt_ull(pc, "offset") or 0
    length = ctl.opt_ull(pc, "length") or 0
    return offset, length, 0


_OPTS = [VOL_OPT, data_opt("file", "file"), POOL_NAMED,
         int_opt("offset", "volume offset to upload to"),
         int_opt("length", "amount of data to upload"),
         bool_opt("sparse", "preserve sparseness of volume")]


@command("vol-upload", group=_VOL, help="upload file contents to a volume",
         desc="Upload file contents to a volume", opts=_OPTS)
def cmd_vol_upload(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    path = ctl.opt_required(pc, "file")
    offset, length, flags = _range(ctl, pc)
    name = ctl.opt_required(pc, "vol")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        raise ctl.fail(f"cannot read {path}") from None
    try:
        with ctl.failing(f"cannot upload to volume {name}"):
            st = vol.upload(offset, length, flags)

        def source(stream: Any, nbytes: int, opaque: Any) -> bytes:
            return os.read(fd, nbytes)
        with ctl.failing(f"cannot send data to volume {name}"):
            st.send_all(source, None)
        with ctl.failing(f"cannot close volume {name}"):
            st.finish()
    finally:
        os.close(fd)
    return True


@command("vol-download", group=_VOL, help="download volume contents to a file",
         desc="Download volume contents to a file", opts=[
             *_OPTS[:3], int_opt("offset", "volume offset to download from"),
             int_opt("length", "amount of data to download"),
             bool_opt("sparse", "preserve sparseness of volume")])
def cmd_vol_download(ctl: Control, pc: ParsedCommand) -> bool:
    vol = ctl.vol(pc)
    path = ctl.opt_required(pc, "file")
    offset, length, flags = _range(ctl, pc)
    name = ctl.opt_required(pc, "vol")
    created = False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        created = True
    except FileExistsError:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        except OSError:
            raise ctl.fail(f"cannot create {path}") from None
    except OSError:
        raise ctl.fail(f"cannot create {path}") from None
    ok = False
    try:
        with ctl.failing(f"cannot download from volume {name}"):
            st = vol.download(offset, length, flags)

        def sink(stream: Any, data: bytes, opaque: Any) -> int:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            return len(data)
        with ctl.failing(f"cannot receive data from volume {name}"):
            st.recv_all(sink, None)
        with ctl.failing(f"cannot close volume {name}"):
            st.finish()
        ok = True
    finally:
        os.close(fd)
        if not ok and created:
            os.unlink(path)
    return True
