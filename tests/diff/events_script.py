"""Run lifecycle transitions on test:///default with an event loop; print the events.

Usage: python events_script.py libvirt|pyvirt  (one process each: registering the
default event loop is process-wide in both implementations).
"""
from __future__ import annotations

import json
import sys


def main(which: str) -> None:
    if which == "libvirt":
        import libvirt as lv
    else:
        import pyvirt as lv
    lv.registerErrorHandler(lambda ctx, err: None, None)
    out: list[object] = []
    c = lv.open("test:///default")
    try:
        c.domainEventRegisterAny(None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE, lambda *a: None, None)
    except lv.libvirtError as e:
        out.append(["register-without-loop", e.get_error_code(), e.get_error_domain(), str(e)])
    lv.virEventRegisterDefaultImpl()
    got: list[object] = []
    ids = [c.domainEventRegisterAny(None, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                    lambda conn, dom, ev, det, op: got.append(
                                        [op, dom.name(), dom.ID(), ev, det]), "all")]
    d = c.lookupByName("test")
    ids.append(c.domainEventRegisterAny(d, lv.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                        lambda conn, dom, ev, det, op: got.append(
                                            [op, dom.name(), ev, det]), "test-only"))
    out.append(["ids", ids])
    xml = d.XMLDesc(0).replace(" id='1'", "")
    other = xml.replace("<name>test</name>", "<name>ev2</name>").replace("6695eb01", "5695eb01")

    def drain() -> None:
        # a short timer wakes the loop after the queued events are delivered
        lv.virEventAddTimeout(20, lambda timer, opaque: lv.virEventRemoveTimeout(timer), None)
        for _ in range(3):
            lv.virEventRunDefaultImpl()

    for label, step in [("suspend", d.suspend), ("resume", d.resume), ("destroy", d.destroy),
                        ("create", d.create), ("shutdown", d.shutdown),
                        ("define", lambda: c.defineXML(other)),
                        ("undefine", lambda: c.lookupByName("ev2").undefine()),
                        ("createXML", lambda: c.createXML(other, 0)),
                        ("destroy-transient", lambda: c.lookupByName("ev2").destroy())]:
        got.clear()
        step()
        drain()
        out.append([label, sorted(got, key=repr)])
    c.domainEventDeregisterAny(ids[0])
    try:
        c.domainEventDeregisterAny(ids[0])
    except lv.libvirtError as e:
        out.append(["deregister-twice", e.get_error_code(), e.get_error_domain(), str(e)])
    got.clear()
    d.create()
    drain()
    out.append(["after-deregister", got])
    # legacy registration
    legacy: list[object] = []

    def cb(conn: object, dom: object, ev: int, det: int, op: object) -> None:
        legacy.append([dom.name(), ev, det, op])  # type: ignore[attr-defined]
    c.domainEventRegister(cb, "legacy")
    d.suspend()
    drain()
    c.domainEventDeregister(cb)
    d.resume()
    drain()
    out.append(["legacy", legacy])
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
