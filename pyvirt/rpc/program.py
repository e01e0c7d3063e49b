"""Program and procedure descriptors: what the generated wire tables are made of.

A program (REMOTE, QEMU, LXC, KEEPALIVE; shared/rpc-protocol.md §1) numbers its
procedures; each procedure has an args codec (the CALL payload), a ret codec (the
REPLY payload) and, for MESSAGE procedures (events, keepalive), a msg codec.
The tables themselves are generated into pyvirt/rpc/procedures.py from
bindings/api/wire.toml.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .xdr import VOID, Codec

__all__ = ["Procedure", "Program"]


@dataclass(frozen=True, slots=True)
class Procedure:
    """One procedure of one program, with the codecs of its payloads."""

    program: int                   # the program number it belongs to
    number: int                    # the procedure number within the program
    name: str                      # e.g. "CONNECT_OPEN" (without REMOTE_PROC_)
    args: Codec[Any] = VOID        # CALL payload
    ret: Codec[Any] = VOID         # REPLY payload (status OK)
    msg: Codec[Any] | None = None  # MESSAGE payload; None for calls
    stream: str = ""               # "read" / "write" / "both": the call opens a stream (§1)
    fds: str = ""                  # "in" / "out" / "both": the call or reply passes FDs (§1)

    @property
    def is_message(self) -> bool:
        """True for procedures sent as type MESSAGE (events, keepalive), not called."""
        return self.msg is not None

    def __repr__(self) -> str:
        return f"<Procedure {self.name} ({self.program:#x}, {self.number})>"


@dataclass(frozen=True, slots=True)
class Program:
    """A program's number, version and read-only procedure tables."""

    name: str
    number: int
    version: int
    procedures: Mapping[int, Procedure] = field(default_factory=dict)
    by_name: Mapping[str, Procedure] = field(default_factory=dict)

    @classmethod
    def build(cls, name: str, number: int, version: int,
              procedures: Iterable[Procedure]) -> Program:
        """A program whose tables are filled from `procedures` (numbers and names unique)."""
        by_number: dict[int, Procedure] = {}
        by_name: dict[str, Procedure] = {}
        for proc in procedures:
            if proc.program != number:
                raise ValueError(f"{proc!r} does not belong to program {name}")
            if proc.number in by_number or proc.name in by_name:
                raise ValueError(f"{name}: duplicate procedure {proc!r}")
            by_number[proc.number] = proc
            by_name[proc.name] = proc
        return cls(name, number, version, MappingProxyType(by_number), MappingProxyType(by_name))

    def __getitem__(self, key: int | str) -> Procedure:
        """The procedure with this number or name (KeyError when not described)."""
        return self.by_name[key] if isinstance(key, str) else self.procedures[key]

    def get(self, number: int) -> Procedure | None:
        """The procedure with this number, or None."""
        return self.procedures.get(number)

    def __repr__(self) -> str:
        return f"<Program {self.name} {self.number:#x} v{self.version}: {len(self.procedures)} procs>"
