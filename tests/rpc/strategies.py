"""Hypothesis strategies for the values of any codec, read from its shape.

Values stay within every declared bound; arrays and strings are kept short (the bounds
themselves are exercised in test_xdr) so a round trip of every procedure stays quick.
"""
from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from pyvirt.rpc.xdr import Codec

SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "i32": st.integers(-2**31, 2**31 - 1),
    "u32": st.integers(0, 2**32 - 1),
    "i64": st.integers(-2**63, 2**63 - 1),
    "u64": st.integers(0, 2**64 - 1),
    "f64": st.floats(allow_nan=False),  # NaN != NaN; its bits are checked in test_xdr
    "bool": st.booleans(),
    "char": st.integers(-128, 127),
    "uchar": st.integers(0, 255),
    "short": st.integers(-2**15, 2**15 - 1),
    "ushort": st.integers(0, 2**16 - 1),
}
SHORT = 4    # longest array drawn
TEXT = 24    # longest string / opaque drawn


def values(codec: Codec[Any]) -> st.SearchStrategy[Any]:
    """Values `codec` can encode, honouring its bounds."""
    shape = codec.shape
    kind = shape[0]
    if kind == "scalar":
        return SCALARS[shape[1]]
    if kind == "void":
        return st.none()
    if kind == "string":
        # bound counts UTF-8 bytes; 4 bytes per character at most
        return st.text(max_size=min(TEXT, shape[1] // 4))
    if kind in ("opaque", "chars"):
        return st.binary(max_size=min(TEXT, shape[1]))
    if kind in ("opaque_fixed", "chars_fixed"):
        return st.binary(min_size=shape[1], max_size=shape[1])
    if kind == "optional":
        return st.none() | values(shape[1])
    if kind == "array":
        return st.lists(values(shape[1]), max_size=min(SHORT, shape[2]))
    if kind == "array_fixed":
        return st.lists(values(shape[1]), min_size=shape[2], max_size=shape[2])
    if kind == "struct":
        cls, fields = shape[1], shape[2]
        return st.tuples(*(values(c) for _, c in fields)).map(lambda t: cls(*t))
    if kind == "union":
        cls, arms = shape[1], shape[2]
        return st.one_of([values(arm).map(lambda v, d=d: cls(d, v)) for d, arm in arms.items()])
    raise AssertionError(f"no strategy for {shape!r}")
