"""The client side of a remote stream: a channel fed by STREAM packets of one call.

The RPC client routes every STREAM packet (and any late REPLY) of an open stream here by
(prog, proc, serial) (shared/rpc-protocol.md §1 "Streams"). Received data is queued in
order; the end (an empty CONTINUE, as libvirtd sends it) or an error (status ERROR, or
a packet this side cannot read) is kept behind the data, so a reader gets every byte
that came before it. A pipe turns
readable while something is queued: that is the channel's fileno() for select() and
for stream event callbacks. Sends are CONTINUE packets; finish and abort send OK or
ERROR and wait for the daemon's zero-length confirmation, as libvirt's client does.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from typing import TYPE_CHECKING

from ...constants import ErrorDomain, ErrorNumber
from ...errors import error, libvirtError
from ...rpc.packet import Packet, Status
from ...rpc.stream import StreamKey, abort_frame, data_frames, end_frame, read_item
from ...stream import pipe_pair

if TYPE_CHECKING:
    from .client import RPCClient

__all__ = ["RemoteChannel"]


class RemoteChannel:
    """One stream on a remote connection (see the module docstring)."""

    poll_writable = False

    def __init__(self, rpc: RPCClient, lock: threading.Lock) -> None:
        self._rpc = rpc
        self.key = StreamKey(0, 0, 0)
        self.cond = threading.Condition(lock)
        self._data: deque[bytes] = deque()
        self._ended = False            # the daemon sent the end of the stream
        self._error: libvirtError | None = None
        self._confirms = 0             # OK packets seen (confirmations)
        self._closed = False
        self._r, self._w = pipe_pair()

    # -- fed by the RPC client (with its lock held) --------------------------------------
    def push(self, pkt: Packet) -> None:
        if self._error is not None or self._closed and pkt.status == Status.CONTINUE:
            return       # nothing is read past an error, nor data after finish/abort
        try:
            item = read_item(pkt)
        except libvirtError as exc:
            self._fail(exc)
            return
        if item.status == Status.CONTINUE:
            if not item.data:
                self._ended = True         # libvirtd's end of the data
            elif not self._ended:
                self._data.append(item.data)
        elif item.status == Status.OK:
            self._ended = True             # also the end, should the daemon say it so
            self._confirms += 1
        else:
            self._fail(item.error or error(ErrorNumber.RPC, ErrorDomain.RPC,
                                           "stream aborted by the server"))
            return
        self._signal()

    def push_reply_error(self, exc: libvirtError) -> None:
        """An ERROR REPLY with the stream's serial: a failed finish or abort."""
        self._fail(exc)

    def _fail(self, exc: libvirtError) -> None:
        if self._error is None:
            self._error = exc
        self._signal()

    def _signal(self) -> None:
        if self._w >= 0:
            try:
                os.write(self._w, b"!")
            except BlockingIOError:
                pass
        self.cond.notify_all()

    def ready(self) -> bool:
        return bool(self._data) or self._ended or self._error is not None

    # -- the Channel protocol --------------------------------------------------------------
    def fileno(self) -> int:
        return self._r

    def recv(self, size: int, block: bool) -> bytes | None:
        if not self.ready():
            if not block:
                self._rpc.poll()
                if not self.ready():
                    return None
            else:
                self._rpc.wait_for(self.cond, self.ready)
        with self.cond:
            if self._data:
                head = self._data[0]
                if len(head) > size:
                    self._data[0] = head[size:]
                    return head[:size]
                self._data.popleft()
                if not self._data and not self._ended and self._error is None:
                    self._drain()
                return head
            if self._error is not None:
                raise self._error
            return b""

    def _drain(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except BlockingIOError:
            pass

    def send(self, data: bytes) -> int:
        with self.cond:
            if self._error is not None:
                raise self._error
        for frame in data_frames(self.key, data):
            self._rpc.send_frame(frame)
        return len(data)

    def finish(self) -> None:
        self._close(end_frame(self.key), True)

    def abort(self) -> None:
        self._close(abort_frame(self.key), False)

    def dispose(self) -> None:
        """Forget a stream whose opening call failed: nothing goes on the wire."""
        with self.cond:
            self._closed = True
        self._release()

    def _release(self) -> None:
        self._rpc.drop_stream(self)
        for fd in (self._r, self._w):
            if fd >= 0:
                os.close(fd)
        self._r = self._w = -1

    def _close(self, frame: bytes, finishing: bool) -> None:
        with self.cond:
            if self._closed:
                return
            self._closed = True
            seen = self._confirms
            failed = self._error
        try:
            if failed is None:
                self._rpc.send_frame(frame)
                self._rpc.wait_for(self.cond, lambda: self._confirms > seen
                                   or self._error is not None)
                failed = self._error
        except libvirtError as exc:     # the connection died: the stream is gone anyway
            failed = exc
        finally:
            self._release()
        if failed is not None and finishing:
            raise failed
