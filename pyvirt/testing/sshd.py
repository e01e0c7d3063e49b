"""A private ssh server on loopback, so the ssh transport is tested with real ssh.

    with PrivateSshd() as sshd:
        uri = sshd.uri("test", "/default", socket=daemon_socket)
        # test+ssh://root@127.0.0.1:PORT/default?command=ROOT/ssh&keyfile=ROOT/id_ed25519
        #   &no_tty=1&socket=...
        pyvirt.connect(uri)                      # or: virsh -c URI

The server is dropbear (Debian's dropbear-bin: binaries only, no service), listening on
127.0.0.1 only, with its own host key, password logins off, in its own mount namespace
(`unshare -m`) where a private directory is bind-mounted over the serving user's home:
its ~/.ssh/authorized_keys holds only this server's client key, and the machine's own
home directory and ssh files are never read or written.

The client is the system's OpenSSH `ssh`, run through a two-line wrapper (the URI's
`command=`) that adds `-F ROOT/ssh_config`: the server's host key is pinned in
ROOT/known_hosts and checked strictly, and nothing is added to the user's own
known_hosts, just as a user would arrange it in ~/.ssh/config.

The server is stopped by its PID (and the session processes it forked, by theirs), pass
or fail.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

from .peers import PeerError, _tcp_open, _tail, free_port, stop_pid

__all__ = ["PrivateSshd", "sshd_unavailable"]

_TOOLS = ("dropbear", "dropbearkey", "ssh", "ssh-keygen", "unshare", "nc")


def sshd_unavailable() -> str | None:
    """Why a PrivateSshd cannot run here, or None."""
    missing = [t for t in _TOOLS if shutil.which(t) is None]
    if missing:
        return (f"{', '.join(missing)} not installed "
                "(Debian: dropbear-bin, openssh-client, netcat-openbsd)")
    if os.geteuid() != 0:
        return "a private sshd needs root (it runs in its own mount namespace)"
    return None


def _run(*argv: str) -> str:
    return subprocess.run(argv, check=True, capture_output=True, text=True).stdout


class PrivateSshd:
    """dropbear on 127.0.0.1:PORT serving the current user, with keys of its own."""

    def __init__(self, root: Path | str | None = None) -> None:
        self._tmp = None if root else tempfile.TemporaryDirectory(prefix="pyvirt-sshd-")
        self.root = Path(root or self._tmp.name)  # type: ignore[union-attr]
        self.user = pwd.getpwuid(os.geteuid())
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def keyfile(self) -> Path:
        return self.root / "id_ed25519"

    @property
    def ssh_command(self) -> Path:
        """The system ssh client, with this server's known_hosts."""
        return self.root / "ssh"

    @property
    def log(self) -> Path:
        return self.root / "dropbear.log"

    def uri(self, driver: str, path: str, **params: str) -> str:
        query = {"command": str(self.ssh_command), "keyfile": str(self.keyfile),
                 "no_tty": "1", **params}
        q = "&".join(f"{k}={quote(v, safe='/')}" for k, v in query.items())
        return f"{driver}+ssh://{self.user.pw_name}@127.0.0.1:{self.port}{path}?{q}"

    def _prepare(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "pyvirt-test",
             "-f", str(self.keyfile))
        hostkey = self.root / "host_ed25519"
        _run("dropbearkey", "-t", "ed25519", "-f", str(hostkey))
        public = next(line for line in _run("dropbearkey", "-y", "-f", str(hostkey))
                      .splitlines() if line.startswith("ssh-"))
        home = self.root / "home"
        (home / ".ssh").mkdir(mode=0o700, parents=True)
        home.chmod(0o700)
        keys = home / ".ssh" / "authorized_keys"
        keys.write_text(Path(f"{self.keyfile}.pub").read_text())
        keys.chmod(0o600)
        known = self.root / "known_hosts"
        known.write_text(f"[127.0.0.1]:{self.port} {' '.join(public.split()[:2])}\n")
        config = self.root / "ssh_config"
        config.write_text(f"UserKnownHostsFile {known}\nGlobalKnownHostsFile /dev/null\n"
                          "StrictHostKeyChecking yes\nConnectTimeout 10\n")
        self.ssh_command.write_text(f"#!/bin/sh\nexec {shutil.which('ssh')} -F {config} \"$@\"\n")
        self.ssh_command.chmod(0o755)
        return hostkey

    def start(self, timeout: float = 15.0) -> Self:
        why = sshd_unavailable()
        if why:
            raise PeerError(why)
        self.port = free_port()
        hostkey = self._prepare()
        script = (f"mount --bind {self.root / 'home'} {self.user.pw_dir} && "
                  f"exec dropbear -F -E -s -m -p 127.0.0.1:{self.port} -r {hostkey} "
                  f"-P {self.root / 'dropbear.pid'}")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not _tcp_open(self.port):
            if self.proc.poll() is not None:
                raise PeerError(f"dropbear exited ({self.proc.returncode}): {_tail(self.log)}")
            time.sleep(0.02)
        if not _tcp_open(self.port):
            self.stop()
            raise PeerError(f"dropbear did not listen in {timeout} s: {_tail(self.log)}")
        return self

    def sessions(self) -> list[int]:
        """PIDs of the session processes dropbear forked (one per open connection)."""
        if self.proc is None:
            return []
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self) -> None:
        if self.proc is None:
            return
        sessions = self.sessions()
        if self.proc.poll() is None:
            stop_pid(self.proc.pid, 5.0)
        self.proc.wait()
        for pid in sessions:
            stop_pid(pid, 5.0)
        self.proc = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            self.cleanup()
            raise

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        self.cleanup()

    def cleanup(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
