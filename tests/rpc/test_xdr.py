"""XDR codecs: the encodings of shared/rpc-protocol.md §2.1, bounds, and failure modes."""
from __future__ import annotations

import math
import struct
import tracemalloc
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.rpc import xdr
from pyvirt.rpc.procedures import (
    REMOTE,
    REMOTE_NONNULL_DOMAIN,
    REMOTE_TYPED_PARAM,
    RemoteConnectOpenArgs,
    RemoteNonnullDomain,
    RemoteTypedParam,
    RemoteTypedParamValue,
)
from pyvirt.rpc.xdr import XDRError

from .strategies import values

UUID = bytes.fromhex("992b0836f6864881b0f8e5d03e0bd304")
DOM = RemoteNonnullDomain("rpctrace", UUID, -1)
DOM_HEX = "00000008" "7270637472616365" "992b0836f6864881b0f8e5d03e0bd304" "ffffffff"


class Pair(NamedTuple):
    a: Any
    b: Any


def test_scalars_are_big_endian_words() -> None:
    assert xdr.I32.encode(-1).hex() == "ffffffff"
    assert xdr.U32.encode(0x20008086).hex() == "20008086"
    assert xdr.I64.encode(-2).hex() == "fffffffffffffffe"
    assert xdr.U64.encode(4548824).hex() == "00000000004568d8"
    assert xdr.F64.encode(1.0).hex() == "3ff0000000000000"
    assert xdr.U64.decode(bytes.fromhex("000000001e65fb80")) == 0x1E65FB80


def test_double_keeps_nan_bits() -> None:
    raw = bytes.fromhex("7ff8000000000001")
    value = xdr.F64.decode(raw)
    assert math.isnan(value) and xdr.F64.encode(value) == raw


def test_bool_any_nonzero_is_true_and_true_encodes_as_one() -> None:
    # glibc's xdr_bool; go-libvirt's optional flag arrives as 0x01000000 (§7)
    for word in ("00000001", "01000000", "ffffffff", "80000000"):
        assert xdr.BOOL.decode(bytes.fromhex(word)) is True
    assert xdr.BOOL.decode(bytes(4)) is False
    assert xdr.BOOL.encode(True).hex() == "00000001"
    assert xdr.BOOL.encode(7).hex() == "00000001"


def test_char_and_short_take_a_word_each() -> None:
    assert xdr.UCHAR.encode(5).hex() == "00000005"      # DOMAIN_GET_INFO.state
    assert xdr.USHORT.encode(1).hex() == "00000001"     # nrVirtCpu
    assert xdr.CHAR.encode(-1).hex() == "ffffffff"      # rpcgen sign-extends a char
    assert xdr.CHAR.decode(bytes.fromhex("000000ff")) == -1   # truncated as glibc does
    assert xdr.UCHAR.decode(bytes.fromhex("00000105")) == 5
    assert xdr.SHORT.decode(bytes.fromhex("0000ffff")) == -1
    for codec, bad in ((xdr.UCHAR, 256), (xdr.UCHAR, -1), (xdr.CHAR, 128), (xdr.SHORT, 40000),
                       (xdr.USHORT, 65536)):
        with pytest.raises(XDRError, match="out of range"):
            codec.encode(bad)


def test_fixed_char_array_is_one_word_per_char() -> None:
    model = xdr.char_array_fixed(32)
    enc = model.encode(b"x86_64")
    assert len(enc) == 128
    assert enc[:24].hex() == "000000780000003800000036" "0000005f0000003600000034"
    assert enc[24:] == bytes(104)
    assert xdr.cstring(model.decode(enc)) == "x86_64"
    with pytest.raises(XDRError):
        model.encode(b"x" * 33)


def test_variable_char_array_counts_the_nul() -> None:
    # NODE_GET_SECURITY_MODEL's "none": count 5, then n o n e \0 (§2.1, §5.1)
    chars = xdr.char_array(257)
    enc = chars.encode(b"none\0")
    assert enc.hex() == "00000005" "0000006e0000006f0000006e0000006500000000"
    assert chars.decode(enc) == b"none\0"
    with pytest.raises(XDRError, match="exceeds bound"):
        chars.decode(bytes.fromhex("00000102") + bytes(4 * 258))


def test_signed_chars_round_trip_high_bytes() -> None:
    chars = xdr.char_array(8)
    enc = chars.encode(b"\xc3\xa9")
    assert enc.hex() == "00000002" "ffffffc3" "ffffffa9"
    assert chars.decode(enc) == b"\xc3\xa9"
    unsigned = xdr.char_array(8, signed=False)
    assert unsigned.encode(b"\xc3").hex() == "00000001000000c3"


