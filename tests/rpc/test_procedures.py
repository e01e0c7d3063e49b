"""The wire description and its generated tables: coverage of §4, round trips of every
payload, the notation's checks, and the generated module being current."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from pyvirt.rpc import procedures as P
from pyvirt.rpc.program import Procedure, Program
from pyvirt.rpc.xdr import VOID, Codec

from .strategies import values

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bindings.gen import wire

# shared/rpc-protocol.md §4: every procedure its tables list, and the later ones it names
SECTION_4 = {
    1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 27, 28,
    29, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 54, 55,
    59, 60, 66, 70, 71, 72, 73, 74, 76, 77, 78, 80, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93,
    94, 95, 96, 97, 98, 99, 100, 102, 103, 104, 105, 106, 107, 110, 121, 122, 149, 150, 151, 152,
    153, 154, 155, 157, 163, 167, 168, 183, 187, 196, 200, 201, 208, 209, 212, 231, 232, 233,
    234, 245, 258, 273, 281, 282, 283, 293, 302, 303, 304, 305, 306, 307, 313, 314, 315, 316,
    317, 318, 319, 342, 350, 360, 361, 368, 426, 432, 440, 441,
}
ALL = [p for prog in P.PROGRAMS.values() for p in prog.procedures.values()]


def payloads() -> list[tuple[str, Codec[Any]]]:
    out = []
    for proc in ALL:
        prog = P.ProgramNumber(proc.program).name
        for kind in ("args", "ret", "msg"):
            codec = getattr(proc, kind)
            if codec is not None and codec is not VOID:
                out.append((f"{prog}.{proc.name}.{kind}", codec))
    return out


def test_generated_module_is_current() -> None:
    text = (ROOT / "pyvirt" / "rpc" / "procedures.py").read_text()
    assert text == wire.render(), "run: python bindings/generate.py"
    assert "do not edit" in text.splitlines()[0]


def test_section_4_is_covered() -> None:
    assert SECTION_4 <= set(P.REMOTE.procedures)
    assert {1, 4, 5, 6} <= set(P.QEMU.procedures)
    assert set(P.KEEPALIVE.procedures) == {1, 2}
    assert set(P.LXC.procedures) == {1}


def test_numbers_names_and_enums_agree() -> None:
    assert P.REMOTE["CONNECT_OPEN"].number == P.RemoteProcedure.CONNECT_OPEN == 1
    assert P.REMOTE[273].name == "CONNECT_LIST_ALL_DOMAINS"
    assert P.QEMU["DOMAIN_MONITOR_COMMAND"].program == P.ProgramNumber.QEMU == 0x20008087
    for prog, enum in ((P.REMOTE, P.RemoteProcedure), (P.QEMU, P.QemuProcedure),
                       (P.LXC, P.LxcProcedure), (P.KEEPALIVE, P.KeepaliveProcedure)):
        assert {m.name: m.value for m in enum} == {p.name: n for n, p in prog.procedures.items()}
    assert P.lookup(P.ProgramNumber.REMOTE, 16) is P.REMOTE[16]
    assert P.lookup(P.ProgramNumber.REMOTE, 9999) is None
    assert P.lookup(P.ProgramNumber.ADMIN, 1) is None   # not served on the main sockets
    with pytest.raises(TypeError):
        P.PROGRAMS[1] = P.REMOTE  # type: ignore[index]


def test_kinds_streams_and_fds() -> None:
    assert P.REMOTE["DOMAIN_EVENT_CALLBACK_LIFECYCLE"].is_message
    assert P.REMOTE["DOMAIN_EVENT_LIFECYCLE"].msg is P.REMOTE_DOMAIN_EVENT_LIFECYCLE_MSG
    assert P.KEEPALIVE["PING"].msg is VOID and P.KEEPALIVE["PING"].is_message
    assert not P.REMOTE["CONNECT_OPEN"].is_message
    assert P.REMOTE["CONNECT_CLOSE"].args is VOID and P.REMOTE["CONNECT_CLOSE"].ret is VOID
    assert (P.REMOTE["STORAGE_VOL_DOWNLOAD"].stream, P.REMOTE["STORAGE_VOL_UPLOAD"].stream,
            P.REMOTE["DOMAIN_OPEN_CONSOLE"].stream) == ("read", "write", "both")
    assert P.QEMU["DOMAIN_MONITOR_COMMAND_WITH_FILES"].fds == "both"
    assert P.LXC["DOMAIN_OPEN_NAMESPACE"].fds == "out"


def test_shapes_follow_the_brief() -> None:
    fields = {name: c.shape for name, c in P.REMOTE["DOMAIN_GET_INFO"].ret.shape[2]}
    assert fields["state"] == ("scalar", "uchar") and fields["nrVirtCpu"] == ("scalar", "ushort")
    assert P.REMOTE_NONNULL_DOMAIN.min_size == 24
    assert P.RemoteError._fields == ("code", "domain", "message", "level", "dom", "str1", "str2",
                                     "str3", "int1", "int2", "net")
    assert P.RemoteDomainRestoreArgs._fields == ("from_",)   # a keyword, renamed
    label = dict(P.REMOTE["DOMAIN_GET_SECURITY_LABEL"].ret.shape[2])["label"]
    assert label.shape == ("chars", 4097, True)


def test_functions_toml_procedures_exist() -> None:
    """The API description names wire procedures (by REMOTE name); each must be here."""
    path = ROOT / "bindings" / "api" / "functions.toml"
    if not path.exists():
        pytest.skip("no API description yet")
    with open(path, "rb") as f:
        data = tomllib.load(f)
    named = {c["proc"] for entries in data.values() for e in entries.values()
             for c in e.get("c", []) if c.get("proc")}
    assert named, "expected procedure references"
    assert sorted(named - set(P.REMOTE.by_name)) == []


@pytest.mark.parametrize(("where", "codec"), payloads(), ids=[w for w, _ in payloads()])
def test_payload_round_trip(where: str, codec: Codec[Any]) -> None:
    @settings(max_examples=12, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(values(codec))
    def check(value: Any) -> None:
        enc = codec.encode(value)
        assert len(enc) % 4 == 0 and len(enc) >= codec.min_size
        back = codec.decode(enc)
        assert back == value
        assert codec.encode(back) == enc
    check()


# --- the notation's checks ----------------------------------------------------------------

BASE = {"limits": {"VIR_UUID_BUFLEN": 16, "REMOTE_STRING_MAX": 64, "N": 4},
        "programs": {"T": {"number": 1, "version": 1, "prefix": "t"}},
        "types": {"dom": {"xdr": "remote_nonnull_domain", "fields": "str name, uuid uuid, i32 id"}}}


def parse_with(procs: dict[str, Any], types: dict[str, Any] | None = None) -> wire.Wire:
    data = {**BASE, "T": procs}
    if types is not None:
        data["types"] = {**BASE["types"], **types}
    return wire.parse(data)


@pytest.mark.parametrize(("procs", "message"), [
    ({"A": {"n": 1, "args": "nosuch x"}}, "unknown type"),
    ({"A": {"n": 1, "args": "i32"}}, "needs a name"),
    ({"A": {"n": 1, "args": "i32 x<>"}}, "declared bound"),
    ({"A": {"n": 1, "args": "i32 x<MISSING>"}}, "unknown limit"),
    ({"A": {"n": 1, "args": "opaque x"}}, "opaque needs"),
    ({"A": {"n": 1, "args": "i32 x, u32 x"}}, "duplicate field"),
    ({"A": {"n": 1, "args": "i32 count"}}, "cannot be a NamedTuple field"),
    ({"A": {"n": 1, "args": "i32 x y z"}}, "cannot parse"),
    ({"A": {"n": 1, "msg": "i32 x", "ret": "i32 y"}}, "no args or ret"),
    ({"A": {"n": 1, "stream": "sideways"}}, "stream must be"),
    ({"A": {"n": 1, "fds": "many"}}, "fds must be"),
    ({"A": {"n": 1, "msg_type": "nosuch"}}, "msg_type"),
    ({"A": {"n": 1, "colour": "red"}}, "unknown keys"),
    ({"A": {"n": 1}, "B": {"n": 1}}, "duplicate procedure numbers"),
])
def test_bad_descriptions_are_refused(procs: dict[str, Any], message: str) -> None:
    with pytest.raises(wire.WireError, match=message):
        parse_with(procs)


def test_tables_need_a_declared_program() -> None:
    with pytest.raises(wire.WireError, match="undeclared programs"):
        wire.parse({**BASE, "OTHER": {}})


def test_notation_resolves_to_codecs() -> None:
    w = parse_with({"A": {"n": 7, "args": "dom, dom? other, str? s, uuid u, char c[N], "
                                          "uchar d<N>, opaque o[3], opaque p<N>, i64 xs<N>, "
                                          "str names[2], bool from"}})
    f = {x.name: x for x in w.programs[0].procs[0].args.fields}  # type: ignore[union-attr]
    assert (f["dom"].codec, f["dom"].hint) == ("REMOTE_NONNULL_DOMAIN", "RemoteNonnullDomain")
    assert f["other"].codec == "xdr.optional(REMOTE_NONNULL_DOMAIN)"
    assert (f["s"].codec, f["s"].hint) == ("_OSTR", "str | None")
    assert f["u"].codec == "_UUID"
    assert f["c"].codec == "xdr.char_array_fixed(N, True)"
    assert f["d"].codec == "xdr.char_array(N, False)"
    assert (f["o"].codec, f["p"].codec) == ("xdr.opaque_fixed(3)", "xdr.opaque(N)")
    assert (f["xs"].codec, f["xs"].hint) == ("xdr.array(xdr.I64, N)", "list[int]")
    assert f["names"].codec == "xdr.array_fixed(_STR, 2)"
    assert f["from"].py == "from_"


def test_names() -> None:
    assert wire.camel("remote_nonnull_domain") == "RemoteNonnullDomain"
    assert wire.camel("virNetStreamHole") == "VirNetStreamHole"
    assert wire.constant("virNetStreamHole") == "VIR_NET_STREAM_HOLE"
    assert wire.constant("remote_error") == "REMOTE_ERROR"


def test_program_tables_refuse_duplicates() -> None:
    a = Procedure(5, 1, "A")
    with pytest.raises(ValueError, match="duplicate"):
        Program.build("X", 5, 1, [a, Procedure(5, 1, "B")])
    with pytest.raises(ValueError, match="does not belong"):
        Program.build("X", 6, 1, [a])
    prog = Program.build("X", 5, 1, [a])
    assert prog["A"] is prog[1] is a and prog.get(2) is None
