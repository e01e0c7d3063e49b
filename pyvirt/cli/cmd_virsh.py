"""Commands about the shell itself: help, quit/exit, connect, echo, cd, pwd."""
from __future__ import annotations

import os

from .control import Control
from .help import all_groups_help, command_help, group_help
from .options import argv_opt, bool_opt, command, group, groups, lookup, string_opt
from .parser import ParsedCommand

_V = "virsh"


@command("cd", group=_V, no_connect=True, help="change the current directory",
         desc="Change the current directory.",
         opts=[string_opt("dir", "directory to switch to (default: home or else root)")])
def cmd_cd(ctl: Control, pc: ParsedCommand) -> bool:
    if not ctl.interactive:
        raise ctl.fail("cd: command valid only in interactive mode")
    target = ctl.opt_string(pc, "dir")
    if target is None:
        target = os.environ.get("HOME") or "/"
    try:
        os.chdir(target)
    except OSError:
        raise ctl.fail(f"cd: Unable to change to {target}") from None
    return True


_SHELL_SPECIAL = set("\t\n !\"#$&'()*;<>?[\\]^`{|}~")


def _shell_quote(arg: str) -> str:
    """virBufferEscapeShell: as is when harmless, else '...' with ' written as '\\''."""
    if arg == "":
        return "''"
    if not any(ch in _SHELL_SPECIAL for ch in arg):
        return arg
    return "'" + arg.replace("'", "'\\''") + "'"


def _xml_escape(arg: str) -> str:
    return (arg.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&apos;"))


def _split(arg: str) -> list[str]:
    """vshStringToArray: split on ',', with ',,' standing for a literal comma."""
    pieces, cur, i = [], [], 0
    while i < len(arg):
        if arg[i] == ",":
            if arg[i + 1:i + 2] == ",":
                cur.append(",")
                i += 2
                continue
            pieces.append("".join(cur))
            cur = []
        else:
            cur.append(arg[i])
        i += 1
    pieces.append("".join(cur))
    return pieces


@command("echo", group=_V, no_connect=True,
         help="echo arguments. Used for internal testing.",
         desc="Echo back arguments, possibly with quoting. Used for internal testing.",
         opts=[bool_opt("shell", "escape for shell use"),
               bool_opt("xml", "escape for XML use"),
               bool_opt("split", "split each argument on ','; ',,' is an escape sequence"),
               bool_opt("err", "output to stderr"),
               argv_opt("string", "arguments to echo")])
def cmd_echo(ctl: Control, pc: ParsedCommand) -> bool:
    ctl.exclusive(pc, "shell", "split")
    ctl.exclusive(pc, "xml", "split")
    words = []
    for arg in pc.argv("string"):
        if pc.flag("split"):
            # each piece on a line of its own, as virsh prints them
            words.append("".join(piece + "\n" for piece in _split(arg)))
            continue
        if pc.flag("shell"):
            arg = _shell_quote(arg)
        if pc.flag("xml"):
            arg = _xml_escape(arg)
        words.append(arg)
    text = " ".join(words)
    if pc.flag("err"):
        ctl.error(text)
    else:
        ctl.print(text)   # no newline: the blank line after each command ends it
    return True


@command("exit", group=_V, no_connect=True, help="quit this interactive terminal")
def cmd_exit(ctl: Control, pc: ParsedCommand) -> bool:
    ctl.interactive = False
    return True


@command("help", group=_V, no_connect=True, help="print help",
         desc="Prints global help, command specific help, or help for a\n"
              "    group of related commands",
         opts=[string_opt("command", "Prints global help, command specific help, or help "
                                     "for a group of related commands")])
def cmd_help(ctl: Control, pc: ParsedCommand) -> bool:
    name = pc.string("command")
    if name is None:
        # help goes straight to stdout in virsh, so --quiet does not hide it
        ctl.print(all_groups_help(groups()))
        return True
    cmd = lookup(name)
    if cmd is not None:
        ctl.print(command_help(cmd))
        return True
    grp = group(name)
    if grp is not None:
        ctl.print(group_help(grp))
        return True
    raise ctl.fail(f"command or command group '{name}' doesn't exist")


@command("pwd", group=_V, no_connect=True, help="print the current directory",
         desc="Print the current directory.")
def cmd_pwd(ctl: Control, pc: ParsedCommand) -> bool:
    try:
        cwd = os.getcwd()
    except OSError as e:
        raise ctl.fail(f"pwd: cannot get current directory: {os.strerror(e.errno or 0)}") \
            from None
    ctl.print(f"{cwd}\n")
    return True


@command("quit", group=_V, no_connect=True, help="quit this interactive terminal")
def cmd_quit(ctl: Control, pc: ParsedCommand) -> bool:
    ctl.interactive = False
    return True


@command("connect", group=_V, no_connect=True, help="(re)connect to hypervisor",
         desc="Connect to local hypervisor. This is built-in command after shell start up.",
         opts=[string_opt("name", "hypervisor connection URI"),
               bool_opt("readonly", "read-only connection")])
def cmd_connect(ctl: Control, pc: ParsedCommand) -> bool:
    name = ctl.opt_string(pc, "name")
    readonly = pc.flag("readonly")
    # reconnecting to the current URI keeps its read-only mode unless asked otherwise
    if not readonly and name is None:
        readonly = ctl.readonly
    if not ctl.open(name if name is not None else ctl.connname, readonly):
        return False
    # only a successful connect changes what later reconnects go to, as in virsh
    if name is not None:
        ctl.connname = name
    ctl.readonly = readonly
    return True
