"""Attaching the terminal to a guest's serial console: the `console` command and the byte
relay behind it (virsh-console.c).

The relay works on anything with a file descriptor: it copies the terminal's input to
the console stream and the stream's output to the terminal until the escape character
(Ctrl+] by default) is typed or the stream ends. The stream comes from the API
(`Domain.open_console(devname, flags)`, a pyvirt Stream): a local pty for
qemu:///embed, STREAM packets for a remote connection, which the event loop pyvirsh runs
(as virsh does) reads while the relay waits. A driver without consoles stops the
command with the library's "not supported" error, as virsh does.
"""
from __future__ import annotations

import os
import select
from typing import TYPE_CHECKING, Protocol

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from .control import Control
from .options import bool_opt, command, data_opt, string_opt
from .parser import ParsedCommand

if TYPE_CHECKING:
    from .._api import Domain

__all__ = ["ConsoleStream", "escape_byte", "relay", "run_console"]

_CONSOLE_FORCE, _CONSOLE_SAFE = 1, 2   # virDomainConsoleFlags


class ConsoleStream(Protocol):
    """What the relay needs from a console: a pollable descriptor, reads and writes."""

    def fileno(self) -> int: ...
    def recv(self, size: int) -> bytes | None: ...
    def send(self, data: bytes) -> int | None: ...
    def close(self) -> None: ...


def escape_byte(spec: str) -> int:
    """The byte an escape spec names: '^]' is Ctrl+] (0x1d), 'x' is 'x' (virshGetEscapeChar)."""
    if len(spec) == 2 and spec[0] == "^":
        return ord(spec[1].upper()) ^ 0x40
    return ord(spec[0])


def relay(stream: ConsoleStream, in_fd: int, out_fd: int, escape: int) -> str:
    """Copy in_fd -> stream and stream -> out_fd until the escape byte or end of either
    side; returns 'escape', 'eof' (the console closed) or 'input-closed'."""
    stream_fd = stream.fileno()
    while True:
        readable, _, _ = select.select([in_fd, stream_fd], [], [])
        if stream_fd in readable:
            data = stream.recv(65536)
            if data is None:       # woken, but the data was not for this stream yet
                continue
            if not data:
                return "eof"
            view = memoryview(data)
            while view:
                view = view[os.write(out_fd, view):]
        if in_fd in readable:
            data = os.read(in_fd, 1024)
            if not data:
                return "input-closed"
            cut = data.find(bytes([escape]))
            if cut >= 0:
                if cut:
                    stream.send(data[:cut])
                return "escape"
            while data:
                data = data[stream.send(data) or 0:]


def _open_console(dom: Domain, devname: str | None, flags: int) -> ConsoleStream:
    opener = getattr(dom, "open_console", None)
    if opener is None:
        raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.NONE, "virDomainOpenConsole")
    stream: ConsoleStream = opener(devname, flags)
    return stream


def _shutdown(stream: ConsoleStream, graceful: bool) -> None:
    """Finish the stream after the escape character, abort it otherwise (virsh's
    virConsoleShutdown)."""
    finish = getattr(stream, "finish", None)
    if graceful and finish is not None and not getattr(stream, "closed", False):
        try:
            finish()
            return
        except libvirtError:
            pass
    stream.close()


def run_console(ctl: Control, dom: Domain, devname: str | None, resume: bool,
                flags: int) -> bool:
    """Attach to the console (cmdRunConsole): refuse for an inactive domain or without a
    terminal, then relay until the escape character."""
    try:
        state = int(dom.state(0).state)
    except libvirtError as e:
        ctl.save_error(e)
        raise ctl.fail("Unable to get domain status") from None
    if state == 5:
        raise ctl.fail("The domain is not running")
    try:
        tty = os.isatty(ctl.inp.fileno())
    except (AttributeError, ValueError, OSError):
        tty = False
    if not tty:
        raise ctl.fail("Cannot run interactive console without a controlling TTY")
    escape = ctl.escape_char
    # announced before the console is opened, as virsh does (so a failure to open it
    # follows the announcement there too)
    ctl.print_extra(f"Connected to domain '{dom.name}'\n")
    ctl.print_extra(f"Escape character is {escape}")
    if escape.startswith("^") and len(escape) == 2:
        ctl.print_extra(f" (Ctrl + {escape[1]})")
    ctl.print_extra("\n")
    ctl.flush()
    from .loop import ensure_running
    ensure_running()     # a remote console's packets are read by the event loop
    stream = ctl.call(_open_console, dom, devname, flags)
    if resume:
        ctl.call(dom.resume)
    import termios
    import tty as ttymod
    in_fd = ctl.inp.fileno()
    saved = termios.tcgetattr(in_fd)
    how = "eof"
    try:
        ttymod.setraw(in_fd)
        how = relay(stream, in_fd, ctl.out.fileno(), escape_byte(escape))
    finally:
        termios.tcsetattr(in_fd, termios.TCSAFLUSH, saved)
        _shutdown(stream, graceful=how == "escape")
    ctl.print("\n")
    return True


@command("console", group="domain", help="connect to the guest console",
         desc="Connect the virtual serial console for the guest",
         opts=[data_opt("domain", "domain name, id or uuid"),
               string_opt("devname", "character device name"),
               bool_opt("force", "force console connection (disconnect already connected "
                                 "sessions)"),
               bool_opt("safe", "only connect if safe console handling is supported")])
def cmd_console(ctl: Control, pc: ParsedCommand) -> bool:
    flags = (_CONSOLE_FORCE if pc.flag("force") else 0) | (_CONSOLE_SAFE if pc.flag("safe") else 0)
    dom = ctl.domain(pc)
    devname = ctl.opt_string(pc, "devname")
    return run_console(ctl, dom, devname, False, flags)
