"""The ssh transport end to end: the system ssh client, a real ssh server on loopback
(pyvirt.testing.sshd: dropbear in its own mount namespace, keys of its own), and `nc`
on the far side, as libvirt's netcat proxy runs it.

pyvirt's remote driver reaches pyvirtd and a real libvirtd that way, and the real virsh
reaches pyvirtd that way; events flow over the tunnel, and closing a connection ends the
ssh session on both sides (libvirt's `nc -q0` detail: without it the far nc would wait
forever and the session would never end)."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

import pyvirt
from pyvirt.constants import DomainEventID, DomainEventType
from pyvirt.testing.sshd import PrivateSshd, sshd_unavailable
from tests.interop.peers import LibvirtdProcess, PyvirtdProcess, libvirtd_available


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateSshd]:
    why = sshd_unavailable()
    if why:
        pytest.skip(why)
    with PrivateSshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def _wait_sessions_gone(server: PrivateSshd, timeout: float = 10.0) -> list[int]:
    deadline = time.monotonic() + timeout
    left = server.sessions()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = server.sessions()
    return left


def test_pyvirt_over_ssh_to_pyvirtd(sshd: PrivateSshd, daemon: PyvirtdProcess) -> None:
    uri = sshd.uri("test", "/default", socket=daemon.sock)
    with pyvirt.connect(uri) as c:
        assert c.get_type() == "TEST"
        assert c.is_secure() and not c.is_encrypted()
        dom = c.lookup_domain_by_name("test")
        assert dom.info().nr_virt_cpu == 2
        assert [d.name for d in c.list_all_domains()] == ["test"]
        assert sshd.sessions(), "an ssh session serves the open connection"
    assert _wait_sessions_gone(sshd) == [], "closing the connection ends the ssh session"


def test_events_flow_over_ssh(sshd: PrivateSshd, daemon: PyvirtdProcess,
                              event_loop_thread: None) -> None:
    uri = sshd.uri("test", "/default", socket=daemon.sock)
    seen: list[tuple[int, int]] = []
    got = threading.Event()

    def on_lifecycle(conn: object, dom: object, event: int, detail: int, opaque: object) -> None:
        seen.append((event, detail))
        got.set()

    with pyvirt.connect(uri) as c:
        cb = c.domain_event_register_any(None, DomainEventID.LIFECYCLE, on_lifecycle, None)
        dom = c.lookup_domain_by_name("test")
        dom.suspend()
        try:
            assert got.wait(10), "no lifecycle event came over the ssh tunnel"
            assert seen[0][0] == DomainEventType.SUSPENDED
        finally:
            dom.resume()
            c.domain_event_deregister_any(cb)


def test_ssh_refuses_an_unknown_host_key(sshd: PrivateSshd, daemon: PyvirtdProcess) -> None:
    known = sshd.root / "known_hosts"
    pinned = known.read_text()
    known.write_text(pinned.replace("127.0.0.1", "127.0.0.2"))    # no key for our host
    try:
        with pytest.raises(pyvirt.libvirtError) as exc:
            pyvirt.connect(sshd.uri("test", "/default", socket=daemon.sock))
        # what ssh said is in the error, as libvirt puts it there
        assert "Host key verification failed" in exc.value.message, exc.value.message
    finally:
        known.write_text(pinned)


def test_real_virsh_over_ssh_to_pyvirtd(sshd: PrivateSshd, daemon: PyvirtdProcess) -> None:
    # proxy=netcat: libvirt 9's default (auto) would run virt-ssh-helper on the far
    # side, which only knows libvirt's own daemons
    uri = sshd.uri("test", "/default", socket=daemon.sock, proxy="netcat")
    env = {**os.environ, "LC_ALL": "C"}
    out = subprocess.run(["virsh", "-c", uri, "list", "--all"], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert " 1    test   running" in out.stdout
    out = subprocess.run(["virsh", "-c", uri, "dominfo", "test"], capture_output=True,
                         text=True, timeout=60, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert "CPU(s):         2" in out.stdout
    assert _wait_sessions_gone(sshd) == []


@pytest.mark.skipif(libvirtd_available() is not None, reason=str(libvirtd_available()))
def test_pyvirt_over_ssh_to_real_libvirtd(sshd: PrivateSshd, tmp_path_factory:
                                          pytest.TempPathFactory) -> None:
    with LibvirtdProcess(tmp_path_factory.mktemp("libvirtd"), tcp=False) as lv:
        uri = sshd.uri("test", "/default", socket=str(lv.sock))
        with pyvirt.connect(uri) as c:
            assert c.get_type() == "TEST"
            dom = c.lookup_domain_by_name("test")
            dom.suspend()
            assert dom.state().state == 3        # paused, on libvirt's test driver
            dom.resume()
        assert _wait_sessions_gone(sshd) == []
