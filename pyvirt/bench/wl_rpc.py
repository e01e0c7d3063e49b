"""RPC workloads: info, state and lookup calls per second through a daemon, p50/p99.

libvirt-python is the client on both sides (against pyvirtd and against libvirtd), so
only the server and the wire differ.  The domain is a firmware guest defined (not
running) on qemu:///system, so that the calls measure the RPC path and the daemon's
dispatch rather than a guest.  One client, or many (one connection and one thread
each, released together by a barrier): the trial's rate is all calls over the wall time
from release to the last reply; the latencies of every call give p50 and p99.
Over the unix socket (ROOT/run/libvirt-sock) and over TCP on 127.0.0.1.
"""
from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from .core import RATE, Context, Measurement, Metric, NotApplicable, Workload
from .guests import firmware_xml, vtype
from .targets import Target

__all__ = ["WORKLOADS", "RpcWorkload"]

_CALLS: dict[str, Callable[[Any, Any, str], object]] = {
    "info": lambda conn, dom, name: dom.info(),
    "state": lambda conn, dom, name: dom.state(0),
    "lookup": lambda conn, dom, name: conn.lookupByName(name),
}


@dataclasses.dataclass
class _State:
    ctx: Context
    admin: Any
    name: str
    conns: list[Any] = dataclasses.field(default_factory=list)
    doms: list[Any] = dataclasses.field(default_factory=list)


def _client(gate: threading.Barrier, call: Callable[[Any, Any, str], object], conn: Any,
            dom: Any, name: str, count: int, lat: list[float],
            errors: list[BaseException]) -> None:
    """One client thread: wait for the start, make `count` calls, time each."""
    clock = time.perf_counter
    try:
        gate.wait()
        for _ in range(count):
            t0 = clock()
            call(conn, dom, name)
            lat.append(clock() - t0)
    except BaseException as exc:  # noqa: BLE001 - re-raised by the trial
        errors.append(exc)


class RpcWorkload(Workload):
    group = "rpc"

    def __init__(self, transport: str, many: bool) -> None:
        self.transport = transport
        self.many = many
        self.name = f"rpc.{transport}.c{50 if many else 1}"
        self.title = (f"calls/s over {'TCP loopback' if transport == 'tcp' else 'unix socket'},"
                      f" {'50 clients' if many else '1 client'}")
        self.metrics = tuple(Metric(c, f"{c} calls per second", RATE) for c in _CALLS)

    def clients(self, ctx: Context) -> int:
        return ctx.sizes.rpc_clients if self.many else 1

    def calls_each(self, ctx: Context) -> int:
        return ctx.sizes.rpc_calls_each if self.many else ctx.sizes.rpc_calls_1

    def describe(self, ctx: Context) -> str:
        n = self.clients(ctx)
        return (f"libvirt-python client{'s' if n > 1 else ''} ({n}, one connection and thread "
                f"each, {self.calls_each(ctx)} calls each per trial), qemu:///system over "
                f"{self.transport}; a defined, shut-off guest")

    def check(self, target: Target, ctx: Context) -> None:
        if target.name not in ("pyvirtd", "libvirt"):
            raise NotApplicable("no daemon: the RPC workloads measure pyvirtd and libvirtd")
        target.rpc_api()
        target.rpc_uri(self.transport)

    def setup(self, target: Target, ctx: Context) -> _State:
        api = target.rpc_api()
        uri = target.rpc_uri(self.transport)
        st = _State(ctx, api.open(uri), ctx.name("rpc"))
        try:
            st.admin.defineXML(firmware_xml(st.name, vtype(ctx), None))
            for _ in range(self.clients(ctx)):
                conn = api.open(uri)
                st.conns.append(conn)
                st.doms.append(conn.lookupByName(st.name))
        except BaseException:
            self.teardown(st)
            raise
        return st

    def trial(self, st: _State) -> Measurement:
        out: Measurement = {}
        each = self.calls_each(st.ctx)
        for metric, call in _CALLS.items():
            lat: list[list[float]] = [[] for _ in st.conns]
            errors: list[BaseException] = []
            gate = threading.Barrier(len(st.conns) + 1)
            threads = [threading.Thread(target=_client, daemon=True,
                                        args=(gate, call, conn, dom, st.name, each, mine, errors))
                       for conn, dom, mine in zip(st.conns, st.doms, lat)]
            for t in threads:
                t.start()
            gate.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            if errors:
                raise errors[0]
            flat = [x for per in lat for x in per]
            out[metric] = (len(flat) / wall, flat)
        return out

    def teardown(self, st: _State) -> None:
        for conn in st.conns:
            with contextlib.suppress(Exception):  # closing what may be broken
                conn.close()
        with contextlib.suppress(Exception):      # never defined, or already gone
            st.admin.lookupByName(st.name).undefine()
        st.admin.close()


WORKLOADS: tuple[Workload, ...] = tuple(RpcWorkload(tr, many) for tr in ("unix", "tcp")
                                        for many in (False, True))
