"""Running parsed commands one after another, with virsh's error reporting and spacing.

As vshCommandRun: each command runs (after making sure a connection exists, unless it
needs none); a failure prints the library's error after the handler's own message; a
blank line (or, with --timing, the elapsed time) follows every command but quit/exit;
the result is the last command's.
"""
from __future__ import annotations

import time

from ..errors import libvirtError
from .control import CommandFailed, Control
from .parser import ParsedCommand, ParseError, parse_argv, parse_string

__all__ = ["invoke", "run_argv", "run_commands", "run_string"]


def invoke(ctl: Control, pc: ParsedCommand) -> bool:
    """Call one handler; True when it succeeded."""
    try:
        return pc.cmd.handler(ctl, pc) is not False
    except CommandFailed:
        return False
    except libvirtError as e:
        # an API error the handler did not word itself: only the library's message
        ctl.save_error(e)
        return False


def run_commands(ctl: Control, cmds: list[ParsedCommand]) -> bool:
    ok = True
    for pc in cmds:
        started = time.monotonic()
        ctl.reset_error()
        if pc.cmd.no_connect or ctl.ensure_connected():
            ok = invoke(ctl, pc)
        else:
            ok = False
        elapsed_ms = (time.monotonic() - started) * 1000.0
        if not ok:
            ctl.report_error()
        if pc.name in ("quit", "exit"):
            return ok
        if ctl.timing:
            ctl.print(f"\n(Time: {elapsed_ms:.3f} ms)\n\n")
        else:
            ctl.print_extra("\n")
        ctl.flush()
    return ok


def _report(ctl: Control, e: ParseError) -> bool:
    for message in e.messages:
        ctl.error(message)
    return False


def run_string(ctl: Control, text: str) -> bool:
    """Parse and run a command string ('list; domstate test'); False if any part is
    malformed (then nothing runs) or if the last command failed."""
    try:
        cmds = parse_string(text)
    except ParseError as e:
        return _report(ctl, e)
    return run_commands(ctl, cmds)


def run_argv(ctl: Control, argv: list[str]) -> bool:
    """Parse and run one command given as separate words."""
    try:
        cmds = parse_argv(argv)
    except ParseError as e:
        return _report(ctl, e)
    return run_commands(ctl, cmds)
