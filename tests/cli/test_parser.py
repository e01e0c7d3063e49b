"""Unit tests of pyvirsh's parsing: words from a command string, options bound the way
virsh 9.0 binds them, and virsh's messages for malformed input."""
from __future__ import annotations

import pytest

from pyvirt.cli.options import Command, Opt, OptType, _check, bool_opt, data_opt
from pyvirt.cli.parser import SUBCMD_END, ParseError, parse_argv, parse_string, tokenize_string


def words(text: str) -> list[object]:
    return ["|" if t is SUBCMD_END else t for t in tokenize_string(text)]


@pytest.mark.parametrize("text, expected", [
    ("list --all", ["list", "--all"]),
    ("  list\t--all  ", ["list", "--all"]),
    ("a;b", ["a", "|", "b"]),
    ("a ; b", ["a", "|", "b"]),
    ("a\nb", ["a", "|", "b"]),
    ("'te'\"st\"", ["test"]),
    ("'a b' \"c d\"", ["a b", "c d"]),
    ("a\\ b", ["a b"]),
    ("'a\\b'", ["a\\b"]),              # no escapes inside single quotes
    ('"a\\"b"', ['a"b']),              # but there are inside double quotes
    ("'x;y'", ["x;y"]),
    ("'unterminated", ["unterminated"]),   # virsh accepts an open single quote
    ("uri #x; y\nhostname", ["uri", "|", "hostname"]),  # '#' comments out the line
    ("a#b", ["a#b"]),                  # only at the start of a word
    ("''", [""]),
    ("a \\\n b", ["a", "b"]),          # backslash-newline is a blank
])
def test_words(text: str, expected: list[object]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize("text, message", [
    ('domstate "test', 'missing "'),
    ("domstate test\\", "dangling \\"),
])
def test_word_errors(text: str, message: str) -> None:
    with pytest.raises(ParseError) as e:
        parse_string(text)
    assert e.value.messages == [message]


def test_positional_and_named() -> None:
    (pc,) = parse_string("setmem test 1G --config")
    assert pc.name == "setmem"
    assert pc.values == {"domain": "test", "size": "1G", "config": True}
    (pc,) = parse_string("setmem --size=1G --domain test")
    assert pc.values == {"size": "1G", "domain": "test"}
    (pc,) = parse_string("setmem --size 1G test")   # test fills the first unfilled: domain
    assert pc.values == {"size": "1G", "domain": "test"}


def test_optional_strings_are_positional_unless_named_only() -> None:
    (pc,) = parse_string("vol-info v1 default-pool")
    assert pc.values == {"vol": "v1", "pool": "default-pool"}
    (pc,) = parse_string("pool-list dir")
    assert pc.values == {"type": "dir"}
    with pytest.raises(ParseError) as e:
        parse_string("dumpxml test //name")     # --xpath must be named
    assert e.value.messages == ["unexpected data '//name'"]


def test_argv_collects_the_rest() -> None:
    (pc,) = parse_string("qemu-monitor-command test --hmp info status")
    assert pc.values == {"domain": "test", "hmp": True, "cmd": ["info", "status"]}
    (pc,) = parse_string("qemu-monitor-command test --cmd a --cmd b")
    assert pc.argv("cmd") == ["a", "b"]


def test_double_dash_makes_words_data() -> None:
    (pc,) = parse_string("domstate -- --reason")
    assert pc.values == {"domain": "--reason"}


def test_several_commands() -> None:
    cmds = parse_string("list; domstate test --reason;; uri")
    assert [c.name for c in cmds] == ["list", "domstate", "uri"]


def test_argv_mode_does_not_split() -> None:
    with pytest.raises(ParseError) as e:
        parse_argv(["uri", ";", "hostname"])
    assert e.value.messages == ["unexpected data ';'"]


def test_help_option_turns_into_help() -> None:
    (pc,) = parse_string("domstate --help")
    assert pc.name == "help" and pc.values == {"command": "domstate"}
    (pc,) = parse_string("help --bogus list extra")  # help ignores what it does not know
    assert pc.values == {"command": "list"}


def test_alias_option() -> None:
    (pc,) = parse_string("undefine test --remove-all-storage --delete-snapshots")
    assert pc.values == {"domain": "test", "remove-all-storage": True,
                         "delete-storage-volume-snapshots": True}


@pytest.mark.parametrize("text, messages", [
    ("nosuch", ["unknown command: 'nosuch'"]),
    ("list --nosuch", ["command 'list' doesn't support option --nosuch"]),
    ("dominfo", ["command 'dominfo' requires <domain> option"]),
    ("dominfo test extra", ["unexpected data 'extra'"]),
    ("domstate --reason=x test", ["invalid '=' after option --reason"]),
    ("domstate --help=3", ["invalid '=' after option --help"]),
    ("domstate test --domain", ["option --domain already seen"]),
    ("domstate test --domain test", ["option --domain already seen"]),
    ("event --timeout", ["expected syntax: --timeout <number>"]),
    ("event --domain", ["expected syntax: --domain <string>"]),
    ("list -all", ["unexpected data '-all'"]),
    ("vol-create-as", ["command 'vol-create-as' requires <pool> option",
                       "command 'vol-create-as' requires <name> option",
                       "command 'vol-create-as' requires <capacity> option"]),
    ("qemu-monitor-command test", ["command 'qemu-monitor-command' requires <cmd> option"]),
    ("list; nosuch", ["unknown command: 'nosuch'"]),   # nothing runs if any part is bad
])
def test_errors(text: str, messages: list[str]) -> None:
    with pytest.raises(ParseError) as e:
        parse_string(text)
    assert e.value.messages == messages


def _cmd(*opts: Opt) -> Command:
    return Command("t", lambda ctl, pc: True, tuple(opts), "help")


def test_definitions_are_checked() -> None:
    with pytest.raises(ValueError):
        _check(_cmd(Opt("b", OptType.BOOL, required=True)))
    with pytest.raises(ValueError):
        _check(_cmd(bool_opt("x", ""), Opt("s", OptType.STRING), data_opt("d", "")))
    with pytest.raises(ValueError):
        _check(_cmd(Opt("a", OptType.ARGV), bool_opt("x", "")))
    with pytest.raises(ValueError):
        _check(_cmd(Opt("al", OptType.ALIAS, "nothing")))
    _check(_cmd(data_opt("d", ""), bool_opt("x", "")))
