"""Unit tests of output formatting against text captured from virsh 9.0."""
from __future__ import annotations

import pytest

from pyvirt.cli.cmd_domsave import progress_text
from pyvirt.cli.cmd_event import format_event
from pyvirt.cli.fmt import (
    ScaleError,
    Table,
    bitmap_format,
    format_capacity,
    kv,
    pretty_capacity,
    scale_integer,
)


def test_table_as_virsh_list() -> None:
    t = Table("Id", "Name", "State")
    t.add("1", "test", "running")
    t.add("-", "foo", "shut off")
    # captured: virsh -c test:///default list --all (after defining foo)
    assert t.render() == (" Id   Name   State\n"
                          "-----------------------\n"
                          " 1    test   running\n"
                          " -    foo    shut off\n")


def test_empty_table_keeps_header_widths() -> None:
    # captured: virsh -c test:///default vol-list default-pool
    assert Table("Name", "Path").render() == " Name   Path\n--------------\n"


def test_quiet_table_ignores_header_widths() -> None:
    t = Table("Id", "Name", "State")
    t.add("1", "test", "running")
    # captured: virsh -q -c test:///default list
    assert t.render(header=False) == " 1   test   running\n"


def test_last_column_may_be_empty_but_padded_before() -> None:
    t = Table("Id", "Name", "State", "Title")
    t.add("1", "test", "running", "")
    # captured: virsh -c test:///default list --all --title
    assert t.render() == (" Id   Name   State     Title\n"
                          "------------------------------\n"
                          " 1    test   running   \n")


def test_control_characters_are_escaped() -> None:
    t = Table("A", "B")
    t.add("x\ty", "z")
    assert t.render().splitlines()[2] == " x\\x09y   z"


def test_wide_characters_count_twice() -> None:
    t = Table("A", "B")
    t.add("日本", "z")
    assert t.render().splitlines()[2] == " 日本   z"


def test_table_rows_must_match_header() -> None:
    with pytest.raises(ValueError):
        Table("A").add("1", "2")


@pytest.mark.parametrize("value, text", [
    (0, "0.00 B"), (1023, "1023.00 B"), (1024, "1.00 KiB"), (1500, "1.46 KiB"),
    (10485760, "10.00 MiB"), (536870912, "512.00 MiB"), (107374182400, "100.00 GiB"),
    (2**60, "1.00 EiB"), (2**64 - 1, "16.00 EiB"),
])
def test_capacity(value: int, text: str) -> None:
    assert format_capacity(value) == text


def test_pretty_capacity_units() -> None:
    assert pretty_capacity(5 * 2**40) == (5.0, "TiB")
    assert pretty_capacity(3 * 2**50) == (3.0, "PiB")


def test_kv_pads_labels_to_fifteen() -> None:
    assert kv("Security DOI:", "") == "Security DOI:   \n"
    assert kv("Id:", 1) == "Id:             1\n"


@pytest.mark.parametrize("text, scale, value", [
    ("1024", 1024, 1024 * 1024), ("1", 1, 1), ("1k", 1, 1024), ("1KiB", 1, 1024),
    ("1KB", 1, 1000), ("1M", 1, 2**20), ("1MB", 1, 10**6), ("2G", 1024, 2 * 2**30),
    ("1b", 1024, 1), ("3T", 1, 3 * 2**40), (" 7", 1, 7), ("+7", 1, 7),
])
def test_scale_integer(text: str, scale: int, value: int) -> None:
    assert scale_integer(text, scale, 2**64 - 1) == value


@pytest.mark.parametrize("text, detail", [
    ("abc", None), ("-1", None), ("", None),
    ("10Q", "unknown suffix 'Q'"), ("1bB", "unknown suffix 'bB'"),
    ("99999999999999E", "value too large: 99999999999999E"),
    ("99999999999999999999G", None),   # does not even fit before scaling
])
def test_scale_integer_errors(text: str, detail: str | None) -> None:
    with pytest.raises(ScaleError) as e:
        scale_integer(text, 1, 2**64 - 1)
    assert e.value.detail == detail


@pytest.mark.parametrize("bits, text", [
    ([True] * 8, "0-7"), ([True, False, True, True], "0,2-3"), ([False, True], "1"), ([], ""),
])
def test_bitmap_format(bits: list[bool], text: str) -> None:
    assert bitmap_format(bits) == text


@pytest.mark.parametrize("remaining, total, text", [
    (0, 1, "\rSave: [100 %]"), (100, 100, "\rSave: [  0 %]"), (58, 100, "\rSave: [ 42 %]"),
    (1, 10**9, "\rSave: [ 99 %]"),   # never claims 100 before the end
])
def test_progress(remaining: int, total: int, text: str) -> None:
    assert progress_text("Save", remaining, total) == text


@pytest.mark.parametrize("name, fields, text", [
    ("lifecycle", (3, 0), "event 'lifecycle' for domain 'test': Suspended Paused\n"),
    ("lifecycle", (4, 0), "event 'lifecycle' for domain 'test': Resumed Unpaused\n"),
    ("lifecycle", (0, 1), "event 'lifecycle' for domain 'test': Defined Updated\n"),
    ("lifecycle", (5, 1), "event 'lifecycle' for domain 'test': Stopped Destroyed\n"),
    ("lifecycle", (42, 7), "event 'lifecycle' for domain 'test': unknown unknown\n"),
    ("reboot", (), "event 'reboot' for domain 'test'\n"),
    ("rtc-change", (-3,), "event 'rtc-change' for domain 'test': -3\n"),
    ("watchdog", (2,), "event 'watchdog' for domain 'test': reset\n"),
    ("io-error-reason", ("/img", "vda", 1, "enospc"),
     "event 'io-error-reason' for domain 'test': /img (vda) pause due to enospc\n"),
    ("block-job", ("vda", 2, 0),
     "event 'block-job' for domain 'test': Block Copy for vda completed\n"),
    ("tray-change", ("cd0", 0), "event 'tray-change' for domain 'test' disk cd0: opened\n"),
    ("balloon-change", (1024,), "event 'balloon-change' for domain 'test': 1024KiB\n"),
    ("tunable", ({"cputune.vcpu_period": 100},),
     "event 'tunable' for domain 'test':\n\tcputune.vcpu_period: 100\n"),
    ("memory-failure", (1, 2, 1),
     ("event 'memory-failure' for domain 'test':\nrecipient: guest\naction: fatal\n"
      "flags:\n\taction required: 1\n\trecursive: 0\n")),
])
def test_event_text(name: str, fields: tuple[object, ...], text: str) -> None:
    assert format_event(name, "test", *fields) == text
