"""Routing of incoming packets: keepalive, libvirtd's protocol checks, calls to workers.

On the loop thread (`incoming`): keepalive PINGs get a PONG at once (§3.2); packets that
are not calls are logged and dropped; a call to a program or version pyvirtd does not
serve gets libvirtd's "Cannot find program P version V" (VIR_ERR_RPC, §1 "Server
dispatch checks"). Everything else goes to the worker pool (or, for a query its driver answers from
memory, runs at once on the loop thread: QUICK_BY_DRIVER), where `call` finds the
procedure, refuses unauthenticated clients, decodes the args, runs the hand-written
(procs.py) or generated (_dispatch_gen.py) handler and encodes the reply: the *_ret on
success, a remote_error otherwise. An unknown procedure gets "unknown procedure: N",
which libvirt clients turn into VIR_ERR_NO_SUPPORT; a hypervisor call before
CONNECT_OPEN gets "internal error: hypervisor connection not open" (both VIR_FROM_RPC).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..constants import ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from ..rpc import procedures as P
from ..rpc.error import encode_error, rpc_error, unknown_procedure_error
from ..rpc.packet import (
    KEEPALIVE_PROGRAM,
    PROTOCOL_VERSION,
    Header,
    MessageType,
    Packet,
    Status,
    build_frame,
    encode_frame,
)
from ..rpc.program import Program
from ..rpc.xdr import XDRError
from . import procs, streams
from ._dispatch_gen import HANDLERS as GENERATED
from ._dispatch_gen import QUERIES

if TYPE_CHECKING:
    from .client import ServerClient
    from .server import Server

__all__ = ["NO_AUTH", "PING_FRAME", "PONG_FRAME", "SERVED", "Dispatcher"]

log = logging.getLogger("pyvirt.daemon")

# Programs served on the client sockets (LXC is not: pyvirtd has no lxc driver).
SERVED: dict[int, Program] = {P.REMOTE.number: P.REMOTE, P.QEMU.number: P.QEMU}
# Procedures a client may call before it has authenticated (the AUTH_* family and the
# keepalive feature query, §1).
NO_AUTH = frozenset({(P.REMOTE.number, P.RemoteProcedure.AUTH_LIST),
                     (P.REMOTE.number, P.RemoteProcedure.AUTH_POLKIT),
                     (P.REMOTE.number, P.RemoteProcedure.CONNECT_SUPPORTS_FEATURE)})

PING_FRAME = build_frame(Header(KEEPALIVE_PROGRAM, PROTOCOL_VERSION, P.KeepaliveProcedure.PING,
                                MessageType.MESSAGE, 0, Status.OK))
PONG_FRAME = build_frame(Header(KEEPALIVE_PROGRAM, PROTOCOL_VERSION, P.KeepaliveProcedure.PONG,
                                MessageType.MESSAGE, 0, Status.OK))
_CALLS = (MessageType.CALL, MessageType.CALL_WITH_FDS)
_STREAMS = (MessageType.STREAM, MessageType.STREAM_HOLE)
# Queries answered from memory run on the loop thread: handing a call to a worker costs
# about 40 us of thread switching here, a third of a call's time (benches/bench_rpc_daemon).
# Per driver (its getType name), the procedures that never block: every query of the
# in-memory test driver; for qemu the ones read under its short node lock (never a
# domain job, never a QMP round trip: drivers/qemu/domains.py).
_R = P.RemoteProcedure
QUICK_BY_DRIVER: dict[str, frozenset[int]] = {
    "TEST": QUERIES | procs.QUICK,
    "QEMU": (procs.QUICK - {_R.DOMAIN_GET_VCPUS, _R.NODE_GET_CPU_MAP}) | frozenset({
        _R.CONNECT_GET_TYPE, _R.CONNECT_GET_VERSION, _R.CONNECT_GET_LIB_VERSION,
        _R.CONNECT_GET_HOSTNAME, _R.CONNECT_LIST_ALL_DOMAINS, _R.CONNECT_LIST_DOMAINS,
        _R.CONNECT_NUM_OF_DOMAINS, _R.CONNECT_LIST_DEFINED_DOMAINS,
        _R.CONNECT_NUM_OF_DEFINED_DOMAINS, _R.DOMAIN_LOOKUP_BY_ID, _R.DOMAIN_LOOKUP_BY_NAME,
        _R.DOMAIN_LOOKUP_BY_UUID, _R.DOMAIN_GET_INFO, _R.DOMAIN_GET_STATE,
        _R.DOMAIN_GET_XML_DESC, _R.DOMAIN_GET_OS_TYPE, _R.DOMAIN_GET_MAX_MEMORY,
        _R.DOMAIN_GET_MAX_VCPUS, _R.DOMAIN_GET_AUTOSTART, _R.DOMAIN_IS_ACTIVE,
        _R.DOMAIN_IS_PERSISTENT, _R.DOMAIN_HAS_MANAGED_SAVE_IMAGE}),
}


def not_open() -> libvirtError:
    """A hypervisor call before CONNECT_OPEN (§1)."""
    return error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "hypervisor connection not open")


def not_served(proc: str) -> libvirtError:
    """A procedure the wire describes but pyvirtd does not implement."""
    return error(ErrorNumber.NO_SUPPORT, ErrorDomain.RPC, proc)


def error_frame(header: Header, exc: libvirtError) -> bytes:
    """The ERROR reply to the call with this header."""
    return build_frame(header.reply(Status.ERROR), encode_error(exc))


class Dispatcher:
    """Takes each packet a client sends; runs calls on the server's worker pool."""

    def __init__(self, server: Server) -> None:
        self.server = server

    # -- loop thread --------------------------------------------------------------------
    def incoming(self, client: ServerClient, pkt: Packet) -> None:
        if pkt.prog == KEEPALIVE_PROGRAM:
            if pkt.proc == P.KeepaliveProcedure.PING and pkt.type == MessageType.MESSAGE:
                client.send(PONG_FRAME)
            return   # a PONG only proves the client alive (last_rx already moved)
        if pkt.type in _STREAMS:
            streams.incoming(client, pkt)
            return
        if pkt.type not in _CALLS:
            # libvirtd expects no reply to MESSAGE packets
            log.debug("client %s: dropping %s packet prog %#x proc %d", client.ident,
                      pkt.type, pkt.prog, pkt.proc)
            return
        prog = SERVED.get(pkt.prog)
        if prog is None or pkt.vers != prog.version:
            client.send(error_frame(pkt.header, rpc_error(
                f"Cannot find program {pkt.prog} version {pkt.vers}")))
            return
        if pkt.type == MessageType.CALL_WITH_FDS:
            # FDs travel as SCM_RIGHTS, which pyvirtd does not receive (it answers 0 to
            # feature 8, FD_PASSING), so such a call cannot be served
            client.send(error_frame(pkt.header, rpc_error(
                f"Unexpected message type {pkt.type}")))
            return
        if pkt.status != Status.OK:
            client.send(error_frame(pkt.header, rpc_error(
                f"Unexpected message status {pkt.status}")))
            return
        if client.admit(pkt, prog):
            self.start(client, pkt, prog)

    def start(self, client: ServerClient, pkt: Packet, prog: Program,
              inline: bool = True) -> None:
        """Run an admitted call: inline for a quick query, else on a worker. Calls taken
        from a client's backlog always go to a worker (no recursion through call_done)."""
        try:
            if inline and prog is P.REMOTE and pkt.proc in client.quick:
                self.run_call(client, pkt, prog)
            else:
                self.server.pool.submit(self.run_call, client, pkt, prog)
        except RuntimeError:   # stopping
            client.call_done()

    # -- worker threads -----------------------------------------------------------------
    def run_call(self, client: ServerClient, pkt: Packet, prog: Program) -> None:
        try:
            client.send(self.call(client, pkt, prog))
            if client.streams:
                streams.start(client, pkt)   # a stream the call opened starts now
        finally:
            client.call_done()

    def call(self, client: ServerClient, pkt: Packet, prog: Program) -> bytes:
        """The reply frame to one call."""
        header = pkt.header
        proc = prog.get(pkt.proc)
        try:
            if proc is None or proc.is_message:
                raise unknown_procedure_error(pkt.proc)
            if not client.authenticated and (prog.number, proc.number) not in NO_AUTH:
                raise rpc_error("authentication required")
            try:
                args = pkt.decode(proc.args)
            except XDRError as exc:
                log.info("client %s: %s: %s", client.ident, proc.name, exc)
                raise rpc_error("Unable to decode message payload") from None
            hand = procs.HANDLERS.get((prog.number, proc.number))
            opener = procs.STREAM_OPENERS.get((prog.number, proc.number))
            if opener is not None:
                ret = opener(client, args, header)
            elif hand is not None:
                ret = hand(client, args)
            else:
                gen = GENERATED.get(proc.number) if prog is P.REMOTE else None
                if gen is None:
                    raise not_served(f"{prog.name}_PROC_{proc.name}")
                conn = client.conn
                if conn is None:
                    raise not_open()
                ret = gen(conn, args)
            return encode_frame(header.reply(), proc.ret, ret)
        except libvirtError as exc:
            return error_frame(header, exc)
        except Exception as exc:  # a bug here must still answer the call
            log.exception("client %s: procedure %s failed", client.ident,
                          proc.name if proc else pkt.proc)
            return error_frame(header, error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC,
                                             f"{type(exc).__name__}: {exc}"))
