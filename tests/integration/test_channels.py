"""Signal channels (PROTOCOL.md 1.1) through a real hub: fan-out, conflation, ACL, restart."""

from __future__ import annotations

import asyncio
import itertools
import socket
import time

import msgspec

from tests.conftest import PASSWORD, HubFactory, Raw, logged_in, state_frame


class SocketLines:
    """Reads lines from a bare non-blocking socket only when asked (no background reading)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    async def next(self, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        while b"\n" not in self.buffer:
            chunk = await asyncio.wait_for(loop.sock_recv(self.sock, 65536), timeout)
            assert chunk, "connection closed"
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return msgspec.json.decode(line)


async def publish(provider: Raw, n: int, **kwargs: object) -> dict:
    provider.send({**state_frame(n=n, **kwargs), "id": n})  # type: ignore[arg-type]
    return await provider.recv()


async def test_publish_is_acked_with_seq_and_fanned_out(start_hub: HubFactory) -> None:
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert await follower.recv() == {"t": "ack", "re": 1}
    assert await publish(provider, 1) == {"t": "ack", "re": 1, "seq": 1}
    update = await follower.recv()
    assert update["t"] == "state" and update["seq"] == 1 and update["ch"] == "alpha"
    assert update["positions"] == state_frame(n=1)["positions"]
    assert "id" not in update


async def test_states_carry_the_hubs_hop_stamps_and_a_latest_state_no_fan_out_stamp(
    start_hub: HubFactory,
) -> None:
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    live = await logged_in(hub, "bob")
    live.send({"t": "sub", "id": 1, "ch": "alpha"})
    await live.recv()
    before = int(time.monotonic() * 1e6)  # the hub's clock: this process's monotonic clock
    assert (await publish(provider, 1, det_us=before - 500))["seq"] == 1
    detected, received, out = (await live.recv())["hops"]
    after = int(time.monotonic() * 1e6)
    assert detected == before - 500 and before <= received <= out <= after
    late = await logged_in(hub, "bob")  # subscribes after: gets the kept latest state
    late.send({"t": "sub", "id": 1, "ch": "alpha"})
    await late.recv()
    assert (await late.recv())["hops"] == [detected, received, 0]  # not fanned out to it now
    pong = await logged_in(hub, "bob")
    pong.send({"t": "ping", "id": 5})
    answer = await pong.recv()
    assert answer["re"] == 5 and before <= answer["now_us"] <= int(time.monotonic() * 1e6)


async def test_two_hundred_subscribers_see_increasing_seq_and_end_on_the_last(
    start_hub: HubFactory,
) -> None:
    hub = await start_hub(max_connections_per_address=500)
    followers = [await logged_in(hub, "bob") for _ in range(200)]
    for f in followers:
        f.send({"t": "sub", "id": 1, "ch": "alpha"})
    for f in followers:
        assert (await f.recv())["t"] == "ack"
    provider = await logged_in(hub, "alice")
    total = 100
    for n in range(1, total + 1):  # pipelined: the hub may conflate for slow readers
        provider.send({**state_frame(n=n), "id": n})
    acks = [await provider.recv() for _ in range(total)]
    assert [a["seq"] for a in acks] == list(range(1, total + 1))

    async def drain(f: Raw) -> list[int]:
        seqs: list[int] = []
        while not seqs or seqs[-1] < total:
            seqs.append((await f.recv())["seq"])
        return seqs

    for seqs in await asyncio.gather(*(drain(f) for f in followers)):
        assert all(a < b for a, b in itertools.pairwise(seqs))
        assert seqs[-1] == total


async def test_a_stalled_subscriber_delays_nobody_and_stays_bounded(start_hub: HubFactory) -> None:
    buffer_limit = 65_536
    hub = await start_hub(write_buffer_bytes=buffer_limit)
    # The stalled client: a bare socket with a tiny receive buffer that is never read.
    loop = asyncio.get_running_loop()
    stalled_sock = socket.socket()
    stalled_sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled_sock.setblocking(False)
    await loop.sock_connect(stalled_sock, hub.addresses[0])
    stalled_lines = SocketLines(stalled_sock)
    await loop.sock_sendall(
        stalled_sock,
        b'{"t":"hello","v":1,"user":"bob","password":"'
        + PASSWORD.encode()
        + b'"}\n{"t":"sub","id":1,"ch":"alpha"}\n',
    )
    assert (await stalled_lines.next())["t"] == "welcome"
    assert await stalled_lines.next() == {"t": "ack", "re": 1}
    stalled_conn = next(
        c for c in hub.connections if c.user and hub.parts.channel_service.subscribed(c)
    )

    readers = [await logged_in(hub, "bob") for _ in range(5)]
    received: list[dict[int, float]] = [{} for _ in readers]

    async def read(index: int, raw: Raw) -> None:
        raw.send({"t": "sub", "id": 1, "ch": "alpha"})
        await raw.recv()
        while True:
            frame = await raw.recv()
            received[index][frame["seq"]] = time.perf_counter()

    tasks = [asyncio.create_task(read(i, r)) for i, r in enumerate(readers)]
    await asyncio.sleep(0.05)
    provider = await logged_in(hub, "alice")
    sent: dict[int, float] = {}
    states, peak_buffer, peak_conflated = 300, 0, 0
    for n in range(1, states + 1):
        sent[n] = time.perf_counter()
        await publish(provider, n, positions=200)  # about 20 KB per state
        peak_buffer = max(peak_buffer, stalled_conn.transport.get_write_buffer_size())
        peak_conflated = max(peak_conflated, len(stalled_conn.conflated))
    for _ in range(500):  # up to 10 s: a loaded machine is slower, never stuck
        if all(len(got) == states for got in received):
            break
        await asyncio.sleep(0.02)
    for task in tasks:
        task.cancel()
    latest = hub.parts.bus.latest("alpha")
    state_bytes = len(latest.line) if latest else 0
    assert state_bytes > 15_000
    # The stalled subscriber really stalled, and the hub held at most the buffer + one state.
    assert stalled_conn._write_paused and peak_conflated == 1
    assert peak_buffer <= buffer_limit + state_bytes
    # Everybody else got every state, none held back behind the stalled one: a hub that waited
    # on it would hold them until its write timeout. How fast is for the benchmarks (fanout.py).
    for got in received:
        assert sorted(got) == list(range(1, states + 1))
        assert max(got[n] - sent[n] for n in got) < 2.0
    # Once the stalled subscriber reads again it ends on the latest state.
    seqs = []
    while not seqs or seqs[-1] < states:
        seqs.append((await stalled_lines.next())["seq"])
    assert all(a < b for a, b in itertools.pairwise(seqs))
    assert len(seqs) < states  # intermediate states were dropped, not queued


async def test_a_restarted_hub_serves_the_last_state(start_hub: HubFactory) -> None:
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    for n in (1, 2, 3):
        await publish(provider, n)
    await hub.stop()
    hub = await start_hub()
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await follower.recv())["t"] == "ack"
    update = await follower.recv()
    assert update["seq"] == 3 and update["positions"] == state_frame(n=3)["positions"]
    provider = await logged_in(hub, "alice")
    assert (await publish(provider, 4))["seq"] == 4  # numbering continues
    assert (await follower.recv())["seq"] == 4


async def test_acl(start_hub: HubFactory) -> None:
    hub = await start_hub()
    follower = await logged_in(hub, "bob")
    follower.send({**state_frame(), "id": 1})
    assert (await follower.recv())["code"] == "forbidden"  # followers cannot publish
    follower.send({"t": "sub", "id": 2, "ch": "beta"})
    assert (await follower.recv())["code"] == "forbidden"  # nor read ungranted channels
    carol = await logged_in(hub, "carol")  # provider of beta
    carol.send({**state_frame("alpha"), "id": 3})
    assert (await carol.recv())["code"] == "forbidden"
    carol.send({"t": "sub", "id": 4, "ch": "beta"})
    assert (await carol.recv())["code"] == "forbidden"
    root = await logged_in(hub, "root")
    root.send({"t": "sub", "id": 5, "ch": "beta"})
    assert await root.recv() == {"t": "ack", "re": 5}
    root.send({**state_frame("gamma"), "id": 6})
    assert (await root.recv())["seq"] == 1
    assert hub.parts.bus.latest("alpha") is None  # nothing was stored by the refusals


async def test_invalid_state_changes_nothing(start_hub: HubFactory) -> None:
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 1, "ch": "alpha"})
    await follower.recv()
    await publish(provider, 1)
    assert (await follower.recv())["seq"] == 1
    bad = state_frame(n=2)
    bad["positions"][0]["volume"] = -1
    provider.send({**bad, "id": 2})
    reply = await provider.recv()
    assert reply["code"] == "invalid_state" and reply["re"] == 2
    assert (await publish(provider, 3))["seq"] == 2  # no seq was spent on the bad one
    assert (await follower.recv())["seq"] == 2


async def test_unsubscribe_stops_delivery(start_hub: HubFactory) -> None:
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 1, "ch": "alpha"})
    await follower.recv()
    follower.send({"t": "unsub", "id": 2, "ch": "alpha"})
    assert await follower.recv() == {"t": "ack", "re": 2}
    await publish(provider, 1)
    follower.send({"t": "ping", "id": 3})
    assert (await follower.recv()).items() >= {"t": "pong", "re": 3}.items()  # no state came first


ORDER = {"id": "1002", "symbol": "GBPUSD", "type": "buy_limit", "volume": 0.2, "price": 1.2601,
         "sl": 1.2571, "expiration": 0, "time": 1_700_000_000_456}  # fmt: skip


async def test_pending_orders_are_stored_and_forwarded_and_bad_ones_refused(
    start_hub: HubFactory,
) -> None:
    """Protocol 1.2 ``orders``: kept with the state (a new subscriber gets them from the store),
    forwarded as sent, and refused with the state when one breaks a rule."""
    hub = await start_hub()
    provider = await logged_in(hub, "alice")
    provider.send({**state_frame(n=1), "orders": [ORDER], "id": 1})
    assert (await provider.recv())["seq"] == 1
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 2, "ch": "alpha"})
    assert (await follower.recv())["t"] == "ack"
    (order,) = (await follower.recv())["orders"]
    assert order == {k: v for k, v in ORDER.items() if k != "expiration"}  # 0 goes unsaid
    for broken, reason in [
        ({"volume": -0.1}, "volume"),
        ({"price": 0}, "price"),
        ({"sl": -1}, "sl"),
        ({"type": "buy_stop_limit"}, "stop_limit"),
        ({"type": "buy_later"}, "type"),
        ({"expiration": -5}, "expiration"),
        ({"symbol": "EUR USD"}, "symbol"),
    ]:
        provider.send({**state_frame(n=2), "orders": [{**ORDER, **broken}], "id": 3})
        reply = await provider.recv()
        assert reply["code"] == "invalid_state" and reason in reply["msg"], (broken, reply)
    twice = [ORDER, {**ORDER, "price": 1.25}]
    provider.send({**state_frame(n=2), "orders": twice, "id": 4})
    reply = await provider.recv()
    assert reply["code"] == "invalid_state" and "unique" in reply["msg"]
    provider.send({**state_frame(n=2), "id": 5})  # 1.1: no orders field at all
    assert (await provider.recv())["seq"] == 2  # no seq spent on the refused ones
    assert "orders" not in await follower.recv()
