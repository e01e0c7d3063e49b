"""The procedures pyvirtd answers by hand: opening, auth, features, events and the rest.

What the generated handlers (_dispatch_gen.py) cannot do from the description alone:
CONNECT_OPEN (which driver a URI maps to, read-only sockets), AUTH_LIST/AUTH_POLKIT,
feature negotiation (§3.1: 10 keepalive, 14 event callbacks, 15 close callbacks), event
registration in all three wire styles (316/317 with MESSAGE 318+, 167/168 and 105/106
with MESSAGE 107), CONNECT_GET_URI, the packed vCPU and CPU maps, the typed-parameter
save/restore calls, and the QEMU program's monitor command.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .._api import Domain, StorageVol
from ..constants import ConnectFlags, DomainEventID, ErrorDomain, ErrorNumber
from ..errors import error, libvirtError
from ..rpc import procedures as P
from ..rpc.packet import Header, MessageType, Status, encode_frame
from ..rpc.stream import StreamKey
from ..stream import NONBLOCK
from ._dispatch_gen import EVENTS
from .streams import ServerStream

if TYPE_CHECKING:
    from .._api import Connection, Stream
    from .client import ServerClient

__all__ = ["HANDLERS", "STREAM_OPENERS", "drop_callbacks"]

log = logging.getLogger("pyvirt.daemon")

R = P.RemoteProcedure
Q = P.QemuProcedure
REMOTE, QEMU = P.REMOTE.number, P.QEMU.number

# VIR_DRV_FEATURE_* numbers (§3.1)
FEATURE_FD_PASSING = 8
FEATURE_TYPED_PARAM_STRING = 9
FEATURE_PROGRAM_KEEPALIVE = 10
FEATURE_REMOTE_EVENT_CALLBACK = 14
FEATURE_REMOTE_CLOSE_CALLBACK = 15
# Event MESSAGEs from libvirtd carry serial 1 (§1 "Serial rules"); clients ignore it.
EVENT_SERIAL = 1
AUTH_NONE, AUTH_POLKIT = 0, 2


def _conn(client: ServerClient) -> Connection:
    conn = client.conn
    if conn is None:
        from .dispatch import not_open
        raise not_open()
    return conn


def _rpc(detail: str) -> libvirtError:
    return error(ErrorNumber.RPC, ErrorDomain.RPC, detail)


# -- opening and closing ------------------------------------------------------------------
def connect_open(client: ServerClient, a: P.RemoteConnectOpenArgs) -> None:
    from .._api import Connection
    if client.conn is not None:
        raise error(ErrorNumber.INTERNAL_ERROR, ErrorDomain.RPC, "connection already open")
    flags = a.flags
    if client.readonly:   # libvirtd: a client of the read-only socket is always read-only
        flags |= ConnectFlags.RO
    name = a.name if a.name else client.server.config.uri_default or client.server.default_uri()
    local = client.server.local_uri(name)
    client.conn = Connection(local, flags)
    client.uri_name = name
    hv = client.conn._hv
    client.quick = _quick().get(hv.name if hv is not None else "", frozenset())
    log.info("client %s: opened %s%s", client.ident, name,
             " read-only" if flags & ConnectFlags.RO else "")


def _quick() -> dict[str, frozenset[int]]:
    from .dispatch import QUICK_BY_DRIVER
    return QUICK_BY_DRIVER


def connect_close(client: ServerClient, a: None) -> None:
    # libvirtd answers and keeps the session until the socket closes (§3.1 "Closing")
    return None


def connect_get_uri(client: ServerClient, a: None) -> P.RemoteConnectGetUriRet:
    _conn(client)
    return P.RemoteConnectGetUriRet(client.uri_name)


def connect_supports_feature(client: ServerClient,
                             a: P.RemoteConnectSupportsFeatureArgs) -> P.RemoteConnectSupportsFeatureRet:
    # The keepalive feature is asked before CONNECT_OPEN; answering 1 obliges the
    # daemon to answer PINGs, and it starts its own (§3.2).
    if a.feature == FEATURE_PROGRAM_KEEPALIVE:
        client.keepalive = client.server.config.keepalive_interval > 0
        return P.RemoteConnectSupportsFeatureRet(1)
    _conn(client)
    supported = a.feature in (FEATURE_REMOTE_EVENT_CALLBACK, FEATURE_REMOTE_CLOSE_CALLBACK,
                              FEATURE_TYPED_PARAM_STRING)
    return P.RemoteConnectSupportsFeatureRet(int(supported))


def close_callback(client: ServerClient, a: None) -> None:
    # pyvirt drivers never drop a connection on their own, so there is never a
    # CONNECT_EVENT_CONNECTION_CLOSED to send; registering is accepted (§3.1 step 5)
    _conn(client)


# -- authentication -----------------------------------------------------------------------
def auth_list(client: ServerClient, a: None) -> P.RemoteAuthListRet:
    # auth "none": the client is authenticated from the start; otherwise it must pass
    # the peer-credential check AUTH_POLKIT stands for here
    return P.RemoteAuthListRet([AUTH_NONE if client.authenticated else AUTH_POLKIT])


def auth_polkit(client: ServerClient, a: None) -> P.RemoteAuthPolkitRet:
    if client.authenticated:
        return P.RemoteAuthPolkitRet(1)
    if client.server.uid_allowed(client.uid):
        client.authenticated = True
        return P.RemoteAuthPolkitRet(1)
    log.warning("client %s: uid %s refused on the read-write socket", client.ident, client.uid)
    raise error(ErrorNumber.AUTH_FAILED, ErrorDomain.RPC,
                f"access denied: uid {client.uid} is neither root nor the daemon's owner")


# -- events -------------------------------------------------------------------------------
class _Relay:
    """Turns one driver callback into MESSAGE frames on the client's socket."""

    __slots__ = ("cid", "client", "encode", "event_id", "proc", "ready")

    def __init__(self, client: ServerClient, event_id: int, proc: int,
                 encode: Callable[[int, Any, Any], Any]) -> None:
        self.client, self.event_id, self.proc, self.encode = client, event_id, proc, encode
        self.cid = -1
        self.ready = threading.Event()

    def __call__(self, ref: tuple[str, bytes, int], *fields: Any) -> None:
        # runs on the daemon's event loop; the ID is known once the worker that
        # registered it returns from the driver, which is at once
        if self.proc == 0 or not self.ready.wait(5):
            return
        prog = P.REMOTE
        header = Header(prog.number, prog.version, self.proc, MessageType.MESSAGE,
                        EVENT_SERIAL, Status.OK)
        codec = prog[self.proc].msg
        if codec is None:
            return
        try:
            frame = encode_frame(header, codec, self.encode(self.cid, ref, fields))
        except Exception:
            log.exception("event %d for client %s could not be encoded", self.event_id,
                          self.client.ident)
            return
        self.client.send(frame)


