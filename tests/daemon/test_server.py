"""pyvirtd as a process: start, stop, limits, keepalive, idle exit, peer credentials, logs."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

import pyvirt
from pyvirt.constants import ErrorNumber
from pyvirt.rpc.packet import Status
from tests.interop.peers import ROOT, PyvirtdProcess

from .raw import R, RawClient, error_of
from .test_protocol import PING, PONG


def test_clean_stop_removes_sockets_and_pidfile(pyvirtd: PyvirtdProcess) -> None:
    run = pyvirtd.root / "run"
    assert (run / "pyvirtd.pid").read_text().strip() == str(pyvirtd.proc.pid)  # type: ignore[union-attr]
    with RawClient(pyvirtd.sock) as c:
        c.open()
        pyvirtd.stop()
        assert c.closed_by_peer()
    assert pyvirtd.proc is not None and pyvirtd.proc.returncode == 0
    assert not (run / "libvirt-sock").exists() and not (run / "libvirt-sock-ro").exists()
    assert not (run / "pyvirtd.pid").exists()
    assert "stopped" in pyvirtd.log.read_text()


def test_one_daemon_per_root(pyvirtd: PyvirtdProcess) -> None:
    second = PyvirtdProcess(pyvirtd.root, tcp=False)
    with pytest.raises(RuntimeError, match="another pyvirtd"):
        second.start()
    with RawClient(pyvirtd.sock) as c:   # the first one is unharmed
        c.open()


def test_fifty_concurrent_clients(pyvirtd: PyvirtdProcess) -> None:
    errors: list[BaseException] = []
    uri = pyvirtd.uri("test", "/default", "tcp")

    def client(i: int) -> None:
        try:
            with pyvirt.connect(uri) as conn:
                for _ in range(20):
                    dom = conn.lookup_domain_by_name("test")
                    assert dom.info().nr_virt_cpu == 2
                    assert conn.get_type() == "TEST"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]


def test_pending_call_limit_applies_back_pressure(tmp_path: Path) -> None:
    with PyvirtdProcess(tmp_path, config="max_client_requests = 1\nmax_workers = 2\n"
                        "min_workers = 1\n") as d, RawClient(d.sock) as c:
        c.open()
        dom = c.ok(R.DOMAIN_LOOKUP_BY_NAME, ("test",)).dom
        frames = b"".join(c.frame(R.DOMAIN_SUSPEND if i % 2 == 0 else R.DOMAIN_RESUME, (dom,))
                          for i in range(30))
        c.send(frames)
        replies = [c.reply() for _ in range(30)]
        assert all(p.status == Status.OK for p in replies)
        assert [p.proc for p in replies] == [R.DOMAIN_SUSPEND, R.DOMAIN_RESUME] * 15


def test_message_size_limit(tmp_path: Path) -> None:
    with PyvirtdProcess(tmp_path, config="max_message_size = 4096\n") as d:
        with RawClient(d.sock) as c:
            c.open()
            err = error_of(c.call(R.DOMAIN_DEFINE_XML, ("x" * 3000,)))
            assert err.code != ErrorNumber.RPC     # decoded and handed to the driver
            c.send(c.frame(R.DOMAIN_DEFINE_XML, ("x" * 5000,)))
            assert c.closed_by_peer()
        with RawClient(d.sock) as c:
            c.open()


def test_max_clients(tmp_path: Path) -> None:
    with PyvirtdProcess(tmp_path, config="max_clients = 2\n") as d:
        a, b = RawClient(d.sock), RawClient(d.sock)
        a.open()
        b.open()
        c = RawClient(d.sock, timeout=1)
        c.send(c.frame(R.AUTH_LIST))
        with pytest.raises(socket.timeout):
            c.recv()             # waits in the listen backlog
        a.close()
        c.sock.settimeout(10)
        assert c.recv().status == Status.OK
        for x in (b, c):
            x.close()


def test_keepalive_pings_and_drops_silent_clients(tmp_path: Path) -> None:
    with PyvirtdProcess(tmp_path, config="keepalive_interval = 1\nkeepalive_count = 2\n") as d:
        silent, polite = RawClient(d.sock), RawClient(d.sock)
        for c in (silent, polite):
            assert c.ok(R.CONNECT_SUPPORTS_FEATURE, (10,)).supported == 1
            c.open()
        pinged = False
        deadline = time.monotonic() + 8
        polite.sock.settimeout(0.2)
        while time.monotonic() < deadline and not pinged:
            try:
                pkt = polite.recv()
            except TimeoutError:
                continue
            if pkt.frame == PING:
                polite.send(PONG)
                pinged = True
        assert pinged
        silent.sock.settimeout(10)
        assert silent.recv().frame == PING
        assert silent.closed_by_peer()        # after interval * count without a word
        for _ in range(6):                    # the polite one answers and stays
            polite.sock.settimeout(0.5)
            try:
                if polite.recv().frame == PING:
                    polite.send(PONG)
            except TimeoutError:
                pass
        polite.sock.settimeout(10)
        assert polite.ok(R.CONNECT_GET_TYPE).type == "TEST"
        silent.close()
        polite.close()


def test_idle_timeout_exits_without_clients(tmp_path: Path) -> None:
    d = PyvirtdProcess(tmp_path, extra=["--timeout", "1"]).start()
    try:
        with RawClient(d.sock) as c:
            c.open()
            time.sleep(2.5)
            assert d.proc is not None and d.proc.poll() is None   # a client keeps it up
        assert d.proc.wait(15) == 0
    finally:
        d.stop()


def test_peer_credentials_on_the_read_write_socket(tmp_path: Path) -> None:
    # sockets in a directory anyone may enter, the rw socket open to all: only the
    # peer-credential check stands between uid 65534 and the read-write connection
    sockdir = Path(tempfile.mkdtemp(prefix="pyvirtd-sock-"))
    sockdir.chmod(0o755)
    conf = f'unix_sock_dir = "{sockdir}"\nunix_sock_rw_perms = "0777"\n'
    script = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
os.setgid(65534); os.setuid(65534)
from tests.daemon.raw import RawClient, R, error_of
from pyvirt.rpc.packet import Status
with RawClient({str(sockdir / 'libvirt-sock')!r}) as c:
    print("authlist", list(c.ok(R.AUTH_LIST).types))
    print("open", error_of(c.call(R.CONNECT_OPEN, ("test:///default", 0))).message)
    print("polkit", error_of(c.call(R.AUTH_POLKIT)).code)
with RawClient({str(sockdir / 'libvirt-sock-ro')!r}) as c:
    c.open()
    print("ro", c.ok(R.CONNECT_GET_TYPE).type)
"""
    try:
        with PyvirtdProcess(tmp_path / "d", config=conf, tcp=False):
            d_sock = sockdir / "libvirt-sock"
            assert d_sock.exists()
            out = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                 text=True, timeout=60, cwd="/", check=False)
            assert out.returncode == 0, out.stderr
            lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
            assert lines["authlist"] == "[2]"
            assert lines["open"] == "authentication required"
            assert lines["polkit"] == str(int(ErrorNumber.AUTH_FAILED))
            assert lines["ro"] == "TEST"
            with RawClient(str(d_sock)) as c:       # root is let in
                assert list(c.ok(R.AUTH_LIST).types) == [0]
    finally:
        for p in sockdir.iterdir():
            p.unlink()
        sockdir.rmdir()


def test_background_mode_logs_to_a_file(tmp_path: Path) -> None:
    root = tmp_path / "bg"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rc = subprocess.run([sys.executable, "-m", "pyvirt.daemon", "--root", str(root), "-v"],
                        env=env, timeout=30, check=False).returncode
    assert rc == 0          # the parent returns once it has forked
    pidfile = root / "run" / "pyvirtd.pid"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (root / "run" / "pyvirtd.listen").exists():
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    try:
        with RawClient(str(root / "run" / "libvirt-sock")) as c:
            c.open()
    finally:
        # the daemon this test started: wait for the process itself, not its pidfile
        # (removed just before it exits); pidfds work for processes that are not children
        pidfd = os.pidfd_open(pid)
        try:
            os.kill(pid, signal.SIGTERM)
            select.select([pidfd], [], [], 20)
        finally:
            os.close(pidfd)
    log = (root / "log" / "pyvirtd.log").read_text()
    assert "listening" in log and "opened test:///default" in log and "stopped" in log
