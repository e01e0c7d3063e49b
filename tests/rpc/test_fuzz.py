"""Fuzzing the frame reader and the decoders: random bytes and mutated real frames give a
value or XDRError, nothing else, and never an allocation out of proportion to the input."""
from __future__ import annotations

import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.rpc.xdr import XDRError

from .fuzz_rpc import CODECS, exercise
from .traces import frames

REAL = [f.data for f in frames() if f.complete]
# Words that hit edge cases when they land on a length, count, flag or discriminant.
INTERESTING = [0, 1, 3, 4, 5, 7, 0x7F, 0xFF, 0x100, 0x4000, 0x4001, 0x400000, 0x400001,
               0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0x01000000]
HARNESS = Path(__file__).with_name("fuzz_rpc.py")


def _peak_while(fn: Any, *args: Any) -> int:
    tracemalloc.start()
    try:
        fn(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


edit = st.one_of(
    st.tuples(st.just("byte"), st.integers(0, 4096), st.integers(0, 255)),
    st.tuples(st.just("word"), st.integers(0, 4096), st.sampled_from(INTERESTING)),
    st.tuples(st.just("cut"), st.integers(0, 4096), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 4096), st.integers(0, 2**32 - 1)),
)


def mutate(frame: bytes, edits: list[tuple[str, int, int]], fix_length: bool) -> bytes:
    data = bytearray(frame)
    for kind, pos, value in edits:
        if not data:
            break
        pos %= len(data)
        if kind == "byte":
            data[pos] = value
        elif kind == "word":
            pos -= pos % 4   # XDR items are word-aligned
            data[pos:pos + 4] = value.to_bytes(4, "big")
        elif kind == "cut":
            del data[pos:]
        else:
            data[pos:pos] = value.to_bytes(4, "big")
    if fix_length and len(data) >= 4:
        data[:4] = len(data).to_bytes(4, "big")   # reach the decoders, not just the reader
    return bytes(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(0, 600))
def test_random_bytes(data: bytes, split: int) -> None:
    exercise(data, min(split, len(data)))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(REAL), st.lists(edit, min_size=1, max_size=4), st.booleans(),
       st.integers(0, 4096))
def test_mutated_real_frames(frame: bytes, edits: list[tuple[str, int, int]], fix: bool,
                             split: int) -> None:
    data = mutate(frame, edits, fix)
    peak = _peak_while(exercise, data, split % (len(data) + 1))
    assert peak < 512 * 1024 + 16 * len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(REAL), min_size=1, max_size=6), st.data())
def test_concatenated_real_frames_all_decode(stream: list[bytes], data: st.DataObject) -> None:
    raw = b"".join(stream)
    split = data.draw(st.integers(0, len(raw)))
    assert exercise(raw, split) >= len(stream)


@pytest.mark.parametrize("pattern", [b"\x7f\xff\xff\xff" * 10, b"\xff" * 40,
                                     b"\x80\0\0\0" * 10, (b"\0\0\0\1" + b"\x7f\xff\xff\xff") * 5,
                                     b"\0\0\0\1" * 10],
                         ids=["7fffffff", "ffffffff", "80000000", "present+huge", "ones"])
def test_every_codec_fails_fast_on_huge_claims(pattern: bytes) -> None:
    """A 40-byte payload whose words claim 2**31 elements or bytes: XDRError (or a value),
    each codec, with no allocation anywhere near the claim."""
    def decode_all() -> None:
        for codec in CODECS:
            try:
                codec.decode(pattern)
            except XDRError:
                pass
    decode_all()    # codecs compile on first use; measure the decoding, not that
    assert _peak_while(decode_all) < 256 * 1024


@pytest.mark.fuzz
def test_atheris_harness(tmp_path: Path) -> None:
    """A bounded atheris run (by count, not time) seeded with the captured frames."""
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for i, frame in enumerate(REAL[:200]):
        (corpus / f"frame{i:03d}").write_bytes(frame)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(HARNESS.parents[2]), *filter(None, [env.get("PYTHONPATH")])])
    r = subprocess.run([sys.executable, str(HARNESS), "-runs=3000", "-seed=1",
                        "-max_len=4096", str(corpus)], capture_output=True, text=True, env=env, check=False,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Done 3000 runs" in r.stderr
