"""RemoteDriver: every driver table filled by calls to pyvirtd or libvirtd.

The generated slots (_slots_gen.py) cover the calls that map one-to-one onto a
procedure. Written here: opening (AUTH_LIST, the keepalive and event-callback feature
queries, CONNECT_OPEN: shared/rpc-protocol.md §3.1), the URI and security questions
libvirt's client answers partly itself, the vCPU and CPU maps, and events: each local
registration gets its own server callback (316), and MESSAGE 318+ from the server are
queued on this connection's EventState, so callbacks run on the registered event loop.
"""
from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from ... import eventloop
from ...constants import ConnectFlags, ErrorDomain, ErrorNumber, VcpuState
from ...errors import error, libvirtError
from ...events import EventState
from ...rpc import procedures as P
from ...rpc.packet import Packet
from ...rpc.program import Procedure
from ...types import CPUMap, VcpuInfo
from ...uri import URI
from ..base import HypervisorDriver, NetworkDriver, StorageDriver
from ..handles import DomainHandle, StorageVolHandle
from ._slots_gen import EVENTS, GeneratedSlots, _enum
from .client import RPCClient
from .streams import RemoteChannel
from .transport import Transport

__all__ = ["RemoteDriver"]

log = logging.getLogger("pyvirt.remote")

R = P.REMOTE
FEATURE_PROGRAM_KEEPALIVE = 10
FEATURE_REMOTE_EVENT_CALLBACK = 14
AUTH_NONE, AUTH_SASL, AUTH_POLKIT = 0, 1, 2
KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 5, 6        # virsh's defaults (§3.2)


def _bits(buf: bytes, n: int) -> list[bool]:
    return [bool(buf[i >> 3] & (1 << (i & 7))) if (i >> 3) < len(buf) else False
            for i in range(n)]


