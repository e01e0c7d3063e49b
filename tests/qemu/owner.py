"""An owner process for the reattach tests: opens a root, starts guests, reports, waits.

    python -m tests.qemu.owner ROOT SPEC.json

SPEC is a list of {"xml": ..., "paused": bool, "persistent": bool}.  Once every guest
runs, one JSON line goes to stdout: [{"name", "id", "state", "reason", "pid"}, ...];
then the process sleeps until it is killed (the tests SIGKILL it).
"""
from __future__ import annotations

import json
import signal
import sys

import pyvirt


def main() -> None:
    root, spec_path = sys.argv[1], sys.argv[2]
    with open(spec_path) as f:
        spec = json.load(f)
    conn = pyvirt.connect(f"qemu:///embed?root={root}")
    out = []
    for item in spec:
        flags = 1 if item.get("paused") else 0
        if item.get("persistent", True):
            dom = conn.define_domain(item["xml"])
            dom.create(flags)
        else:
            dom = conn.create_domain(item["xml"], flags)
        st = dom.state()
        node = conn._hv.node
        out.append({"name": dom.name, "id": dom.id, "state": int(st.state),
                    "reason": int(st.reason), "pid": node.domains.by_name[dom.name].priv.pid})
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
