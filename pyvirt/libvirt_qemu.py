"""libvirt-python's libvirt_qemu module: the QEMU-specific calls, over pyvirt.

    import pyvirt.libvirt_qemu as libvirt_qemu
    libvirt_qemu.qemuMonitorCommand(dom, '{"execute": "query-status"}', 0)
    libvirt_qemu.qemuMonitorCommand(dom, "info status", libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP)

`dom` may be a libvirt-python style virDomain (pyvirt.libvirt) or a Pythonic
pyvirt Domain.  QMP commands return QEMU's reply as JSON text (with the "id" pyvirt
added, as libvirt returns its own), HMP commands their output text.  The agent and
attach calls are not offered by pyvirt's drivers and fail with VIR_ERR_NO_SUPPORT.
"""
from __future__ import annotations

from typing import Any

from .constants import (
    VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_NOCASE,
    VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_REGEX,
    VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT,
    VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP,
    ErrorDomain,
    ErrorNumber,
)
from .errors import error, libvirtError

__all__ = [
    "VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_NOCASE",
    "VIR_CONNECT_DOMAIN_QEMU_MONITOR_EVENT_REGISTER_REGEX",
    "VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK",
    "VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT",
    "VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT",
    "VIR_DOMAIN_QEMU_AGENT_COMMAND_SHUTDOWN",
    "VIR_DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT",
    "VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP",
    "libvirtError",
    "qemuAgentCommand",
    "qemuAttach",
    "qemuMonitorCommand",
    "qemuMonitorEventDeregister",
    "qemuMonitorEventRegister",
    "qemu_monitor_command",
]

# libvirt-qemu.h's virDomainQemuAgentCommandTimeoutValues
VIR_DOMAIN_QEMU_AGENT_COMMAND_BLOCK = -2
VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT = -1
VIR_DOMAIN_QEMU_AGENT_COMMAND_NOWAIT = 0
VIR_DOMAIN_QEMU_AGENT_COMMAND_SHUTDOWN = 60


def _pythonic(domain: Any) -> Any:
    """The Pythonic Domain behind a libvirt-python style virDomain (or itself)."""
    return getattr(domain, "_o", domain)


def qemu_monitor_command(domain: Any, cmd: str, flags: int = 0) -> str:
    """Send `cmd` to the domain's QEMU monitor; QMP JSON text, or HMP text with
    flags=VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP.  Returns QEMU's reply as text."""
    result: str = _pythonic(domain).qemu_monitor_command(cmd, flags)
    return result


def qemuMonitorCommand(domain: Any, cmd: str, flags: int) -> str:
    """libvirt_qemu.qemuMonitorCommand (virDomainQemuMonitorCommand)."""
    return qemu_monitor_command(domain, cmd, flags)


def qemuAgentCommand(domain: Any, cmd: str, timeout: int, flags: int) -> str:
    """virDomainQemuAgentCommand: pyvirt's QEMU driver has no guest agent channel."""
    raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virDomainQemuAgentCommand")


def qemuAttach(conn: Any, pid_value: int, flags: int) -> Any:
    """virDomainQemuAttach: removed from libvirt's QEMU driver; not offered."""
    raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virDomainQemuAttach")


def qemuMonitorEventRegister(conn: Any, dom: Any, event: str | None, cb: Any, opaque: Any,
                             flags: int = 0) -> int:
    """virConnectDomainQemuMonitorEventRegister: not offered yet."""
    raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE,
                "virConnectDomainQemuMonitorEventRegister")


def qemuMonitorEventDeregister(conn: Any, callbackID: int) -> int:
    """virConnectDomainQemuMonitorEventDeregister: not offered yet."""
    raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE,
                "virConnectDomainQemuMonitorEventDeregister")


