"""pyvirsh: a command shell for pyvirt that behaves like libvirt's virsh.

Run it as `pyvirsh` or `python -m pyvirt.cli`. Modules, one concern each:
main (global options, entry), parser (words -> commands), options (the command table's
data types), help, fmt (tables, sizes), control (session state and handler services),
runner (running commands), shell (interactive mode), and cmd_* (the commands).
"""
from __future__ import annotations

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    from .main import main as _main
    return _main(argv)
