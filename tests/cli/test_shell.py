"""The interactive shell fed on stdin, against virsh's: banner, prompts, echoed lines,
several commands per line, quit/exit, end of input. virsh's name in its banner and
prompt is the only expected difference ('virsh #' vs 'pyvirsh #')."""
from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from pyvirt.cli.main import main

from .conftest import Result, needs_virsh, run_virsh

T = ["-c", "test:///default"]

SESSIONS = [
    pytest.param(T, "list\ndomstate test\nnosuch\nquit\nlist\n", id="quit-stops"),
    pytest.param(T, "list; suspend test\n\n   \n# comment\ndomstate test\n", id="eof"),
    pytest.param(["-q", *T], "exit", id="quiet-exit-no-newline"),
    pytest.param(["-q", *T], "uri\n", id="quiet"),
    pytest.param(["-r", *T], "uri\nsuspend test\n", id="readonly-prompt"),
    pytest.param(["-q", *T], "uri; quit; uri\nuri\n", id="quit-mid-line"),
    pytest.param(T, "connect --readonly\nuri\nconnect\nsuspend test\ncd /tmp\npwd\n",
                 id="connect-cd"),
    pytest.param(T, 'dominfo test extra\ndomstate "test\nuri\n', id="parse-errors-continue"),
    pytest.param(T, "define foo.xml\nstart foo\nsuspend foo\nresume foo\ndestroy foo\n"
                    "undefine foo\nlist --all\n", id="lifecycle-lines"),
]


@needs_virsh
@pytest.mark.interop
@pytest.mark.parametrize("args, stdin", SESSIONS)
def test_session_like_virsh(pyvirsh: Callable[..., Result], args: list[str], stdin: str) -> None:
    theirs = run_virsh(args, stdin)
    ours = pyvirsh(args, stdin)
    expected_out = theirs.out.replace("virsh #", "pyvirsh #").replace("virsh >", "pyvirsh >") \
        .replace("Welcome to virsh,", "Welcome to pyvirsh,")
    assert (ours.out, ours.err, ours.rc) == (expected_out, theirs.err, theirs.rc)


def test_in_process_streams() -> None:
    """main() works on given streams, so pyvirsh can be embedded and driven by tests."""
    out, err = io.StringIO(), io.StringIO()
    rc = main(["-q", *T], stdin=io.StringIO("uri\nnosuch\n"), stdout=out, stderr=err)
    assert rc == 0
    assert out.getvalue() == "pyvirsh # uri\ntest:///default\npyvirsh # nosuch\npyvirsh # \n"
    assert err.getvalue() == "error: unknown command: 'nosuch'\n"
