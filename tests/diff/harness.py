"""Run one scenario against a libvirt-python-compatible module and record what happened.

A scenario is a function `scenario(lv, rec)` written against libvirt-python's names.
`rec(label, thunk)` calls thunk and records its outcome: the result, normalised (handles
by name, IntEnums as ints, time fields masked), or the error's (code, domain, message).
Running the same scenario on the real libvirt-python and on pyvirt and comparing the two
transcripts is the differential test.
"""
from __future__ import annotations

import gc
from typing import Any, Callable

Outcome = tuple[str, Any]
Thunk = Callable[[], Any]


class Recorder:
    def __init__(self, lv: Any) -> None:
        self.lv = lv
        self.transcript: list[tuple[str, Outcome]] = []

    def __call__(self, label: str, thunk: Thunk, mask: Callable[[Any], Any] | None = None) -> Any:
        try:
            value = thunk()
        except self.lv.libvirtError as e:
            self.transcript.append((label, ("error", (e.get_error_code(), e.get_error_domain(),
                                                      e.get_error_message()))))
            return None
        shown = normalise(mask(value) if mask else value)
        self.transcript.append((label, ("ok", shown)))
        return value


def normalise(v: Any) -> Any:
    """Make a result comparable across the two implementations."""
    name = type(v).__name__
    if name in ("virDomain", "virNetwork", "virStoragePool", "virStorageVol"):
        return (name, v.name())
    if name == "virConnect":
        return ("virConnect",)
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return int(v)
    if isinstance(v, (list, tuple)):
        return type(v)(normalise(x) for x in v)
    if isinstance(v, dict):
        return {k: normalise(x) for k, x in v.items()}
    return v


def run(lv: Any, scenario: Callable[[Any, Recorder], None]) -> list[tuple[str, Outcome]]:
    """Run a scenario and return its transcript; silences libvirt's stderr error printing."""
    lv.registerErrorHandler(lambda ctx, err: None, None)
    rec = Recorder(lv)
    scenario(lv, rec)
    transcript = rec.transcript
    del rec
    # real libvirt keeps test:///default alive while any handle holds a reference
    gc.collect()
    return transcript


def cpu_time_masked(info: list[Any]) -> list[Any]:
    """info() with the wall-clock CPU time replaced by a marker."""
    return list(info[:4]) + ["<time>"]


def vcpus_masked(v: Any) -> Any:
    infos, maps = v
    return ([(n, s, "<time>", c) for n, s, _, c in infos], maps)
