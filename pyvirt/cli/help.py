"""Help text: one command's NAME/SYNOPSIS/OPTIONS page, a group listing, the global list.

Laid out exactly as virsh 9.0's vshCmddefHelp, vshCmdGrpHelp and vshUsage print them.
"""
from __future__ import annotations

from .options import Command, Group, OptType

__all__ = ["all_groups_help", "command_help", "group_help", "usage"]


def _shortopt(cmd: Command) -> bool:
    """Whether some option may be given positionally, which changes how ARGV is shown."""
    return any(o.type in (OptType.INT, OptType.STRING, OptType.DATA) and not o.named_only
               for o in cmd.opts)


def _synopsis_item(cmd: Command, o_index: int) -> str | None:
    o = cmd.opts[o_index]
    short = any(p.type in (OptType.INT, OptType.STRING, OptType.DATA) and not p.named_only
                for p in cmd.opts[:o_index])
    if o.type is OptType.BOOL:
        return f"[--{o.name}]"
    if o.type is OptType.INT:
        return f"<{o.name}>" if o.required else f"[--{o.name} <number>]"
    if o.type is OptType.STRING:
        return f"[--{o.name} <string>]"
    if o.type is OptType.DATA:
        return f"<{o.name}>" if o.required else f"[<{o.name}>]"
    if o.type is OptType.ARGV:
        if short:
            return (f"{{[--{o.name}] <string>}}..." if o.required
                    else f"[[--{o.name}] <string>]...")
        return f"<{o.name}>..." if o.required else f"[<{o.name}>]..."
    return None  # aliases are intentionally undocumented


def _options_item(cmd: Command, o_index: int) -> str | None:
    o = cmd.opts[o_index]
    if o.type is OptType.BOOL:
        return f"--{o.name}"
    if o.type is OptType.INT:
        return f"[--{o.name}] <number>" if o.required else f"--{o.name} <number>"
    if o.type is OptType.STRING:
        return f"--{o.name} <string>"
    if o.type is OptType.DATA:
        return f"[--{o.name}] <string>"
    if o.type is OptType.ARGV:
        return f"[--{o.name}] <string>" if _shortopt(cmd) else f"<{o.name}>"
    return None


def command_help(cmd: Command) -> str:
    """The page `help CMD` prints (it ends with one blank line)."""
    out = ["  NAME\n", f"    {cmd.name} - {cmd.help}\n", "\n  SYNOPSIS\n", f"    {cmd.name}"]
    for i in range(len(cmd.opts)):
        item = _synopsis_item(cmd, i)
        if item is not None:
            out.append(" " + item)
    out.append("\n")
    if cmd.desc:
        out.append(f"\n  DESCRIPTION\n    {cmd.desc}\n")
    if cmd.opts:
        out.append("\n  OPTIONS\n")
        for i, o in enumerate(cmd.opts):
            item = _options_item(cmd, i)
            if item is not None:
                out.append(f"    {item:<15}  {o.help}\n")
    out.append("\n")
    return "".join(out)


def group_help(grp: Group) -> str:
    """A group's command list, as `help KEYWORD` prints it."""
    lines = [f" {grp.title} (help keyword '{grp.keyword}'):\n"]
    for c in grp.commands:
        if not c.alias:
            lines.append(f"    {c.name:<30} {c.help}\n")
    return "".join(lines)


def all_groups_help(groups: list[Group]) -> str:
    """What `help` with no argument prints."""
    return "Grouped commands:\n\n" + "".join(group_help(g) + "\n" for g in groups)


def usage(progname: str, groups: list[Group]) -> str:
    """What `pyvirsh -h` prints: the option summary, then every command (vshUsage)."""
    text = [f"\n{progname} [options]... [<command_string>]\n",
            f"{progname} [options]... <command> [args...]\n\n",
            "  options:\n",
            "    -c | --connect=URI      hypervisor connection URI\n",
            "    -d | --debug=NUM        debug level [0-4]\n",
            "    -e | --escape <char>    set escape sequence for console\n",
            "    -h | --help             this help\n",
            "    -k | --keepalive-interval=NUM\n",
            "                            keepalive interval in seconds, 0 for disable\n",
            "    -K | --keepalive-count=NUM\n",
            "                            number of possible missed keepalive messages\n",
            "    -l | --log=FILE         output logging to file\n",
            "    -q | --quiet            quiet mode\n",
            "    -r | --readonly         connect readonly\n",
            "    -t | --timing           print timing information\n",
            "    -v                      short version\n",
            "    -V                      long version\n",
            "         --version[=TYPE]   version, TYPE is short or long (default short)\n",
            "  commands (non interactive mode):\n\n"]
    for g in groups:
        text.append(f" {g.title} (help keyword '{g.keyword}')\n")
        for c in g.commands:
            if not c.alias:
                text.append(f"    {c.name:<30} {c.help}\n")
        text.append("\n")
    text.append("\n  (specify help <group> for details about the commands in the group)\n")
    text.append("\n  (specify help <command> for details about the command)\n\n")
    return "".join(text)