def _old_lifecycle(cid: int, ref: Any, fields: Any) -> Any:
    return (ref, fields[0], fields[1])


def _register(client: ServerClient, event_id: int, dom: Any, proc: int,
              encode: Callable[[int, Any, Any], Any]) -> int:
    conn = _conn(client)
    hv = conn._hv
    if hv is None:
        from .dispatch import not_open
        raise not_open()
    relay = _Relay(client, event_id, proc, encode)
    handle = None if dom is None else Domain(conn, *dom)
    cid = hv.connect_domain_event_register_any(handle, DomainEventID(event_id), relay, None)
    relay.cid = cid
    relay.ready.set()
    client.callbacks[cid] = relay
    return cid


def _deregister(client: ServerClient, cid: int) -> None:
    conn = _conn(client)
    if cid not in client.callbacks or conn._hv is None:
        raise _rpc(f"no domain event callback {cid} registered")
    conn._hv.connect_domain_event_deregister_any(cid)
    del client.callbacks[cid]


def _check_event_id(event_id: int) -> None:
    if not 0 <= event_id < DomainEventID.LAST:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.RPC, f"unsupported event ID {event_id}")


def callback_register_any(client: ServerClient, a: P.RemoteConnectDomainEventCallbackRegisterAnyArgs
                          ) -> P.RemoteConnectDomainEventCallbackRegisterAnyRet:
    _check_event_id(a.eventID)
    proc, encode = EVENTS.get(a.eventID, (0, None))
    if encode is None:
        # registered, but this event has no wire message here, so it is never sent
        # (_dispatch_gen.SKIPPED_EVENTS); virsh event --all registers every ID
        proc, encode = 0, _old_lifecycle
    cid = _register(client, a.eventID, a.dom, proc, encode)
    return P.RemoteConnectDomainEventCallbackRegisterAnyRet(cid)


def callback_deregister_any(client: ServerClient,
                            a: P.RemoteConnectDomainEventCallbackDeregisterAnyArgs) -> None:
    _deregister(client, a.callbackID)


