"""The hub's parallel fan-out (hub/fanout.py) through a real hub: plain TCP subscribers written
to from several threads, sockets too full to take a whole state in one write, and a subscriber
that stopped reading; every byte arrives, in order. (TLS subscribers go through their
transport: tests/integration/test_tls.py.)"""

from __future__ import annotations

import asyncio
import socket

import msgspec
import pytest

from tests.conftest import PASSWORD, HubFactory, Raw, state_frame
from tests.integration.test_channels import SocketLines
from tradewire.hub.connection import Connection
from tradewire.hub.fanout import MIN_PER_THREAD


@pytest.mark.parametrize("threads", [3, 0], ids=["threads", "loop-only"])
async def test_every_subscriber_gets_every_state_whole_and_in_order(
    start_hub: HubFactory, threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rests: list[int] = []
    send_rest = Connection.send_rest

    def counted(self: Connection, rest: bytes) -> None:
        rests.append(len(rest))
        send_rest(self, rest)

    monkeypatch.setattr(Connection, "send_rest", counted)
    hub = await start_hub(
        max_connections_per_address=1000, fanout_threads=threads, write_buffer_bytes=4 << 20
    )
    assert hub.parts.fanout.threads == threads
    loop = asyncio.get_running_loop()
    plain: list[SocketLines] = []
    for _ in range(4 * MIN_PER_THREAD):  # enough for every thread to get a part
        sock = socket.socket()
        # Small buffers: a 60 KB state does not fit, so a direct write comes up short and
        # the rest must follow through the transport, in order.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        await loop.sock_connect(sock, hub.addresses[0])
        hello = {"t": "hello", "v": 1, "user": "bob", "password": PASSWORD}
        await loop.sock_sendall(sock, msgspec.json.encode(hello) + b"\n")
        await loop.sock_sendall(sock, b'{"t":"sub","id":1,"ch":"alpha"}\n')
        plain.append(SocketLines(sock))
    for lines in plain:
        assert (await lines.next())["t"] == "welcome" and (await lines.next())["t"] == "ack"
    for conn in hub.connections:  # the hub's side takes little at once: writes come up short
        if conn.user is not None:
            hubside = socket.socket(fileno=conn.direct_fd())
            hubside.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            hubside.detach()
    stalled = socket.create_connection(hub.addresses[0])  # logs in, subscribes, never reads
    hello = {"t": "hello", "v": 1, "user": "bob", "password": PASSWORD}
    stalled.sendall(msgspec.json.encode(hello) + b'\n{"t":"sub","id":1,"ch":"alpha"}\n')
    provider = await Raw.connect(hub)
    await provider.login("alice")
    await asyncio.sleep(0.2)
    for n in range(1, 21):
        provider.send({**state_frame(n=n, positions=600), "id": n})  # about 60 KB each
        assert (await provider.recv())["seq"] == n
    expected = state_frame(n=20, positions=600)["positions"]
    for lines in plain:  # each reads its 20 states now, one after the other, in order
        seqs = []
        while not seqs or seqs[-1] < 20:
            state = await lines.next(timeout=20)
            seqs.append(state["seq"])
        assert seqs == list(range(1, 21)), seqs  # nothing skipped for a reader that keeps up
        assert state["positions"] == expected
    stalled.close()
    assert rests if threads else not rests  # the rest of a short write followed, in order
