"""The interactive shell: prompt, line reading (readline on a terminal), history, completion.

Like virsh's interactive mode: a welcome banner unless --quiet; the prompt is
'pyvirsh # ' ('pyvirsh > ' when read-only); each line may hold several commands
separated by ';'; `quit` or `exit` or end of input leaves; a line break follows the last
prompt. When input is not a terminal the line read is echoed after the prompt, as
GNU readline does, so a transcript reads the same either way.
"""
from __future__ import annotations

import os
from collections.abc import Callable

from .control import Control
from .runner import run_string

__all__ = ["interactive"]


def _history_file(progname: str) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, progname, "history")


def _completer(ctl: Control) -> Callable[[str, int], str | None]:
    """Complete command names at the start of a command, option names after it."""
    import readline

    from .options import groups

    names = sorted(c.name for g in groups() for c in g.commands)
    matches: list[str] = []

    def complete(text: str, state: int) -> str | None:
        nonlocal matches
        if state == 0:
            line = readline.get_line_buffer()[:readline.get_begidx()]
            current = line.split(";")[-1].split()
            if not current:
                matches = [n + " " for n in names if n.startswith(text)]
            else:
                from .options import lookup
                cmd = lookup(current[0])
                opts = [f"--{o.name}" for o in cmd.opts] if cmd is not None else []
                matches = [o + " " for o in opts + ["--help"] if o.startswith(text)]
        return matches[state] if state < len(matches) else None

    return complete


def _reader(ctl: Control) -> Callable[[str], str | None]:
    """A function that shows a prompt and returns the next line, None at end of input."""
    try:
        use_tty = ctl.inp.isatty() and ctl.out.isatty()
    except (AttributeError, ValueError):
        use_tty = False
    import sys
    if use_tty and ctl.inp is sys.stdin and ctl.out is sys.stdout:
        try:
            import readline
        except ImportError:  # no readline: plain input() still edits lines minimally
            readline = None  # type: ignore[assignment]
        if readline is not None:
            hist = _history_file(ctl.progname)
            try:
                readline.read_history_file(hist)
            except OSError:
                pass
            readline.set_completer(_completer(ctl))
            readline.set_completer_delims(" \t;")
            readline.parse_and_bind("tab: complete")
            import atexit

            def save() -> None:
                try:
                    os.makedirs(os.path.dirname(hist), exist_ok=True)
                    readline.set_history_length(500)
                    readline.write_history_file(hist)
                except OSError:
                    pass

            atexit.register(save)

        def read_tty(prompt: str) -> str | None:
            while True:
                try:
                    return input(prompt)
                except EOFError:
                    return None
                except KeyboardInterrupt:
                    # Ctrl-C abandons the line being typed, not the shell
                    ctl.print("\n")
                    continue

        return read_tty

    def read_pipe(prompt: str) -> str | None:
        ctl.print(prompt)
        ctl.flush()
        line = ctl.inp.readline()
        if not line:
            return None
        line = line.removesuffix("\n")
        ctl.print(line + "\n")
        return line

    return read_pipe


def interactive(ctl: Control) -> int:
    """Run the shell until quit/exit or end of input; the exit status is always 0."""
    ctl.interactive = True
    if not ctl.quiet:
        ctl.print(f"Welcome to {ctl.progname}, the virtualization interactive terminal.\n\n")
        ctl.print("Type:  'help' for help with commands\n       'quit' to quit\n\n")
    read = _reader(ctl)
    while ctl.interactive:
        prompt = f"{ctl.progname} > " if ctl.readonly else f"{ctl.progname} # "
        line = read(prompt)
        if line is None:
            break
        if line:
            run_string(ctl, line)
        ctl.flush()
    ctl.print("\n")
    ctl.flush()
    return 0