def event_register_any(client: ServerClient, a: P.RemoteConnectDomainEventRegisterAnyArgs) -> None:
    # old style (no feature 14): one registration per event ID, lifecycle as MESSAGE 107
    _check_event_id(a.eventID)
    if a.eventID != DomainEventID.LIFECYCLE:
        raise error(ErrorNumber.NO_SUPPORT, ErrorDomain.RPC,
                    f"old-style event {a.eventID}: use CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY")
    if a.eventID in client.legacy_events:
        raise _rpc(f"domain event {a.eventID} already registered")
    client.legacy_events[a.eventID] = _register(client, a.eventID, None,
                                                R.DOMAIN_EVENT_LIFECYCLE, _old_lifecycle)


def event_deregister_any(client: ServerClient, a: P.RemoteConnectDomainEventDeregisterAnyArgs) -> None:
    cid = client.legacy_events.pop(a.eventID, None)
    if cid is None:
        raise _rpc(f"domain event {a.eventID} not registered")
    _deregister(client, cid)


def event_register(client: ServerClient, a: None) -> P.RemoteConnectDomainEventRegisterRet:
    # the oldest style: lifecycle events of every domain
    event_register_any(client, P.RemoteConnectDomainEventRegisterAnyArgs(0))
    return P.RemoteConnectDomainEventRegisterRet(1)


def event_deregister(client: ServerClient, a: None) -> P.RemoteConnectDomainEventDeregisterRet:
    event_deregister_any(client, P.RemoteConnectDomainEventDeregisterAnyArgs(0))
    return P.RemoteConnectDomainEventDeregisterRet(0)


def drop_callbacks(client: ServerClient, conn: Connection) -> None:
    """Deregister every callback of a client that is going away."""
    hv = conn._hv
    for cid in list(client.callbacks):
        try:
            if hv is not None:
                hv.connect_domain_event_deregister_any(cid)
        except libvirtError:
            pass
    client.callbacks.clear()
    client.legacy_events.clear()


# -- packed maps and typed parameters -----------------------------------------------------
def _bitmap(bits: list[bool], nbytes: int) -> bytearray:
    out = bytearray(nbytes)
    for i, on in enumerate(bits[:nbytes * 8]):
        if on:
            out[i >> 3] |= 1 << (i & 7)
    return out


def domain_get_vcpus(client: ServerClient, a: P.RemoteDomainGetVcpusArgs) -> P.RemoteDomainGetVcpusRet:
    # remoteDispatchDomainGetVcpus: bounds first, then up to maxinfo entries and a
    # maxinfo*maplen map whatever the count
    if a.maxinfo > P.REMOTE_VCPUINFO_MAX:
        raise _rpc("maxinfo > REMOTE_VCPUINFO_MAX")
    if a.maxinfo * a.maplen > P.REMOTE_CPUMAPS_MAX:
        raise _rpc("maxinfo * maplen > REMOTE_CPUMAPS_MAX")
    if a.maxinfo < 0 or a.maplen < 0:
        raise _rpc("maxinfo and maplen must not be negative")
    vcpus = Domain(_conn(client), *a.dom).vcpus()[:a.maxinfo]
    maps = bytearray(a.maxinfo * a.maplen)
    for i, v in enumerate(vcpus):
        maps[i * a.maplen:(i + 1) * a.maplen] = _bitmap(list(v.affinity), a.maplen)
    info = [P.RemoteVcpuInfo(v.number, int(v.state), v.cpu_time, v.cpu) for v in vcpus]
    return P.RemoteDomainGetVcpusRet(info, bytes(maps))


