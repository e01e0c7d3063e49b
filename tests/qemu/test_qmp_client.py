"""The QMP client against a real QEMU, on both implementations of the hot path."""
from __future__ import annotations

import os
import queue
import signal
import tempfile
import threading
from collections.abc import Iterator

import pytest

from pyvirt import _core
from pyvirt.drivers.qemu.process import MONITOR_FD, MonitorSocket, kill_and_wait, pidfd_open, spawn
from pyvirt.drivers.qemu.qmp import (
    Disconnected,
    ExecuteError,
    ProtocolError,
    QMPClient,
    QMPTimeout,
    Runstate,
    StateError,
)

pytestmark = pytest.mark.qemu


class Qemu:
    """A bare QEMU (no guest) with its monitor on a pre-bound socket, killed by pid."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="pyvirt-qmp-")
        self.path = os.path.join(self.dir, "m.sock")
        mon = MonitorSocket(self.path)
        argv = ["/usr/bin/qemu-system-x86_64", "-S", "-nodefaults", "-no-user-config",
                "-display", "none", "-machine", "pc", "-accel", "tcg", "-m", "32",
                "-chardev", f"socket,id=m,fd={MONITOR_FD},server=on,wait=off", "-mon",
                "chardev=m,mode=control"]
        try:
            self.pid = spawn(argv, os.path.join(self.dir, "log"), {MONITOR_FD: mon.fileno()},
                             dict(os.environ))
        finally:
            mon.close()
        self.pidfd = pidfd_open(self.pid)

    def stop(self) -> None:
        kill_and_wait(self.pid, self.pidfd, 0.5)
        os.close(self.pidfd)


@pytest.fixture
def qemu(qemu_bin: str) -> Iterator[Qemu]:
    q = Qemu()
    try:
        yield q
    finally:
        q.stop()


@pytest.fixture(params=[(i, ids) for i in _core.available_impls() for ids in (False, True)],
                ids=lambda p: f"{p[0]}-{'ids' if p[1] else 'inorder'}")
def client(request: pytest.FixtureRequest, qemu: Qemu) -> Iterator[QMPClient]:
    impl, ids = request.param
    c = QMPClient("test", impl=_core.get_impl(impl).qmp,  # type: ignore[arg-type]
                  always_ids=ids)
    c.connect(qemu.path, 10)
    try:
        yield c
    finally:
        c.close()


def test_greeting_and_commands(client: QMPClient) -> None:
    assert client.runstate is Runstate.RUNNING
    assert client.greeting is not None and "QMP" in client.greeting
    assert client.execute("query-status")["status"] == "prelaunch"
    assert client.execute("query-name") == {}
    with pytest.raises(ExecuteError) as e:
        client.execute("no-such-command")
    assert e.value.error_class == "CommandNotFound"
    assert b"no-such-command" in e.value.sent and b'"error"' in e.value.reply
    with pytest.raises(ExecuteError):
        client.execute("query-status", {"bogus": 1})


def test_events_to_listeners(client: QMPClient) -> None:
    seen: list[str] = []
    client.on_event = lambda m: seen.append(m.event or "")
    with client.listen("STOP") as stops, client.listen() as everything:
        client.command("cont")
        client.command("stop")
        assert stops.get(5)["event"] == "STOP"
        assert [everything.get(5)["event"], everything.get(5)["event"]] == ["RESUME", "STOP"]
        with pytest.raises(queue.Empty):
            stops.get(0.05)
    assert seen == ["RESUME", "STOP"]
    assert client._listeners == []


def test_passthrough_text(client: QMPClient) -> None:
    out = client.execute_text('  {"execute": "query-status"}  ')
    assert out.startswith('{"return": {') and ('"id": ' in out) == client.always_ids
    out = client.execute_text('{"execute": "query-status", "id": "mine"}')
    assert '"id": "mine"' in out
    out = client.execute_text('{"execute": "nope"}')
    assert '"CommandNotFound"' in out
    for bad in ("[1]", "{", "plain text"):
        with pytest.raises(ProtocolError):
            client.execute_text(bad)
    assert client.execute("query-status")["running"] is False     # still in step


def test_deadline_and_late_reply_dropped(client: QMPClient, qemu: Qemu) -> None:
    os.kill(qemu.pid, signal.SIGSTOP)
    try:
        with pytest.raises(QMPTimeout) as e:
            client.execute("query-status", timeout=0.2)
        assert b"query-status" in e.value.sent
    finally:
        os.kill(qemu.pid, signal.SIGCONT)
    # the late reply to the timed-out command is not taken for this one's: commands
    # carry ids until it has come, then (in-order mode) go without again
    assert client.execute("query-name") == {}
    assert "status" in client.execute("query-status")
    assert client._orphans == 0


def test_disconnect_fails_pending_and_later_calls(client: QMPClient, qemu: Qemu) -> None:
    os.kill(qemu.pid, signal.SIGSTOP)
    failure: list[BaseException] = []

    def call() -> None:
        try:
            client.execute("query-status", timeout=30)
        except BaseException as e:
            failure.append(e)
    t = threading.Thread(target=call)
    t.start()
    t.join(0.3)
    assert t.is_alive()             # waiting for the reply
    os.kill(qemu.pid, signal.SIGKILL)
    t.join(10)
    assert len(failure) == 1 and isinstance(failure[0], Disconnected)
    assert "QEMU closed the monitor" in str(failure[0])
    with pytest.raises(Disconnected):
        client.execute("query-status")
    assert client.pump() is False


def test_state_errors(qemu: Qemu) -> None:
    c = QMPClient("idle")
    with pytest.raises(StateError) as e:
        c.execute("query-status")
    assert "must be running" in str(e.value)
    c.connect(qemu.path, 10)
    with pytest.raises(StateError):
        c.connect(qemu.path, 10)
    c.close()
    with pytest.raises((StateError, Disconnected)):
        c.execute("query-status")


def test_reconnect_after_close(qemu: Qemu) -> None:
    """QEMU listens again once a client leaves: how a new owner reattaches."""
    for _ in range(3):
        c = QMPClient("again")
        c.connect(qemu.path, 10)
        assert "status" in c.execute("query-status")
        c.close()


def test_concurrent_callers_get_their_own_replies(client: QMPClient) -> None:
    errors: list[BaseException] = []

    def worker(cmd: str, key: str) -> None:
        try:
            for _ in range(100):
                assert key in client.execute(cmd)
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=worker, args=a) for a in
               [("query-status", "status"), ("query-version", "qemu"),
                ("query-kvm", "present")] * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
