"""Command and option definitions: the data that says what each pyvirsh command accepts.

Modelled on virsh's vshCmdDef / vshCmdOptDef tables (tools/vsh.h, libvirt 9.0), so that
parsing, help text and error messages can be derived from the same data as virsh's:

- BOOL    ``--name`` only, never takes a value;
- STRING  ``--name VALUE``; optional; may also be given positionally unless ``named_only``
          (virsh's VSH_OFLAG_REQ_OPT);
- INT     like STRING, but help text says ``<number>``; ``required`` INTs are positional
          arguments such as ``setmem DOMAIN SIZE``;
- DATA    a required positional string (``[--domain] <string>``);
- ARGV    every remaining positional argument (``qemu-monitor-command ... CMD...``);
- ALIAS   an undocumented other name for a later option (``target`` or ``target=value``).

Commands register themselves into one table with :func:`command`; groups keep virsh's
order and keywords for ``help``.
"""
from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .control import Control
    from .parser import ParsedCommand

__all__ = [
    "GROUPS",
    "Command",
    "Group",
    "Opt",
    "OptType",
    "alias_opt",
    "argv_opt",
    "bool_opt",
    "command",
    "data_opt",
    "group",
    "groups",
    "int_opt",
    "lookup",
    "string_opt",
]


class OptType(enum.Enum):
    BOOL = "bool"
    STRING = "string"
    INT = "int"
    DATA = "data"
    ARGV = "argv"
    ALIAS = "alias"


@dataclass(frozen=True)
class Opt:
    """One option of a command (vshCmdOptDef)."""
    name: str
    type: OptType
    help: str = ""
    required: bool = False      # VSH_OFLAG_REQ
    named_only: bool = False    # VSH_OFLAG_REQ_OPT: never filled from a positional argument
    empty_ok: bool = False      # VSH_OFLAG_EMPTY_OK: '' is an acceptable value

    @property
    def takes_value(self) -> bool:
        return self.type not in (OptType.BOOL, OptType.ALIAS)

    @property
    def positional(self) -> bool:
        """Whether a bare argument may fill this option (virsh's opts_need_arg bit)."""
        return self.type not in (OptType.BOOL, OptType.ALIAS) and not self.named_only


Handler = Callable[["Control", "ParsedCommand"], bool]


@dataclass(frozen=True)
class Command:
    """One command (vshCmdDef): its name, options, help texts and handler."""
    name: str
    handler: Handler
    opts: tuple[Opt, ...]
    help: str
    desc: str = ""
    group: str = "virsh"
    no_connect: bool = False    # VSH_CMD_FLAG_NOCONNECT: runs without a hypervisor
    alias: bool = False         # VSH_CMD_FLAG_ALIAS: hidden from group listings

    def opt(self, name: str) -> Opt | None:
        for o in self.opts:
            if o.name == name:
                return o
        return None


@dataclass
class Group:
    """A command group as ``help`` lists it: title, help keyword, commands in order."""
    title: str
    keyword: str
    commands: list[Command] = field(default_factory=list)


# virsh 9.0's group order and keywords (vshCmdGrp table in tools/virsh.c); a group is
# listed by help only if pyvirsh implements at least one of its commands.
GROUPS: list[Group] = [
    Group("Domain Management", "domain"),
    Group("Domain Monitoring", "monitor"),
    Group("Domain Events", "events"),
    Group("Host and Hypervisor", "host"),
    Group("Networking", "network"),
    Group("Storage Pool", "pool"),
    Group("Storage Volume", "volume"),
    Group("Virsh itself", "virsh"),
]
_BY_KEYWORD = {g.keyword: g for g in GROUPS}
_TABLE: dict[str, Command] = {}

