"""Unit tests of pyvirsh's global options and start-up (no virsh needed)."""
from __future__ import annotations

import io

import pytest

from pyvirt.cli.main import UsageError, main, parse_global_options


def test_options_stop_at_the_command() -> None:
    o = parse_global_options(["-q", "-c", "test:///default", "list", "-q", "--all"])
    assert (o.quiet, o.uri, o.rest) == (True, "test:///default", ["list", "-q", "--all"])


@pytest.mark.parametrize("argv, uri, quiet, readonly", [
    (["-qrc", "x:///"], "x:///", True, True),
    (["-cx:///"], "x:///", False, False),
    (["--connect=x:///"], "x:///", False, False),
    (["--conn", "x:///", "--read"], "x:///", False, True),
    (["--", "-c"], None, False, False),
])
def test_spellings(argv: list[str], uri: str | None, quiet: bool, readonly: bool) -> None:
    o = parse_global_options(argv)
    assert (o.uri, o.quiet, o.readonly) == (uri, quiet, readonly)


@pytest.mark.parametrize("argv, message", [
    (["-c"], "option '-c'/'--connect' requires an argument"),
    (["--log"], "option '-l'/'--log' requires an argument"),
    (["-x"], "unsupported option '-x'. See --help."),
    (["--bogus"], "unsupported option '--bogus'. See --help."),
    (["--keep", "1"], "unsupported option '--keep'. See --help."),   # ambiguous prefix
    (["--quiet=1"], "unsupported option '--quiet=1'. See --help."),
    (["-d", "x"], "option -d takes a numeric argument"),
    (["-k", "-1"], "option -k requires a positive integer argument"),
    (["-K", "x"], "option -K requires a positive integer argument"),
])
def test_bad_options(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_global_options(argv)
    assert str(e.value) == message


def test_debug_out_of_range_is_a_warning() -> None:
    o = parse_global_options(["-d", "9"])
    assert o.warnings == ["ignoring debug level 9 out of range [0-4]"] and o.debug is None


def test_default_uri_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRSH_DEFAULT_CONNECT_URI", "test:///default")
    out = io.StringIO()
    assert main(["uri"], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "test:///default\n\n"


def test_libvirt_default_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIRSH_DEFAULT_CONNECT_URI", raising=False)
    monkeypatch.setenv("LIBVIRT_DEFAULT_URI", "test:///default")
    out = io.StringIO()
    assert main(["-q", "uri"], stdout=out, stderr=io.StringIO()) == 0
    assert out.getvalue() == "test:///default\n"


def test_connect_failure_exits_1() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["-c", "bogus:///x", "uri"], stdout=out, stderr=err) == 1
    assert out.getvalue() == ""
    assert err.getvalue().startswith("error: failed to connect to the hypervisor\nerror: ")


def test_version() -> None:
    out = io.StringIO()
    assert main(["-v"], stdout=out) == 0 and out.getvalue() == "9.0.0\n"
    out = io.StringIO()
    assert main(["-V"], stdout=out) == 0 and "libvirt API 9.0.0" in out.getvalue()


class _Dom:
    def __init__(self, name: str, ident: int, persistent: bool) -> None:
        self.name, self.id, self._persistent = name, ident, persistent

    def is_persistent(self) -> bool:
        return self._persistent


class _OldConn:
    """A connection whose driver lacks virConnectListAllDomains (and its filters)."""

    def __init__(self) -> None:
        self.doms = {"b": _Dom("b", -1, True), "A": _Dom("A", -1, False), "r": _Dom("r", 7, True),
                     "q": _Dom("q", 3, False)}

    def list_all_domains(self, flags: int) -> list[object]:
        from pyvirt.constants import ErrorDomain, ErrorNumber
        from pyvirt.errors import error
        raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virConnectListAllDomains")

    def list_domain_ids(self) -> list[int]:
        return [7, 3]

    def list_defined_domains(self) -> list[str]:
        return ["b", "A"]

    def lookup_domain_by_id(self, ident: int) -> _Dom:
        return next(d for d in self.doms.values() if d.id == ident)

    def lookup_domain_by_name(self, name: str) -> _Dom:
        return self.doms[name]


def test_list_falls_back_to_old_calls_and_filters_itself() -> None:
    from pyvirt.cli.cmd_dommon import collect_domains
    from pyvirt.cli.control import Control
    ctl = Control(stdout=io.StringIO(), stderr=io.StringIO())
    ctl.conn = _OldConn()  # type: ignore[assignment]
    # running by ID first, then inactive by name, case-insensitively
    assert [d.name for d in collect_domains(ctl, 1 | 2)] == ["q", "r", "A", "b"]
    assert [d.name for d in collect_domains(ctl, 1 | 2 | 4)] == ["r", "b"]   # persistent
    assert [d.name for d in collect_domains(ctl, 2 | 8)] == ["A"]            # transient
