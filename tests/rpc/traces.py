"""Frames captured from real virsh / libvirt-python and libvirtd 9.0.0, parsed.

data/rpc-traces.txt is shared/rpc-traces.txt (shared/rpc-protocol.md §5): one block per
command, each frame as a description line and a line of hex; frames over 160 bytes are
cut, with "...(+N bytes)" saying how much is missing.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

TRACES = Path(__file__).parent / "data" / "rpc-traces.txt"
_DESC = re.compile(r"^(C>S|S>C) (CALL|REPLY|MSG)\s+(OK|ERR)\s+ser=(\d+)\s+(\d+) (\w+)$")
_HEX = re.compile(r"^\s+([0-9a-f]+)(?:\.\.\.\(\+(\d+) bytes\))?$")


@dataclass(frozen=True)
class TraceFrame:
    block: str       # the "### ..." label of the command
    direction: str   # "C>S" (client to server) or "S>C"
    kind: str        # CALL, REPLY or MSG
    status: str      # OK or ERR
    serial: int
    proc: int
    name: str        # procedure name as the capture tool printed it
    data: bytes      # the captured bytes, from the length word on
    missing: int     # bytes the capture left out (0: complete frame)

    @property
    def complete(self) -> bool:
        return self.missing == 0


@cache
def frames() -> tuple[TraceFrame, ...]:
    """Every frame of the capture, in order."""
    out: list[TraceFrame] = []
    block = ""
    lines = TRACES.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("### "):
            block = line[4:]
            continue
        m = _DESC.match(line)
        if m is None:
            continue
        h = _HEX.match(lines[i])
        if h is None:
            raise ValueError(f"line {i + 1}: expected the hex of the frame")
        i += 1
        direction, kind, status, serial, proc, name = m.groups()
        out.append(TraceFrame(block, direction, kind, status, int(serial), int(proc), name,
                              bytes.fromhex(h.group(1)), int(h.group(2) or 0)))
    return tuple(out)