# The order virsh 9.0's `help` lists the commands pyvirsh implements (its table order,
# which is not alphabetical); commands not named here follow, in registration order.
VIRSH_ORDER = ["autostart", "console", "create", "define", "destroy", "domid", "domjobinfo", "domname", "domrename", "domuuid", "dumpxml", "managedsave", "managedsave-remove", "qemu-monitor-command", "reboot", "reset", "restore", "resume", "save", "setmaxmem", "setmem", "setvcpus", "shutdown", "start", "suspend", "undefine", "vcpucount", "vcpuinfo", "dominfo", "domstate", "list", "event", "capabilities", "domcapabilities", "freecell", "hostname", "maxvcpus", "nodeinfo", "sysinfo", "uri", "version", "net-autostart", "net-create", "net-define", "net-destroy", "net-dumpxml", "net-info", "net-list", "net-name", "net-start", "net-undefine", "net-uuid", "pool-autostart", "pool-build", "pool-create", "pool-define", "pool-delete", "pool-destroy", "pool-dumpxml", "pool-info", "pool-list", "pool-name", "pool-refresh", "pool-start", "pool-undefine", "pool-uuid", "vol-create-as", "vol-create", "vol-delete", "vol-download", "vol-dumpxml", "vol-info", "vol-key", "vol-list", "vol-name", "vol-path", "vol-pool", "vol-resize", "vol-upload", "vol-wipe", "cd", "echo", "exit", "help", "pwd", "quit", "connect"]
_RANK = {name: i for i, name in enumerate(VIRSH_ORDER)}


def _check(cmd: Command) -> None:
    """Reject a definition virsh's vshCmddefOptParse would reject: a programming error."""
    seen_optional = False
    names = [o.name for o in cmd.opts]
    if len(set(names)) != len(names) or "help" in names:
        raise ValueError(f"{cmd.name}: duplicate or reserved option name")
    for i, o in enumerate(cmd.opts):
        if o.type is OptType.BOOL:
            if o.required:
                raise ValueError(f"{cmd.name}: bool option --{o.name} cannot be required")
            seen_optional = True
        elif o.type is OptType.ALIAS:
            target = o.help.split("=", 1)[0]
            if target not in names[i + 1:]:
                raise ValueError(f"{cmd.name}: alias --{o.name} must name a later option")
        elif o.named_only:
            seen_optional = seen_optional or not o.required
        else:
            if o.required and seen_optional and o.type is not OptType.ARGV:
                raise ValueError(f"{cmd.name}: required --{o.name} must precede optional ones")
            if not o.required:
                seen_optional = True
            if o.type is OptType.ARGV and i != len(cmd.opts) - 1:
                raise ValueError(f"{cmd.name}: argv option --{o.name} must be last")


def command(name: str, *, help: str, desc: str = "", opts: Iterable[Opt] = (),
            group: str = "virsh", no_connect: bool = False,
            alias: bool = False) -> Callable[[Handler], Handler]:
    """Register the decorated handler as command `name` in group keyword `group`."""

    def register(fn: Handler) -> Handler:
        cmd = Command(name, fn, tuple(opts), help, desc, group, no_connect, alias)
        _check(cmd)
        if name in _TABLE:
            raise ValueError(f"command {name!r} registered twice")
        _TABLE[name] = cmd
        _BY_KEYWORD[group].commands.append(cmd)
        return fn

    return register


def lookup(name: str) -> Command | None:
    """The command called `name`, loading every command module on first use."""
    from . import commands  # noqa: F401  (imports register the commands)
    return _TABLE.get(name)


def groups() -> list[Group]:
    """The groups that have commands, each listing them in virsh's order."""
    from . import commands  # noqa: F401
    for g in GROUPS:
        g.commands.sort(key=lambda c: _RANK.get(c.name, len(_RANK)))
    return [g for g in GROUPS if g.commands]


def group(keyword_or_title: str) -> Group | None:
    """A group by its help keyword or its title (vshCmdGrpSearch)."""
    for g in groups():
        if keyword_or_title in (g.keyword, g.title):
            return g
    return None


# -- shorthands for definitions ------------------------------------------------------------
def bool_opt(name: str, help: str) -> Opt:
    return Opt(name, OptType.BOOL, help)


def string_opt(name: str, help: str, *, named_only: bool = False,
               empty_ok: bool = False) -> Opt:
    return Opt(name, OptType.STRING, help, named_only=named_only, empty_ok=empty_ok)


def int_opt(name: str, help: str, *, required: bool = False, named_only: bool = False) -> Opt:
    return Opt(name, OptType.INT, help, required=required, named_only=named_only)


def data_opt(name: str, help: str) -> Opt:
    return Opt(name, OptType.DATA, help, required=True)


def argv_opt(name: str, help: str, *, required: bool = False) -> Opt:
    return Opt(name, OptType.ARGV, help, required=required)


def alias_opt(name: str, target: str) -> Opt:
    return Opt(name, OptType.ALIAS, target)