class RemoteDriver(GeneratedSlots, HypervisorDriver, NetworkDriver, StorageDriver):
    """One connection to a daemon; the same object fills all three tables."""

    name = "REMOTE"

    def __init__(self, uri: URI, transport: Transport, flags: int) -> None:
        self.uri = uri
        self._rpc = RPCClient(transport, self._on_message)
        self._events = EventState()
        self._tokens = itertools.count()
        self._regs: dict[int, tuple[int, str]] = {}     # local callback ID -> (server ID, family)
        self._by_server: dict[int, str] = {}            # server callback ID -> family
        self._reg_lock = threading.Lock()
        self._closed = False
        try:
            self._open(flags)
        except BaseException:
            self._rpc.close()
            raise

    def _call(self, proc: Procedure, args: Any) -> Any:
        return self._rpc.call(proc, args)

    def _open(self, flags: int) -> None:
        types = self._call(R["AUTH_LIST"], None).types
        if AUTH_NONE not in types:
            if AUTH_POLKIT in types:
                self._call(R["AUTH_POLKIT"], None)
            else:
                raise error(ErrorNumber.AUTH_UNAVAILABLE, ErrorDomain.RPC,
                            f"the server asks for authentication types {list(types)}; "
                            "pyvirt's remote driver supports none and polkit")
        if eventloop.is_registered():
            # libvirt asks for keepalive only when an event loop can run it (§3.1 step 2)
            if self._feature(FEATURE_PROGRAM_KEEPALIVE):
                self._rpc.keepalive_interval = KEEPALIVE_INTERVAL
                self._rpc.keepalive_count = KEEPALIVE_COUNT
            self._rpc.watch()
        self._call(R["CONNECT_OPEN"], (self.uri.server_uri(), flags & ConnectFlags.RO))
        self._event_callbacks = self._feature(FEATURE_REMOTE_EVENT_CALLBACK)

    def _feature(self, feature: int) -> bool:
        # an error reply counts as "unsupported" (§3.1)
        try:
            return bool(self._call(R["CONNECT_SUPPORTS_FEATURE"], (feature,)).supported)
        except libvirtError:
            return False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._rpc.alive:
            try:
                self._call(R["CONNECT_CLOSE"], None)
            except libvirtError as exc:   # the socket closes anyway
                log.debug("CONNECT_CLOSE failed: %s", exc)
        self._events.close()
        self._rpc.close()

    # -- the connection -------------------------------------------------------------------
    def connect_get_uri(self) -> str:
        return self.uri.raw

    def connect_is_alive(self) -> bool:
        return not self._closed and self._rpc.alive

    def connect_is_secure(self) -> bool:
        # secure if the transport is and the server's connection is (remoteConnectIsSecure)
        secure = bool(self._call(R["CONNECT_IS_SECURE"], None).secure)
        return secure and self._rpc.transport.secure

    def connect_is_encrypted(self) -> bool:
        secure = bool(self._call(R["CONNECT_IS_SECURE"], None).secure)
        return secure and self._rpc.transport.encrypted

    def domain_destroy(self, dom: DomainHandle, flags: int) -> None:
        self._call(R["DOMAIN_DESTROY_FLAGS"], ((dom.name, dom.raw_uuid, dom.id), flags))
        dom.id = -1    # the reply is empty; libvirt's client does the same

    def domain_qemu_monitor_command(self, dom: DomainHandle, cmd: str, flags: int) -> str:
        # the QEMU program's procedure 1, on the same serial counter (§4 "QEMU program")
        r = self._call(P.QEMU[P.QemuProcedure.DOMAIN_MONITOR_COMMAND],
                       ((dom.name, dom.raw_uuid, dom.id), cmd, flags))
        return str(r.result)

    def domain_open_console(self, dom: DomainHandle, dev_name: str | None,
                            flags: int) -> RemoteChannel:
        return self._open_stream("DOMAIN_OPEN_CONSOLE",
                                 ((dom.name, dom.raw_uuid, dom.id), dev_name, flags))

    def storage_vol_upload(self, vol: StorageVolHandle, offset: int, length: int,
                           flags: int) -> RemoteChannel:
        return self._open_stream("STORAGE_VOL_UPLOAD",
                                 ((vol.pool_name, vol.name, vol.key), offset, length, flags))

    def storage_vol_download(self, vol: StorageVolHandle, offset: int, length: int,
                             flags: int) -> RemoteChannel:
        return self._open_stream("STORAGE_VOL_DOWNLOAD",
                                 ((vol.pool_name, vol.name, vol.key), offset, length, flags))

    def _open_stream(self, proc: str, args: Any) -> RemoteChannel:
        # the daemon relays the stream as STREAM packets of this call (streams.py); with
        # an event loop registered, it reads them while no call waits
        if eventloop.is_registered():
            self._rpc.watch()
        return self._rpc.open_stream(R[proc], args)

    # -- packed maps ----------------------------------------------------------------------
    def node_get_cpu_map(self, flags: int) -> CPUMap:
        r = self._call(R["NODE_GET_CPU_MAP"], (1, 1, flags))
        return CPUMap(r.ret, _bits(r.cpumap, r.ret))

    def domain_get_vcpus(self, dom: DomainHandle) -> list[VcpuInfo]:
        # as libvirt-python's vcpus(): size the call from the domain and the node
        nvcpus = self.domain_get_info(dom).nr_virt_cpu
        cpus = self.node_get_cpu_map(0).cpus
        maplen = (cpus + 7) // 8
        r = self._call(R["DOMAIN_GET_VCPUS"], ((dom.name, dom.raw_uuid, dom.id), nvcpus, maplen))
        out = []
        for i, v in enumerate(r.info):
            cmap = r.cpumaps[i * maplen:(i + 1) * maplen]
            out.append(VcpuInfo(v.number, _enum(VcpuState, v.state), v.cpu_time, v.cpu,
                                _bits(cmap, cpus)))
        return out

    # -- events ---------------------------------------------------------------------------
    def connect_domain_event_register_any(self, dom: DomainHandle | None, event_id: int,
                                          callback: Callable[..., Any], opaque: Any) -> int:
        if not self._event_callbacks:
            raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.RPC,
                        "the server does not support event callbacks (feature 14)")
        family = f"remote#{next(self._tokens)}"
        cid = self._events.register(self, family, event_id, None, callback)
        try:
            self._rpc.watch()     # events arrive while no call waits
            ref = None if dom is None else (dom.name, dom.raw_uuid, dom.id)
            sid = self._call(R["CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY"],
                             (event_id, ref)).callbackID
        except BaseException:
            self._events.deregister(self, cid)
            raise
        with self._reg_lock:
            self._regs[cid] = (sid, family)
            self._by_server[sid] = family
        return cid

    def connect_domain_event_deregister_any(self, callback_id: int) -> None:
        with self._reg_lock:
            entry = self._regs.get(callback_id)
        if entry is None:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.NONE,
                        f"could not find event callback {callback_id} for deletion")
        sid, _ = entry
        self._call(R["CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY"], (sid,))
        with self._reg_lock:
            self._regs.pop(callback_id, None)
            self._by_server.pop(sid, None)
        self._events.deregister(self, callback_id)

    def _on_message(self, pkt: Packet) -> None:
        # runs on whichever thread holds the buck; delivery happens on the event loop
        if pkt.prog != R.number:
            return
        entry = EVENTS.get(pkt.proc)
        if entry is None:
            log.debug("ignoring event message %d", pkt.proc)
            return
        event_id, decode = entry
        codec = R[pkt.proc].msg
        if codec is None:
            return
        sid, ref, fields = decode(pkt.decode(codec))
        with self._reg_lock:
            family = self._by_server.get(sid)
        if family is not None:
            self._events.queue(family, event_id, ref, *fields)
