"""A stand-in for ssh to a host that is this machine: records its argv, then runs the
remote command locally (`fake_ssh.py [options] -- HOST COMMAND`)."""
import os
import sys

argv = sys.argv[1:]
log = os.environ.get("FAKE_SSH_LOG")
if log:
    with open(log, "a") as f:
        f.write(" ".join(argv) + "\n")
sep = argv.index("--")
host, command = argv[sep + 1], argv[sep + 2]
os.execvp("sh", ["sh", "-c", command])
