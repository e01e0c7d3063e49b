"""Command-line parsing: splitting input into commands and binding their options, as virsh.

Two token sources, as in virsh's vsh.c (libvirt 9.0):
- a command string (one shell argument, or a line of the interactive shell): words split
  on blanks, quoted with '...' or "...", backslash escapes outside single quotes, ';' or a
  newline ends a command, a word starting with '#' comments out the rest of the line;
- an argv list (several shell arguments): each argument is one word, verbatim.

Binding follows vshCommandParse: the first word names the command; ``--name value``,
``--name=value`` and boolean ``--flag`` bind options; other words fill the positional
options in definition order; ``--`` makes every later word positional; ``--help``
anywhere turns the command into ``help COMMAND``. Any error rejects the whole input and
nothing runs, with virsh's message.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from .options import Command, Opt, OptType, lookup

__all__ = ["ParseError", "ParsedCommand", "parse_argv", "parse_string", "tokenize_string"]


class ParseError(Exception):
    """Input virsh would refuse to run; each message is one 'error: ...' line."""

    def __init__(self, *messages: str) -> None:
        super().__init__(*messages)
        self.messages = list(messages)

    def __str__(self) -> str:
        return "\n".join(self.messages)


class _SubEnd:
    """Marks the end of one command in a string (';', newline or a comment)."""


SUBCMD_END = _SubEnd()
Token = str | _SubEnd


def tokenize_string(text: str) -> Iterator[Token]:
    """Words and command separators of a command string (vshCommandStringGetArg)."""
    pos, n = 0, len(text)
    while True:
        while pos < n and (text[pos] in " \t" or text.startswith("\\\n", pos)):
            pos += 2 if text[pos] == "\\" else 1
        if pos >= n:
            return
        ch = text[pos]
        if ch in ";\n":
            pos += 1
            yield SUBCMD_END
            continue
        if ch == "#":
            # a word starting with '#' comments out the rest of the line
            end = text.find("\n", pos)
            pos = n if end < 0 else end + 1
            yield SUBCMD_END
            continue
        word: list[str] = []
        single = double = False
        while pos < n:
            ch = text[pos]
            if not single and not double and ch in " \t;\n":
                break
            if not double and ch == "'":
                single = not single
                pos += 1
                continue
            if not single and ch == "\\":
                pos += 1
                if pos >= n:
                    raise ParseError("dangling \\")
            elif not single and ch == '"':
                double = not double
                pos += 1
                continue
            word.append(text[pos])
            pos += 1
        if double:
            raise ParseError('missing "')
        # an unterminated single quote is accepted, as virsh does
        yield "".join(word)


@dataclass
class ParsedCommand:
    """One command with its bound options; values are str, True (bools) or list[str]."""
    cmd: Command
    values: dict[str, str | bool | list[str]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.cmd.name

    def has(self, name: str) -> bool:
        """Whether the option was given (vshCommandOptBool: any type)."""
        return name in self.values

    def flag(self, name: str) -> bool:
        return name in self.values

    def string(self, name: str) -> str | None:
        v = self.values.get(name)
        return v if isinstance(v, str) else None

    def argv(self, name: str) -> list[str]:
        v = self.values.get(name)
        return list(v) if isinstance(v, list) else []


class _Binder:
    """State of binding the words of one command (virsh's opts_need_arg / opts_seen)."""

    def __init__(self, cmd: Command) -> None:
        self.cmd = cmd
        self.parsed = ParsedCommand(cmd)
        self.need: list[Opt] = [o for o in cmd.opts if o.positional]
        self.seen: set[str] = set()
        self.help = False

    def named(self, word: str, next_word: _Next) -> None:
        name, eq, value = word[2:].partition("=")
        value_given: str | None = value if eq else None
        if name == "help":
            # --help (a bool of every command) replaces the command by 'help CMD'
            if value_given is not None:
                raise ParseError("invalid '=' after option --help")
            self.help = True
            return
        opt = self.cmd.opt(name)
        if opt is not None and opt.type is OptType.ALIAS:
            target, has_value, alias_value = opt.help.partition("=")
            if has_value:
                if value_given is not None:
                    raise ParseError(f"invalid '=' after option --{name}")
                value_given = alias_value
            name = target
            opt = self.cmd.opt(target)
        if opt is None:
            if self.cmd.name == "help":
                return  # help ignores options it does not know, as in virsh
            raise ParseError(f"command '{self.cmd.name}' doesn't support option --{name}")
        if opt.name in self.seen and opt.type is not OptType.ARGV:
            raise ParseError(f"option --{opt.name} already seen")
        self.seen.add(opt.name)
        if opt.type is OptType.BOOL:
            if value_given is not None:
                raise ParseError(f"invalid '=' after option --{opt.name}")
            self.parsed.values[opt.name] = True
            return
        if value_given is None:
            nxt = next_word()
            if nxt is None:
                kind = "number" if opt.type is OptType.INT else "string"
                raise ParseError(f"expected syntax: --{opt.name} <{kind}>")
            value_given = nxt
        if opt.type is not OptType.ARGV and opt in self.need:
            self.need.remove(opt)
        self._store(opt, value_given)

    def positional(self, word: str) -> None:
        if not self.need:
            if self.cmd.name == "help":
                return  # help ignores spurious data, as in virsh
            raise ParseError(f"unexpected data '{word}'")
        opt = self.need[0]
        if opt.type is not OptType.ARGV:
            self.need.pop(0)
        self.seen.add(opt.name)
        self._store(opt, word)

    def _store(self, opt: Opt, value: str) -> None:
        if opt.type is OptType.ARGV:
            current = self.parsed.values.setdefault(opt.name, [])
            assert isinstance(current, list)
            current.append(value)
        else:
            self.parsed.values[opt.name] = value

    def finish(self) -> ParsedCommand:
        if self.help:
            help_cmd = lookup("help")
            assert help_cmd is not None
            return ParsedCommand(help_cmd, {"command": self.cmd.name})
        missing = [o for o in self.cmd.opts if o.required and o.name not in self.seen]
        if missing:
            # virsh reports every missing option, then gives up
            msgs = []
            for o in missing:
                shape = f"<{o.name}>" if o.type in (OptType.DATA, OptType.ARGV) else f"--{o.name}"
                msgs.append(f"command '{self.cmd.name}' requires {shape} option")
            raise ParseError(*msgs)
        return self.parsed


class _Next:
    """Pulls the next word for an option's value; None when the command ends instead
    (which is an error, so the separator it consumed is not needed afterwards)."""

    def __init__(self, tokens: Iterator[Token]) -> None:
        self.tokens = tokens

    def __call__(self) -> str | None:
        tok = next(self.tokens, None)
        return tok if isinstance(tok, str) else None


def _parse(tokens: Iterator[Token]) -> list[ParsedCommand]:
    result: list[ParsedCommand] = []
    while True:
        binder: _Binder | None = None
        data_only = False
        end: Token | None = None
        nxt = _Next(tokens)
        while True:
            tok = next(tokens, None)
            if not isinstance(tok, str):
                end = tok
                break
            if binder is None:
                cmd = lookup(tok)
                if cmd is None:
                    raise ParseError(f"unknown command: '{tok}'")
                binder = _Binder(cmd)
            elif not data_only and tok.startswith("--") and len(tok) > 2 and tok[2].isalnum():
                binder.named(tok, nxt)
            elif not data_only and tok == "--":
                data_only = True
            else:
                binder.positional(tok)
        if binder is not None:
            result.append(binder.finish())
        if end is None:
            return result


def parse_string(text: str) -> list[ParsedCommand]:
    """Parse a command string: one or more commands separated by ';' or newlines."""
    return _parse(tokenize_string(text))


def parse_argv(argv: Sequence[str]) -> list[ParsedCommand]:
    """Parse the words of one command given as separate arguments (no ';' splitting)."""
    return _parse(iter(list(argv)))