def test_string_is_length_bytes_padding() -> None:
    s = xdr.string(100)
    assert s.encode("qemu:///system").hex() == "0000000e" + b"qemu:///system".hex() + "0000"
    assert s.encode("").hex() == "00000000"
    assert s.encode("abcd").hex() == "0000000461626364"
    assert s.decode(s.encode("héllo")) == "héllo"


def test_string_keeps_bytes_that_are_not_utf8() -> None:
    s = xdr.string(100)
    raw = bytes.fromhex("00000003" "ff41fe00")
    assert s.encode(s.decode(raw)) == raw


def test_string_bound_holds_both_ways() -> None:
    s = xdr.string(4)
    with pytest.raises(XDRError, match="exceeds bound"):
        s.encode("abcde")
    with pytest.raises(XDRError, match="exceeds bound"):
        s.decode(bytes.fromhex("00000005") + b"abcde\0\0\0")


def test_optional_presence_flag() -> None:
    o = xdr.optional(xdr.string(100))
    assert o.encode(None).hex() == "00000000"
    assert o.encode("x").hex() == "00000001" "00000001" "78000000"
    assert o.decode(bytes.fromhex("01000000" "00000001" "78000000")) == "x"
    assert o.decode(bytes(4)) is None


def test_go_libvirt_connect_open_flag_is_accepted() -> None:
    # go-libvirt hand-encodes the name-present flag as bytes {1,0,0,...} (§7)
    payload = bytes.fromhex("01000000" "0000000e") + b"qemu:///system\0\0" + bytes(4)
    assert REMOTE["CONNECT_OPEN"].args.decode(payload) == RemoteConnectOpenArgs("qemu:///system", 0)


def test_uuid_is_sixteen_raw_bytes() -> None:
    assert REMOTE_NONNULL_DOMAIN.encode(DOM).hex() == DOM_HEX
    assert REMOTE_NONNULL_DOMAIN.decode(bytes.fromhex(DOM_HEX)) == DOM
    with pytest.raises(XDRError, match="16 bytes"):
        REMOTE_NONNULL_DOMAIN.encode(DOM._replace(uuid=UUID[:15]))
    odd = xdr.opaque_fixed(5)
    assert odd.encode(b"abcde").hex() == "6162636465000000"


def test_variable_opaque_pads_and_bounds() -> None:
    o = xdr.opaque(8)
    assert o.encode(b"\x03").hex() == "0000000103000000"   # GET_VCPUS cpumaps (§5.1)
    assert o.decode(o.encode(b"12345678")) == b"12345678"
    with pytest.raises(XDRError, match="exceeds bound"):
        o.encode(b"123456789")
    with pytest.raises(XDRError, match="exceeds bound"):
        o.decode(bytes.fromhex("00000009") + bytes(12))


def test_arrays_enforce_bounds() -> None:
    ids = xdr.array(xdr.I32, 3)
    assert ids.encode([1, -1]).hex() == "00000002" "00000001" "ffffffff"
    assert ids.decode(ids.encode([7, 8, 9])) == [7, 8, 9]
    with pytest.raises(XDRError, match="exceeds bound"):
        ids.encode([1, 2, 3, 4])
    with pytest.raises(XDRError, match="exceeds bound"):
        ids.decode(bytes.fromhex("00000004") + bytes(16))
    fixed = xdr.array_fixed(xdr.U32, 2)
    assert fixed.encode([1, 2]).hex() == "0000000100000002"
    with pytest.raises(XDRError):
        fixed.encode([1])


def test_arrays_of_structs_use_the_compiled_loop() -> None:
    doms = xdr.array(REMOTE_NONNULL_DOMAIN, 10)
    enc = doms.encode([DOM, DOM._replace(id=3)])
    assert enc.hex() == "00000002" + DOM_HEX + DOM_HEX[:-8] + "00000003"
    assert doms.decode(enc) == [DOM, DOM._replace(id=3)]


def test_typed_param_union_arms() -> None:
    cases = [
        (1, -5, "ffff fffb"), (2, 5, "0000 0005"), (3, -1, "ffffffff ffffffff"),
        (4, 2**64 - 1, "ffffffff ffffffff"), (5, 0.5, "3fe00000 00000000"), (6, 1, "0000 0001"),
        (7, "ab", "00000002 61620000"),
    ]
    for disc, value, hexed in cases:
        p = RemoteTypedParam("f", RemoteTypedParamValue(disc, value))
        enc = REMOTE_TYPED_PARAM.encode(p)
        assert enc.hex() == "00000001" "66000000" + f"{disc:08x}" + hexed.replace(" ", "")
        assert REMOTE_TYPED_PARAM.decode(enc) == p
    with pytest.raises(XDRError, match="unknown discriminant"):
        REMOTE_TYPED_PARAM.decode(bytes.fromhex("00000001" "66000000" "00000008" "00000000"))
    with pytest.raises(XDRError, match="unknown discriminant"):
        REMOTE_TYPED_PARAM.encode(RemoteTypedParam("f", RemoteTypedParamValue(0, 1)))


