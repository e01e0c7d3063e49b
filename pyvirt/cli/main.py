"""pyvirsh's entry point: global options, choosing the URI, then one command string, one
command given as words, or the interactive shell.

Global options follow virsh's getopt_long("+:c:d:e:hk:K:l:qrtvV") parsing: short
options may be bundled (-qc URI), long ones abbreviated (--conn=URI), and option
parsing stops at the first word that is not an option. The URI is -c/--connect, else
$VIRSH_DEFAULT_CONNECT_URI, else pyvirt's default ($LIBVIRT_DEFAULT_URI, then
pyvirt.uri.default_uri()).
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import IO

from .control import Control

__all__ = ["GlobalOptions", "UsageError", "main", "parse_global_options"]

PROGNAME = "pyvirsh"

# long name -> (short letter, takes an argument: "required" | "optional" | "none")
_LONG = {
    "connect": ("c", "required"), "debug": ("d", "required"), "escape": ("e", "required"),
    "help": ("h", "none"), "keepalive-interval": ("k", "required"),
    "keepalive-count": ("K", "required"), "log": ("l", "required"),
    "quiet": ("q", "none"), "readonly": ("r", "none"), "timing": ("t", "none"),
    "version": ("v", "optional"),
}
_SHORT_WITH_ARG = set("cdekKl")
_SHORT_FLAGS = set("hqrtvV")


class UsageError(Exception):
    """A bad global option: printed as 'error: ...', exit status 1."""


class GlobalOptions:
    def __init__(self) -> None:
        self.uri: str | None = None
        self.debug: int | None = None
        self.escape: str | None = None
        self.keepalive_interval: int | None = None
        self.keepalive_count: int | None = None
        self.log: str | None = None
        self.quiet = False
        self.readonly = False
        self.timing = False
        self.help = False
        self.version: str | None = None   # "short" or "long"
        self.warnings: list[str] = []
        self.rest: list[str] = []


def _long_name(arg: str) -> tuple[str, str | None]:
    """The long option an argument names (exact or unique prefix) and its =value."""
    body, eq, value = arg[2:].partition("=")
    if body in _LONG:
        return body, (value if eq else None)
    candidates = [n for n in _LONG if n.startswith(body)] if body else []
    if len(candidates) != 1:
        raise UsageError(f"unsupported option '{arg}'. See --help.")
    return candidates[0], (value if eq else None)


def _apply(opts: GlobalOptions, letter: str, value: str | None) -> None:
    if letter == "c":
        opts.uri = value
    elif letter == "d":
        assert value is not None
        try:
            level = int(value, 10)
        except ValueError:
            raise UsageError("option -d takes a numeric argument") from None
        if not 0 <= level <= 4:
            opts.warnings.append(f"ignoring debug level {level} out of range [0-4]")
        else:
            opts.debug = level
    elif letter == "e":
        assert value is not None
        # '^' plus a letter or one of @[\]^_ (a control character), or any one character
        if not ((len(value) == 2 and value[0] == "^"
                 and ("a" <= value[1] <= "z" or "@" <= value[1] <= "_"))
                or (len(value) == 1 and value != "^")):
            raise UsageError(f"Invalid string '{value}' for escape sequence")
        opts.escape = value
    elif letter in "kK":
        assert value is not None
        try:
            number = int(value, 10)
        except ValueError:
            number = -1
        if number < 0:
            which = "-k" if letter == "k" else "-K"
            raise UsageError(f"option {which} requires a positive integer argument")
        if letter == "k":
            opts.keepalive_interval = number
        else:
            opts.keepalive_count = number
    elif letter == "l":
        opts.log = value
    elif letter == "q":
        opts.quiet = True
    elif letter == "r":
        opts.readonly = True
    elif letter == "t":
        opts.timing = True
    elif letter == "h":
        opts.help = True
    elif letter == "v":
        opts.version = "long" if value == "long" else "short"
    elif letter == "V":
        opts.version = "long"


def _requires(letter: str) -> UsageError:
    long = next(n for n, (s, _) in _LONG.items() if s == letter)
    return UsageError(f"option '-{letter}'/'--{long}' requires an argument")


def parse_global_options(argv: Sequence[str]) -> GlobalOptions:
    """Parse the options before the command; the rest is left in `.rest`."""
    opts = GlobalOptions()
    i = 0
    args = list(argv)
    while i < len(args):
        arg = args[i]
        if arg == "--":
            i += 1
            break
        if arg.startswith("--"):
            name, value = _long_name(arg)
            letter, kind = _LONG[name]
            if kind == "none" and value is not None:
                raise UsageError(f"unsupported option '{arg}'. See --help.")
            if kind == "required" and value is None:
                if i + 1 >= len(args):
                    raise _requires(letter)
                i += 1
                value = args[i]
            _apply(opts, letter, value)
            i += 1
            continue
        if arg.startswith("-") and arg != "-":
            j = 1
            while j < len(arg):
                letter = arg[j]
                if letter in _SHORT_WITH_ARG:
                    value = arg[j + 1:]
                    if not value:
                        if i + 1 >= len(args):
                            raise _requires(letter)
                        i += 1
                        value = args[i]
                    _apply(opts, letter, value)
                    break
                if letter not in _SHORT_FLAGS:
                    raise UsageError(f"unsupported option '-{letter}'. See --help.")
                _apply(opts, letter, None)
                j += 1
            i += 1
            continue
        break  # the first non-option word starts the command ('+' in getopt's spec)
    opts.rest = args[i:]
    return opts


def _version_text(long: bool) -> str:
    import pyvirt
    level = pyvirt.get_version()
    short = f"{level // 1000000}.{level // 1000 % 1000}.{level % 1000}"
    if not long:
        return short + "\n"
    return (f"{PROGNAME} command line tool of pyvirt {pyvirt.__version__} "
            f"(libvirt API {short})\n")


def main(argv: Sequence[str] | None = None, *, stdin: IO[str] | None = None,
         stdout: IO[str] | None = None, stderr: IO[str] | None = None,
         hooks: Sequence[Callable[[str], None]] = ()) -> int:
    """Run pyvirsh with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        opts = parse_global_options(args)
    except UsageError as e:
        err.write(f"error: {e}\n")
        return 1
    for warning in opts.warnings:
        err.write(f"error: {warning}\n")
    if opts.help:
        from .help import usage
        from .options import groups
        out.write(usage(PROGNAME, groups()))
        return 0
    if opts.version is not None:
        out.write(_version_text(opts.version == "long"))
        return 0

    uri = opts.uri if opts.uri is not None else os.environ.get("VIRSH_DEFAULT_CONNECT_URI")
    ctl = Control(uri=uri, readonly=opts.readonly, quiet=opts.quiet, timing=opts.timing,
                  stdout=out, stderr=err, stdin=stdin, progname=PROGNAME)
    ctl.hooks.extend(hooks)
    if opts.escape is not None:
        ctl.escape_char = opts.escape
    if opts.keepalive_interval is not None:
        ctl.keepalive_interval, ctl.keepalive_forced = opts.keepalive_interval, True
    if opts.keepalive_count is not None:
        ctl.keepalive_count, ctl.keepalive_forced = opts.keepalive_count, True
    # virsh opens the connection before running anything, help included
    if not ctl.open(uri, opts.readonly):
        ctl.report_error()
        return 1
    try:
        if not opts.rest:
            from .shell import interactive
            return interactive(ctl)
        from .runner import run_argv, run_string
        if len(opts.rest) == 1:
            ok = run_string(ctl, opts.rest[0])
        else:
            ok = run_argv(ctl, opts.rest)
        return 0 if ok else 1
    finally:
        ctl.flush()
        ctl.close()

