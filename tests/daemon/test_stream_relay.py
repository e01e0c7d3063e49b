"""pyvirtd's stream relay (daemon/streams.py) on a real descriptor whose far end hangs up
while the client is too slow to take more (paused), and after the end went out: the
relay is not called back while it wants nothing (a hung-up descriptor is readable or
HANGUP for good, so any watch on it then would be a busy loop in the daemon), and what
the source said before it hung up still reaches the client, then its end."""
from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator

import pytest

import pyvirt
from pyvirt.daemon.streams import TX_PAUSE, ServerStream
from pyvirt.rpc.packet import parse_packet
from pyvirt.rpc.stream import StreamKey
from pyvirt.stream import NONBLOCK, FdChannel

KEY = StreamKey(0x20008086, 201, 7)


class SlowClient:
    """The few things a ServerStream asks of pyvirtd's client: a backlog that a test sets,
    and the frames it would have written to the socket."""

    ident = "slow"

    def __init__(self) -> None:
        self.streams: dict[StreamKey, ServerStream] = {}
        self.tx_backlog = TX_PAUSE + 1
        self.frames: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.frames.append(frame)

    def hold(self) -> None:
        pass

    def call_done(self) -> None:
        pass


class CountingStream(ServerStream):
    calls = 0

    def _on_io(self, watch: int, fd: int, events: int, opaque: object) -> None:
        CountingStream.calls += 1
        super()._on_io(watch, fd, events, opaque)


@pytest.fixture
def relay(event_loop: None) -> Iterator[tuple[CountingStream, SlowClient, socket.socket]]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    with pyvirt.connect("test:///default") as conn:
        st = conn.new_stream(NONBLOCK)
        st._attach(FdChannel(ours))
        client = SlowClient()
        relay = CountingStream(client, KEY, st)   # type: ignore[arg-type]
        relay.register()
        CountingStream.calls = 0
        try:
            yield relay, client, theirs
        finally:
            relay.abort()
            theirs.close()


def _calls_during(seconds: float) -> int:
    before = CountingStream.calls
    time.sleep(seconds)
    return CountingStream.calls - before


def _wait(pred: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_a_hang_up_while_paused_is_not_a_busy_loop(relay: tuple[CountingStream, SlowClient,
                                                                socket.socket]) -> None:
    stream, client, far = relay
    far.sendall(b"guest output")
    stream.start()
    far.close()                                   # the guest side hangs up
    assert _calls_during(0.5) <= 2
    assert client.frames == []                    # paused: nothing read yet

    client.tx_backlog = 0                         # the client caught up
    stream.resume()
    assert _wait(lambda: len(client.frames) >= 2), client.frames
    data, end = (parse_packet(f) for f in client.frames[:2])
    assert bytes(data.payload) == b"guest output" and end.payload == b""
    # the end went out; until the client finishes or aborts, the source is not polled
    assert _calls_during(0.5) <= 2
