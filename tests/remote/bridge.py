"""A stand-in for `nc -U PATH`: relays stdin/stdout to a unix socket (no netcat here)."""
import os
import selectors
import socket
import sys


def main() -> int:
    args = sys.argv[1:]
    if len(args) != 2 or args[0] != "-U":
        print("usage: bridge.py -U PATH", file=sys.stderr)
        return 2
    s = socket.socket(socket.AF_UNIX)
    s.connect(args[1])
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj == 0:
                data = os.read(0, 65536)
                if not data:
                    return 0
                s.sendall(data)
            else:
                data = s.recv(65536)
                if not data:
                    return 0
                view = memoryview(data)
                while view:
                    view = view[os.write(1, view):]


if __name__ == "__main__":
    sys.exit(main())
