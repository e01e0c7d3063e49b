"""The remote driver's transports and URI resolution: unix, tcp, ext, ssh, session daemon."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

import pyvirt
from pyvirt.constants import ErrorNumber
from pyvirt.drivers.remote import paths
from pyvirt.uri import parse
from tests.interop.peers import PyvirtdProcess

HERE = Path(__file__).resolve().parent
BRIDGE = f"{sys.executable} {HERE / 'bridge.py'}"
Q = quote(BRIDGE, safe="/")            # URIs carry no spaces


def test_server_uri_is_what_libvirt_sends(daemon: PyvirtdProcess) -> None:
    assert parse("qemu+tcp://127.0.0.1:5/system").server_uri() == "qemu:///system"
    assert parse(f"qemu+unix:///system?socket={daemon.sock}").server_uri() == "qemu:///system"
    assert parse("test+tcp://h/default").server_uri() == "test:///default"
    assert parse("remote+tcp://h/").server_uri() == ""


def test_ext_transport(daemon: PyvirtdProcess) -> None:
    uri = f"test+ext:///default?command={Q}%20-U%20{daemon.sock}"
    with pyvirt.connect(uri) as c:
        assert c.lookup_domain_by_name("test").info().nr_virt_cpu == 2
        assert c.is_secure()


def _script(path: Path, body: str) -> Path:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def test_ssh_command_line_is_libvirts(daemon: PyvirtdProcess, tmp_path: Path) -> None:
    # A stand-in ssh (?command=) records the command line pyvirt builds and runs the
    # remote command the way sshd does; the real ssh client and a real ssh server are
    # in tests/remote/test_ssh.py.
    log = tmp_path / "ssh.log"
    ssh = _script(tmp_path / "ssh", f'exec {sys.executable} {HERE / "fake_ssh.py"} "$@"')
    bridge = _script(tmp_path / "my nc", f'exec {BRIDGE} "$@"')
    os.environ["FAKE_SSH_LOG"] = str(log)
    try:
        uri = (f"test+ssh://joe@box:2222/default?command={ssh}&socket={daemon.sock}"
               f"&netcat={quote(str(bridge), safe='/')}&no_tty=1&no_verify=1&keyfile=/k")
        with pyvirt.connect(uri) as c:
            assert c.get_type() == "TEST"
            assert c.get_uri() == uri
    finally:
        del os.environ["FAKE_SSH_LOG"]
    argv = log.read_text().rstrip("\n").split("\0")
    assert argv[:10] == ["-p", "2222", "-l", "joe", "-i", "/k", "-T", "-e", "none", "-o"]
    assert argv[10:14] == ["BatchMode=yes", "-o", "StrictHostKeyChecking=no", "--"]
    assert argv[14] == "box"
    # one word for the remote shell: sh -c '<libvirt's netcat script>'
    assert argv[15].startswith("sh -c ") and len(argv) == 16
    assert "-q0" in argv[15] and f"-U {daemon.sock}" in argv[15]


@pytest.mark.parametrize("proxy,expect", [
    ("native", "virt-ssh-helper -r test:///default"),
    ("auto", "which virt-ssh-helper"),
])
def test_ssh_proxy_modes(proxy: str, expect: str) -> None:
    from pyvirt.drivers.remote.transport import _ssh_argv
    argv = _ssh_argv(parse(f"test+ssh://h/default?proxy={proxy}"), readonly=True)
    assert expect in argv[-1]
    with pytest.raises(pyvirt.libvirtError) as exc:
        _ssh_argv(parse("test+ssh://h/default?proxy=native&netcat=nc"), readonly=False)
    assert exc.value.code == ErrorNumber.INVALID_ARG
    with pytest.raises(pyvirt.libvirtError) as exc:
        _ssh_argv(parse("test+ssh://h/default?proxy=carrier-pigeon"), readonly=False)
    assert "unknown ssh proxy mode" in exc.value.message


def test_missing_socket_and_refused_port() -> None:
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect("test+unix:///default?socket=/nonexistent/sock")
    assert exc.value.code == ErrorNumber.SYSTEM_ERROR
    assert "Failed to connect socket to '/nonexistent/sock'" in exc.value.message
    from tests.interop.peers import free_port
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect(f"test+tcp://127.0.0.1:{free_port()}/default")
    assert "unable to connect to server" in exc.value.message


def test_unsupported_transport() -> None:
    with pytest.raises(pyvirt.libvirtError) as exc:
        pyvirt.connect("test+libssh2://h/default")
    assert exc.value.code == ErrorNumber.NO_SUPPORT


def test_system_socket_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYVIRT_SYSTEM_SOCKET", raising=False)
    monkeypatch.setenv("PYVIRT_SYSTEM_ROOT", "/srv/pv")
    assert paths.system_socket() == Path("/srv/pv/run/libvirt-sock")
    assert paths.system_socket(readonly=True) == Path("/srv/pv/run/libvirt-sock-ro")
    monkeypatch.setenv("PYVIRT_SYSTEM_SOCKET", "/x/sock")
    assert paths.system_socket(True) == Path("/x/sock-ro")
    monkeypatch.delenv("PYVIRT_SYSTEM_SOCKET")
    monkeypatch.delenv("PYVIRT_SYSTEM_ROOT")
    assert str(paths.system_socket()).startswith("/var/lib/pyvirt/")   # never libvirtd's


def test_session_daemon_starts_on_demand_and_exits_when_idle(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "session"
    monkeypatch.setenv("PYVIRT_SESSION_ROOT", str(root))
    monkeypatch.setenv("PYVIRT_SESSION_TIMEOUT", "2")
    monkeypatch.delenv("PYVIRT_SESSION_SOCKET", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(HERE.parents[1]))
    sock = paths.session_socket(autostart=True)
    pidfile = root / "run" / "pyvirtd.pid"
    pid = int(pidfile.read_text())
    try:
        assert sock == root / "run" / "libvirt-sock"
        assert paths.session_socket(autostart=True) == sock      # found, not started again
        assert int(pidfile.read_text()) == pid
        with pyvirt.connect(f"test+unix:///default?socket={sock}") as c:
            assert c.get_type() == "TEST"
            time.sleep(3)                 # a client keeps the idle daemon alive
            assert c.get_type() == "TEST"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and pidfile.exists():
            time.sleep(0.1)
        assert not pidfile.exists() and not sock.exists()
    finally:
        if pidfile.exists():
            os.kill(pid, signal.SIGTERM)    # the daemon this test started