def node_get_cpu_map(client: ServerClient, a: P.RemoteNodeGetCpuMapArgs) -> P.RemoteNodeGetCpuMapRet:
    r = _conn(client).get_cpu_map(a.flags)
    cpumap = bytes(_bitmap(list(r.online), (r.cpus + 7) // 8)) if a.need_map else b""
    online = sum(1 for x in r.online if x) if a.need_online else 0
    return P.RemoteNodeGetCpuMapRet(cpumap, online, r.cpus)


def _save_params(params: list[P.RemoteTypedParam]) -> tuple[str, str | None]:
    # VIR_DOMAIN_SAVE_PARAM_FILE "file" and _DXML "dxml", both strings (type 7)
    got: dict[str, str] = {}
    for p in params:
        if p.field not in ("file", "dxml") or p.value.type != 7:
            raise error(ErrorNumber.INVALID_ARG, ErrorDomain.RPC,
                        f"parameter '{p.field}' not supported")
        got[p.field] = str(p.value.value)
    if "file" not in got:
        raise error(ErrorNumber.INVALID_ARG, ErrorDomain.RPC, "missing parameter 'file'")
    return got["file"], got.get("dxml")


def domain_save_params(client: ServerClient, a: P.RemoteDomainSaveParamsArgs) -> None:
    path, dxml = _save_params(a.params)
    Domain(_conn(client), *a.dom).save(path, dxml, a.flags)


def domain_restore_params(client: ServerClient, a: P.RemoteDomainRestoreParamsArgs) -> None:
    path, dxml = _save_params(a.params)
    _conn(client).restore_domain(path, dxml, a.flags)


# -- streams -------------------------------------------------------------------------------
def domain_open_console(client: ServerClient, a: P.RemoteDomainOpenConsoleArgs,
                        header: Header) -> None:
    # remoteDispatchDomainOpenConsole: a non-blocking stream tied to the console, relayed
    # as STREAM packets of this call once the reply is out (streams.py)
    conn = _conn(client)
    _serve(client, header, Domain(conn, *a.dom).open_console(
        a.dev_name, a.flags, stream=conn.new_stream(NONBLOCK)))


def storage_vol_upload(client: ServerClient, a: P.RemoteStorageVolUploadArgs,
                       header: Header) -> None:
    conn = _conn(client)
    _serve(client, header, StorageVol(conn, *a.vol).upload(
        a.offset, a.length, a.flags, stream=conn.new_stream(NONBLOCK)))


def storage_vol_download(client: ServerClient, a: P.RemoteStorageVolDownloadArgs,
                         header: Header) -> None:
    conn = _conn(client)
    _serve(client, header, StorageVol(conn, *a.vol).download(
        a.offset, a.length, a.flags, stream=conn.new_stream(NONBLOCK)))


def _serve(client: ServerClient, header: Header, st: Stream) -> None:
    """Relay a stream the call just opened (non-blocking) as STREAM packets of that call."""
    ServerStream(client, StreamKey.of(header), st).register()


# -- the QEMU program -----------------------------------------------------------------------
def qemu_monitor_command(client: ServerClient,
                         a: P.QemuDomainMonitorCommandArgs) -> P.QemuDomainMonitorCommandRet:
    # the entry point refuses read-only connections, as virDomainQemuMonitorCommand does
    dom = Domain(_conn(client), *a.dom)
    return P.QemuDomainMonitorCommandRet(dom.qemu_monitor_command(a.cmd, a.flags))


Handler = Callable[["ServerClient", Any], Any]
HANDLERS: dict[tuple[int, int], Handler] = {
    (REMOTE, R.CONNECT_OPEN): connect_open,
    (REMOTE, R.CONNECT_CLOSE): connect_close,
    (REMOTE, R.CONNECT_GET_URI): connect_get_uri,
    (REMOTE, R.CONNECT_SUPPORTS_FEATURE): connect_supports_feature,
    (REMOTE, R.CONNECT_REGISTER_CLOSE_CALLBACK): close_callback,
    (REMOTE, R.CONNECT_UNREGISTER_CLOSE_CALLBACK): close_callback,
    (REMOTE, R.AUTH_LIST): auth_list,
    (REMOTE, R.AUTH_POLKIT): auth_polkit,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY): callback_register_any,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY): callback_deregister_any,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_REGISTER_ANY): event_register_any,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY): event_deregister_any,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_REGISTER): event_register,
    (REMOTE, R.CONNECT_DOMAIN_EVENT_DEREGISTER): event_deregister,
    (REMOTE, R.DOMAIN_GET_VCPUS): domain_get_vcpus,
    (REMOTE, R.NODE_GET_CPU_MAP): node_get_cpu_map,
    (REMOTE, R.DOMAIN_SAVE_PARAMS): domain_save_params,
    (REMOTE, R.DOMAIN_RESTORE_PARAMS): domain_restore_params,
    (QEMU, Q.DOMAIN_MONITOR_COMMAND): qemu_monitor_command,
}

StreamOpener = Callable[["ServerClient", Any, Header], Any]
STREAM_OPENERS: dict[tuple[int, int], StreamOpener] = {
    (REMOTE, R.DOMAIN_OPEN_CONSOLE): domain_open_console,
    (REMOTE, R.STORAGE_VOL_UPLOAD): storage_vol_upload,
    (REMOTE, R.STORAGE_VOL_DOWNLOAD): storage_vol_download,
}

# Hand-written queries a loop thread may run (see dispatch.QUICK_BY_DRIVER)
QUICK = frozenset({R.CONNECT_GET_URI, R.CONNECT_SUPPORTS_FEATURE, R.AUTH_LIST,
                   R.DOMAIN_GET_VCPUS, R.NODE_GET_CPU_MAP,
                   R.CONNECT_REGISTER_CLOSE_CALLBACK, R.CONNECT_UNREGISTER_CLOSE_CALLBACK})