def test_void_is_empty() -> None:
    assert xdr.VOID.encode(None) == b""
    assert xdr.VOID.decode(b"") is None
    with pytest.raises(XDRError, match="trailing"):
        xdr.VOID.decode(b"\0\0\0\0")


def test_struct_runs_check_each_field() -> None:
    ret = REMOTE["DOMAIN_GET_INFO"].ret
    enc = ret.encode((1, 65536, 65536, 1, 0x1E65FB80))
    assert enc.hex() == ("00000001" "0000000000010000" "0000000000010000" "00000001"
                         "000000001e65fb80")
    with pytest.raises(XDRError, match="state: out of range"):
        ret.encode((256, 0, 0, 0, 0))


@pytest.mark.parametrize("bad", [None, ("x", UUID), ("x", UUID, -1, 0), (1, UUID, 0),
                                 ("x", "not bytes" * 2, 0), ("x", UUID, 2**31)])
def test_badly_typed_values_raise_xdr_error(bad: Any) -> None:
    with pytest.raises(XDRError):
        REMOTE_NONNULL_DOMAIN.encode(bad)


def test_trailing_bytes_and_decode_from() -> None:
    enc = bytes.fromhex(DOM_HEX)
    with pytest.raises(XDRError, match="4 trailing bytes"):
        REMOTE_NONNULL_DOMAIN.decode(enc + bytes(4))
    assert REMOTE_NONNULL_DOMAIN.decode_from(enc + bytes(4)) == (DOM, len(enc))
    assert REMOTE_NONNULL_DOMAIN.decode(b"pad!" + enc, 4) == DOM


def test_any_bytes_like_input() -> None:
    enc = bytes.fromhex(DOM_HEX)
    assert REMOTE_NONNULL_DOMAIN.decode(bytearray(enc)) == DOM
    assert REMOTE_NONNULL_DOMAIN.decode(memoryview(enc)) == DOM
    assert REMOTE_NONNULL_DOMAIN.decode_from(memoryview(b"xxxx" + enc), 4) == (DOM, 4 + len(enc))


def test_length_claims_fail_before_allocating() -> None:
    """A 40-byte packet claiming 2**31 elements fails at once, without a big allocation."""
    claims = b"\x7f\xff\xff\xff" + bytes(36)
    unbounded = [xdr.array(REMOTE_NONNULL_DOMAIN, 2**32 - 1), xdr.array(xdr.I32, 2**32 - 1),
                 xdr.array(xdr.string(2**32 - 1), 2**32 - 1), xdr.opaque(2**32 - 1),
                 xdr.string(2**32 - 1), xdr.char_array(2**32 - 1)]
    tracemalloc.start()
    try:
        for codec in unbounded:
            with pytest.raises(XDRError, match="truncated"):
                codec.decode(claims)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_every_strict_prefix_is_rejected(data: st.DataObject) -> None:
    codec = REMOTE["CONNECT_LIST_ALL_DOMAINS"].ret
    enc = codec.encode(data.draw(values(codec)))
    cut = data.draw(st.integers(0, len(enc) - 1))
    with pytest.raises(XDRError):
        codec.decode(enc[:cut])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=10), st.binary(min_size=16, max_size=16),
                          st.integers(-2**31, 2**31 - 1)), max_size=5))
def test_struct_round_trip_matches_struct_module(items: list[tuple[str, bytes, int]]) -> None:
    codec = xdr.array(REMOTE_NONNULL_DOMAIN, 16)
    doms = [RemoteNonnullDomain(*t) for t in items]
    enc = codec.encode(doms)
    expect = struct.pack(">I", len(items))
    for name, uuid, ident in items:
        b = name.encode()
        expect += struct.pack(">I", len(b)) + b + bytes(-len(b) % 4) + uuid + struct.pack(">i", ident)
    assert enc == expect
    assert codec.decode(enc) == doms


def test_struct_needs_one_codec_per_field() -> None:
    with pytest.raises(ValueError):
        xdr.struct(Pair, [xdr.I32])
    with pytest.raises(ValueError):
        xdr.array(xdr.VOID, 4)
