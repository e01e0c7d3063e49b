"""Fuzz target for the frame reader, packet parser and every wire decoder.

`exercise(data)` must never raise anything but XDRError (FrameError is one): test_fuzz
drives it with Hypothesis, and run as a script this is an atheris harness:

    python tests/rpc/fuzz_rpc.py -runs=100000 [corpus_dir]    (or -max_total_time=SECONDS)
"""
from __future__ import annotations

import sys
from typing import Any

if __name__ == "__main__":  # instrument the code under test before importing it
    import atheris

    with atheris.instrument_imports(include=["pyvirt.rpc"]):
        from pyvirt.rpc.packet import FrameError, FrameReader, parse_packet
        from pyvirt.rpc.procedures import PROGRAMS, REMOTE_ERROR, lookup
        from pyvirt.rpc.xdr import Codec, XDRError
else:
    from pyvirt.rpc.packet import FrameError, FrameReader, parse_packet
    from pyvirt.rpc.procedures import PROGRAMS, REMOTE_ERROR, lookup
    from pyvirt.rpc.xdr import Codec, XDRError


def _all_codecs() -> list[Codec[Any]]:
    seen: dict[int, Codec[Any]] = {id(REMOTE_ERROR): REMOTE_ERROR}
    for prog in PROGRAMS.values():
        for proc in prog.procedures.values():
            for codec in (proc.args, proc.ret, proc.msg):
                if codec is not None:
                    seen.setdefault(id(codec), codec)
    return list(seen.values())


CODECS = _all_codecs()


def exercise(data: bytes, split: int = 0) -> int:
    """Feed `data` (in two chunks cut at `split`) to a FrameReader; parse each frame and
    decode its payload with every codec its procedure has, and the error codec; then
    decode `data` itself with the codec its first byte picks. Returns the number of
    successful decodes (for the caller's curiosity)."""
    ok = 0
    reader = FrameReader()
    try:
        frames = reader.feed(data[:split]) + reader.feed(data[split:])
    except FrameError:
        frames = []
    for frame in frames:
        try:
            pkt = parse_packet(frame)
        except FrameError:
            continue
        proc = lookup(pkt.prog, pkt.proc)
        codecs = [REMOTE_ERROR] if proc is None else [REMOTE_ERROR, proc.args, proc.ret]
        if proc is not None and proc.msg is not None:
            codecs.append(proc.msg)
        for codec in codecs:
            try:
                pkt.decode(codec)
                ok += 1
            except XDRError:
                pass
    if data:
        try:
            CODECS[data[0] % len(CODECS)].decode(data, 1)
            ok += 1
        except XDRError:
            pass
    return ok


def _one_input(data: bytes) -> None:
    exercise(data, int.from_bytes(data[:2], "big") % (len(data) + 1) if data else 0)


if __name__ == "__main__":
    atheris.Setup(sys.argv, _one_input)
    atheris.Fuzz()
