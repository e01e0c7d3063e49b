"""QEMU-specific commands: qemu-monitor-command (through pyvirt.libvirt_qemu)."""
from __future__ import annotations

import json
from typing import Any

from . import console  # noqa: F401  (registers `console`, which lives with its relay)
from .cmd_domain import pass_fds
from .control import Control
from .options import argv_opt, bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand

_MONITOR_HMP = 1   # VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP


def _pretty(value: Any) -> str:
    """JSON as libvirt's pretty printer lays it out (two-space indent)."""
    return json.dumps(value, indent=2, separators=(",", ": "))


@command("qemu-monitor-command", group="domain", help="QEMU Monitor Command",
         desc="QEMU Monitor Command",
         opts=[data_opt("domain", "domain name, id or uuid"),
               bool_opt("hmp", "command is in human monitor protocol"),
               bool_opt("pretty", "pretty-print any qemu monitor protocol output"),
               bool_opt("return-value", "extract the value of the 'return' key from the "
                                        "returned string"),
               string_opt("pass-fds", "pass file descriptors N,M,... along with the command",
                          named_only=True),
               argv_opt("cmd", "command", required=True)])
def cmd_qemu_monitor_command(ctl: Control, pc: ParsedCommand) -> bool:
    ctl.exclusive(pc, "hmp", "pretty")
    ctl.exclusive(pc, "hmp", "return-value")
    dom = ctl.domain(pc)
    text = " ".join(pc.argv("cmd"))
    pass_fds(ctl, pc, "virDomainQemuMonitorCommandWithFiles")
    flags = _MONITOR_HMP if pc.flag("hmp") else 0
    result = ctl.call(dom.qemu_monitor_command, text, flags)
    if pc.flag("pretty") or pc.flag("return-value"):
        try:
            parsed = json.loads(result)
        except ValueError:
            raise ctl.fail("failed to parse JSON output") from None
        if pc.flag("return-value"):
            if not isinstance(parsed, dict) or "return" not in parsed:
                raise ctl.fail("'return' member missing")
            parsed = parsed["return"]
            if isinstance(parsed, str) and not pc.flag("pretty"):
                ctl.print(f"{parsed}\n")
                return True
        result = _pretty(parsed) if pc.flag("pretty") else json.dumps(parsed,
                                                                       separators=(",", ":"))
    ctl.print(f"{result}\n")
    return True
