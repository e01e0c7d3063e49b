"""A stand-in for ssh to a host that is this machine: records its argv, then does what
sshd does with the remote command: joins the words after HOST with spaces and runs them
with the user's shell (`fake_ssh.py [options] -- HOST WORD...`)."""
import os
import sys

argv = sys.argv[1:]
log = os.environ.get("FAKE_SSH_LOG")
if log:
    with open(log, "a") as f:
        f.write("\0".join(argv) + "\n")
sep = argv.index("--")
command = " ".join(argv[sep + 2:])
os.execvp("sh", ["sh", "-c", command])
