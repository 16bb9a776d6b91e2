"""Tick ingest through a real hub: UDP (the article's datagrams), TCP lines, native frames,
deduplication, live subscriptions, a stalled subscriber."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from tests.conftest import PASSWORD, HubFactory, logged_in, make_config
from tradewire.config import ListenerSettings, TickListenerSettings
from tradewire.hub.article.tcp_ticks import TcpTickListener
from tradewire.hub.article.udp_ticks import UdpTickListener
from tradewire.hub.server import Hub
from tradewire.store.ticks import SqliteTickStore

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
LISTENERS = ListenerSettings(
    udp_ticks=TickListenerSettings(enabled=True, port=0),
    tcp_ticks=TickListenerSettings(enabled=True, port=0),
)


def port_of(hub: Hub, kind: type) -> int:
    assert hub.parts.legacy is not None
    listener = next(x for x in hub.parts.legacy.tick_listeners if isinstance(x, kind))
    return (
        int(listener.port)
        if isinstance(listener, UdpTickListener)
        else int(listener._server.sockets[0].getsockname()[1])
    )  # type: ignore[union-attr]


def stored(data_dir: Path, symbol: str) -> list[tuple]:
    store = SqliteTickStore(data_dir, readonly=True)
    try:
        return list(store.query(symbol, 0, 2**62))
    finally:
        store.close()


async def wait_stored(data_dir: Path, symbol: str, count: int, within: float = 10) -> list:
    deadline = time.monotonic() + within
    while True:
        rows = stored(data_dir, symbol)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.05)


async def test_article_datagrams_with_nul_are_stored_with_receive_time(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    port = port_of(hub, UdpTickListener)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    before = int(time.time() * 1000)
    for datagram in (
        b"EURUSD 1.08345\x00",
        b"not a tick\x00",
        b"EURUSD -1\x00",
        b"EURUSD 1.08350 1.08360 1700000000000",
    ):
        sock.sendto(datagram, ("127.0.0.1", port))
    rows = await wait_stored(data_dir, "EURUSD", 2)
    assert len(rows) == 2
    article = next(r for r in rows if r[3] is None)
    assert article[2] == 1.08345 and before <= article[1] <= int(time.time() * 1000)
    assert ("EURUSD", 1700000000000, 1.0835, 1.0836, None, None) in rows
    udp = next(c for c in hub.parts.ticks.listeners if c.name == "udp")
    assert (udp.received, udp.malformed) == (4, 2)


async def test_udp_datagrams_from_outside_the_allow_list_are_counted_and_dropped(
    start_hub: HubFactory, data_dir: Path
) -> None:
    listeners = ListenerSettings(
        udp_ticks=TickListenerSettings(enabled=True, host="0.0.0.0", port=0, allow=["127.0.0.2"])
    )
    hub = await start_hub(make_config(listeners=listeners))
    port = port_of(hub, UdpTickListener)
    senders = {}
    for address in ("127.0.0.1", "127.0.0.2"):
        senders[address] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        senders[address].bind((address, 0))
    for n in range(3):  # interleaved: the listener remembers each sender's verdict
        senders["127.0.0.1"].sendto(b"EURUSD 1.1%d" % n, ("127.0.0.1", port))
        senders["127.0.0.2"].sendto(b"GBPUSD 1.2%d" % n, ("127.0.0.1", port))
    assert len(await wait_stored(data_dir, "GBPUSD", 3)) == 3
    udp = next(c for c in hub.parts.ticks.listeners if c.name == "udp")
    for _ in range(100):  # the refused ones are counted by the listener's thread
        if udp.received >= 6:
            break
        await asyncio.sleep(0.05)
    assert (udp.received, udp.reasons) == (6, {"address not allowed": 3})
    await hub.stop()
    assert stored(data_dir, "EURUSD") == []
    for sock in senders.values():
        sock.close()


async def test_hundred_thousand_udp_ticks_arrive_without_loss(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    port = port_of(hub, UdpTickListener)
    # The sender is a separate process (the CLI), so it does not share this process's GIL.
    done = await asyncio.to_thread(
        subprocess.run,
        [
            TRADEWIRE,
            "ticks",
            "send",
            "--to",
            f"127.0.0.1:{port}",
            "--via",
            "udp",
            "--random-walk",
            "100000",
            "--symbols",
            "XAUUSD",
            "--rate",
            "50000",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "sent 100000" in done.stdout
    rows = await wait_stored(data_dir, "XAUUSD", 100_000, within=20)
    udp = next(c for c in hub.parts.ticks.listeners if c.name == "udp")
    assert len(rows) == 100_000
    assert (udp.received, udp.malformed, udp.kernel_drops) == (100_000, 0, 0)


async def test_tcp_lines(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub(make_config(listeners=LISTENERS))
    _, writer = await asyncio.open_connection("127.0.0.1", port_of(hub, TcpTickListener))
    writer.write(b"GBPUSD 1.2601 1.2603 1700000000001\nGBPUSD 1.2602\r\nrubbish\nGBP")
    writer.write(b"USD 1.2604 1.2606 1700000000002\n")
    await writer.drain()
    rows = await wait_stored(data_dir, "GBPUSD", 3)
    assert [r[2] for r in rows if r[3] is not None] == [1.2601, 1.2604]
    assert len(rows) == 3
    tcp = next(c for c in hub.parts.ticks.listeners if c.name == "tcp")
    assert (tcp.received, tcp.malformed) == (4, 1)
    writer.close()


def frame(batch_id: str, n: int, symbol: str = "EURUSD", start: int = 1_700_000_000_000) -> dict:
    return {
        "t": "ticks",
        "id": batch_id,
        "rows": [[symbol, start + i, 1.1 + i * 1e-5, 1.1001 + i * 1e-5] for i in range(n)],
    }


async def test_native_batches_are_acked_and_a_resent_batch_is_stored_once(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub()
    feeder = await logged_in(hub, "alice")
    feeder.send(frame("b1", 500))
    assert await feeder.recv() == {"t": "ack", "re": "b1", "n": 500}
    assert len(stored(data_dir, "EURUSD")) == 500  # acked means stored
    feeder.close()
    again = await logged_in(hub, "alice")  # a reconnect, resending what it was unsure of
    again.send(frame("b1", 500))
    assert await again.recv() == {"t": "ack", "re": "b1", "n": 500}
    again.send(frame("b2", 10, start=1_700_000_100_000))
    assert (await again.recv())["n"] == 10
    assert len(stored(data_dir, "EURUSD")) == 510
    other = await logged_in(hub, "carol")  # another user's "b1" is another batch
    other.send(frame("b1", 5, "GBPUSD"))
    assert (await other.recv())["n"] == 5


async def test_an_invalid_row_refuses_the_whole_frame(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub()
    feeder = await logged_in(hub, "alice")
    bad = frame("x", 5)
    bad["rows"][3][2] = -1.0
    feeder.send(bad)
    reply = await feeder.recv()
    assert reply["code"] == "invalid_ticks" and reply["re"] == "x" and "row 3" in reply["msg"]
    follower = await logged_in(hub, "bob")
    follower.send(frame("y", 1))
    assert (await follower.recv())["code"] == "forbidden"
    await asyncio.sleep(0.1)
    assert stored(data_dir, "EURUSD") == []


def columns(batch: str, n: int, **extra: object) -> dict[str, object]:
    """A columnar frame: EURUSD and GBPUSD ticks, alternating."""
    return {
        "t": "ticks",
        "id": batch,
        "symbols": ["EURUSD", "GBPUSD"],
        "sym": [i % 2 for i in range(n)],
        "time_ms": [1_700_000_000_000 + i for i in range(n)],
        "bid": [1.1 + i / 1e5 for i in range(n)],
        "ask": [1.1002 + i / 1e5 for i in range(n)],
        **extra,
    }


async def test_columnar_frames_are_stored_like_rows(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub()
    feeder = await logged_in(hub, "alice")
    feeder.send(columns("c1", 1000, volume=[float(i) for i in range(1000)]))
    assert await feeder.recv() == {"t": "ack", "re": "c1", "n": 1000}
    eurusd = stored(data_dir, "EURUSD")
    assert len(eurusd) == 500 and len(stored(data_dir, "GBPUSD")) == 500  # acked: stored
    assert eurusd[1] == ("EURUSD", 1_700_000_000_002, 1.10002, 1.10022, None, 2.0)
    feeder.send(columns("c1", 1000))  # resent after a lost ack: stored once
    assert (await feeder.recv())["n"] == 1000
    one = {"t": "ticks", "id": "c2", "symbols": ["XAUUSD"], "time_ms": [1_700_000_000_000],
           "bid": [2300.1], "ask": [2300.4], "last": [2300.2]}  # fmt: skip
    feeder.send(one)  # one symbol: no sym column needed
    assert (await feeder.recv())["n"] == 1
    assert stored(data_dir, "XAUUSD") == [
        ("XAUUSD", 1_700_000_000_000, 2300.1, 2300.4, 2300.2, None)
    ]
    assert len(stored(data_dir, "EURUSD")) == 500


@pytest.mark.parametrize(
    ("change", "code", "says"),
    [
        ({"bid": [1.1] * 9}, "invalid_ticks", "bid has 9 values for 10 ticks"),
        ({"sym": None}, "invalid_ticks", "sym is required"),
        ({"sym": [0] * 9 + [2]}, "invalid_ticks", "tick 9: sym beyond symbols"),
        ({"symbols": ["EURUSD", "EUR USD"]}, "invalid_ticks", "'EUR USD' must match"),
        ({"time_ms": [1] * 9 + [2**60]}, "invalid_ticks", "tick 9: time_ms is before 1970"),
        ({"ask": [1.1] * 9 + [7.25e99]}, "invalid_ticks", "out of range - at `$.ask[9]`"),
        ({"bid": [1.1] * 9 + [-1.0]}, "invalid_ticks", ">= 0.0 - at `$.bid[9]`"),
        ({"rows": [["EURUSD", 1, 1.1, 1.2]]}, "invalid_ticks", "not both"),
        ({"ask": None}, "invalid_ticks", "give rows, or the columns"),
    ],
)
async def test_a_columnar_frame_that_breaks_a_rule_is_refused_whole(
    start_hub: HubFactory, data_dir: Path, change: dict[str, object], code: str, says: str
) -> None:
    hub = await start_hub()
    feeder = await logged_in(hub, "alice")
    frame = {k: v for k, v in {**columns("bad", 10), **change}.items() if v is not None}
    feeder.send(msgspec.json.encode(frame).replace(b"7.25e99", b"1e999") + b"\n")  # = inf
    reply = await feeder.recv()
    assert reply["t"] == "error" and reply["code"] == code and says in reply["msg"], reply
    feeder.send({"t": "ping", "id": 1})  # the session goes on
    assert (await feeder.recv())["t"] == "pong"
    await hub.stop()
    assert stored(data_dir, "EURUSD") == stored(data_dir, "GBPUSD") == []


async def test_live_subscribers_get_ticks(start_hub: HubFactory) -> None:
    hub = await start_hub()
    eur = await logged_in(hub, "bob")
    eur.send({"t": "sub", "id": 1, "ticks": ["EURUSD"]})
    everything = await logged_in(hub, "bob")
    everything.send({"t": "sub", "id": 1, "ticks": ["*"]})
    assert (await eur.recv())["t"] == (await everything.recv())["t"] == "ack"
    feeder = await logged_in(hub, "alice")
    feeder.send(
        {
            "t": "ticks",
            "id": 1,
            "rows": [
                ["EURUSD", 1_700_000_000_000, 1.1, 1.2],
                ["GBPUSD", 1_700_000_000_001, 1.3, 1.4],
            ],
        }
    )
    await feeder.recv()
    assert (await eur.recv())["rows"] == [["EURUSD", 1_700_000_000_000, 1.1, 1.2, None, None]]
    got = await everything.recv()
    assert [r[0] for r in got["rows"]] == ["EURUSD", "GBPUSD"]
    eur.send({"t": "sub", "id": 2, "ticks": ["EUR USD"]})
    assert (await eur.recv())["code"] == "bad_frame"


async def test_a_stalled_tick_subscriber_does_not_slow_ingest(start_hub: HubFactory) -> None:
    hub = await start_hub(write_buffer_bytes=16_384)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, hub.addresses[0])
    await loop.sock_sendall(
        sock,
        b'{"t":"hello","v":1,"user":"bob","password":"'
        + PASSWORD.encode()
        + b'"}\n{"t":"sub","id":1,"ticks":["*"]}\n',
    )
    await asyncio.sleep(0.2)  # logged in and subscribed; it never reads again
    stalled = next(c for c in hub.connections if hub.parts.ticks.symbols(c))
    feeder = await logged_in(hub, "alice")
    started = time.perf_counter()
    for n in range(150):  # about 12 MB of live ticks: far past every socket buffer
        rows = [
            [s, 1_700_000_000_000 + n * 1000 + i, 1.1, 1.2]
            for i, s in enumerate(["EURUSD", "GBPUSD", "XAUUSD"] * 500)
        ]
        feeder.send({"t": "ticks", "id": n, "rows": rows})
        assert (await feeder.recv())["n"] == 1500
    elapsed = time.perf_counter() - started
    assert stalled._write_paused and len(stalled.tick_backlog) == 3  # newest per symbol only
    assert stalled.transport.get_write_buffer_size() < 16_384 + 200_000
    assert elapsed < 60  # 225,000 rows acked while one subscriber is stalled
    sock.close()


@pytest.mark.parametrize("symbols", [["*"], ["EURUSD", "GBPUSD"]])
async def test_unsubscribing_ticks(start_hub: HubFactory, symbols: list[str]) -> None:
    hub = await start_hub()
    raw = await logged_in(hub, "bob")
    raw.send({"t": "sub", "id": 1, "ticks": symbols})
    await raw.recv()
    raw.send({"t": "unsub", "id": 2, "ticks": symbols})
    assert await raw.recv() == {"t": "ack", "re": 2}
    feeder = await logged_in(hub, "alice")
    feeder.send(frame("z", 3))
    await feeder.recv()
    raw.send({"t": "ping", "id": 3})
    assert (await raw.recv()).items() >= {"t": "pong", "re": 3}.items()


async def test_tick_sender_splits_batches_to_fit_the_hub(
    start_hub: HubFactory, data_dir: Path
) -> None:
    from tradewire.clients.tick_sender import TickSender
    from tradewire.ticks.sources import random_walk

    hub = await start_hub(max_frame_bytes=8192)
    host, port = hub.addresses[0]
    sender = TickSender("native", host, port, user="alice", password=PASSWORD)
    await sender.start()
    await sender.send(list(random_walk(["EURUSD"], 5000, start_ms=1_700_000_000_000)))
    await asyncio.wait_for(sender.close(), 30)
    assert (sender.sent, sender.acked) == (5000, 5000)
    assert len(stored(data_dir, "EURUSD")) == 5000
