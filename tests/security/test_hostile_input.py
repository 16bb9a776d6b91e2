"""Hostile frames and authorization against a real hub: bounded memory, a clear error, nothing
stored; nobody does what their role and grants do not allow; passwords never written down."""

from __future__ import annotations

import asyncio
import base64
import logging
import resource
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, HubFactory, Raw, logged_in, state_frame
from tradewire.hub.server import Hub
from tradewire.store.db import StateDB
from tradewire.store.files import list_files_op
from tradewire.store.ticks import SqliteTickStore


def stored_states(data_dir: Path) -> list[tuple[str, int]]:
    db = StateDB(data_dir)
    try:
        return [(s.channel, s.seq) for s in db.load_states()]
    finally:
        db.close()


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


async def test_ten_megabyte_line_is_refused_with_bounded_memory(
    start_hub: HubFactory, data_dir: Path
) -> None:
    hub = await start_hub()
    raw = await logged_in(hub, "alice")
    before = rss_mib()
    chunk = b'{"t":"state","ch":"alpha","pad":"' + b"x" * (1 << 20)
    for _ in range(10):  # 10 MiB without a newline, sent as fast as the hub takes it
        raw.writer.write(chunk)
        try:
            await raw.writer.drain()
        except ConnectionError:
            break
    try:
        reply = await raw.recv()
        assert reply["code"] == "frame_too_large"
    except ConnectionResetError:
        pass  # the hub closed with our unread bytes in its buffer: a reset may eat the error
    assert await raw.closed()
    grown = rss_mib() - before
    print(
        f"\n10 MiB line: refused after {hub.config.hub.max_frame_bytes} bytes; RSS grew "
        f"{grown:.1f} MiB (test process, hub included)"
    )
    assert grown < 8
    assert stored_states(data_dir) == []


ACCOUNT = (
    b'"account":{"login":"1","currency":"USD","balance":BAL,"equity":1,"leverage":1,'
    b'"mode":"hedging"}'
)


def state_line(positions: bytes = b"", balance: bytes = b"1", ch: bytes = b"alpha") -> bytes:
    return (
        b'{"t":"state","ch":"'
        + ch
        + b'","ts":1,'
        + ACCOUNT.replace(b"BAL", balance)
        + b',"positions":['
        + positions
        + b"]}"
    )


def position(volume: bytes = b"1", price: bytes = b"1", symbol: bytes = b"EURUSD") -> bytes:
    return (
        b'{"id":"1","symbol":"'
        + symbol
        + b'","side":"buy","volume":'
        + volume
        + b',"price":'
        + price
        + b',"time":1}'
    )


HOSTILE = [
    (
        "deep nesting",
        b'{"t":"state","ch":"alpha","ts":1,"account":' + b"[" * 30_000 + b"]" * 30_000 + b"}",
    ),
    ("huge integer", b'{"t":"ping","id":' + b"9" * 5000 + b"}"),
    ("huge ts", state_line().replace(b'"ts":1', b'"ts":123456789012345678901234567890')),
    ("NaN volume", state_line(position(volume=b"NaN"))),
    ("Infinity balance", state_line(balance=b"Infinity")),
    ("1e999 price", state_line(position(price=b"1e999"))),
    ("invalid UTF-8", b'{"t":"state","ch":"al\xff\xfepha"}'),
    ("NUL in channel", state_line(ch=b"al\\u0000pha")),
    ("NUL in symbol", state_line(position(symbol=b"EUR\\u0000USD"))),
    ("NUL in file name", b'{"t":"file_put","name":"a\\u0000b","data":"eA=="}'),
    ("NUL in tick symbol", b'{"t":"ticks","id":"b","rows":[["EUR\\u0000USD",1,1.1,1.2]]}'),
    ("not an object", b"[1,2,3]"),
    ("duplicate keys", b'{"t":"ping","t":"state"}'),
]


@pytest.mark.parametrize(("name", "line"), HOSTILE, ids=[h[0] for h in HOSTILE])
async def test_hostile_frames_get_a_clear_error_and_store_nothing(
    start_hub: HubFactory, data_dir: Path, name: str, line: bytes
) -> None:
    hub = await start_hub()
    raw = await logged_in(hub, "alice")
    raw.send(line + b"\n")
    reply = await raw.recv()
    assert reply["t"] == "error" and reply["code"] in (
        "bad_frame",
        "invalid_state",
        "invalid_ticks",
    ), reply
    assert reply["msg"]
    raw.send({"t": "ping", "id": 7})  # the session goes on
    assert (await raw.recv()).items() >= {"t": "pong", "re": 7}.items()
    await hub.store.flush()
    assert stored_states(data_dir) == []
    await hub.stop()  # flushes the tick writer: nothing of a refused ticks frame may be there
    store = SqliteTickStore(data_dir, readonly=True)
    try:
        assert store.symbol_stats() == []
    finally:
        store.close()


async def test_authorization(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub()
    bob = await logged_in(hub, "bob")  # follower of alpha
    alice = await logged_in(hub, "alice")  # provider of alpha
    carol = await logged_in(hub, "carol")  # provider of beta
    checks: list[tuple[Raw, dict[str, object]]] = [
        (bob, {**state_frame("alpha"), "id": 1}),  # a follower cannot publish
        (alice, {**state_frame("beta"), "id": 2}),  # nor a provider to another's channel
        (alice, {"t": "sub", "ch": "beta", "id": 3}),  # nor subscribe to an ungranted one
        (bob, {"t": "sub", "ch": "beta", "id": 4}),
        (bob, {"t": "ticks", "id": "t", "rows": [["EURUSD", 1, 1.1, 1.2]]}),
        (bob, {"t": "file_put", "name": "x", "data": "eA==", "id": 5}),
    ]
    for client, frame in checks:
        client.send(frame)
        reply = await client.recv()
        assert reply["code"] == "forbidden", (frame, reply)
    alice.send({"t": "file_put", "name": "alices", "data": "eA==", "id": 6})
    assert (await alice.recv())["t"] == "ack"
    carol.send({"t": "file_put", "name": "alices", "data": "eQ==", "id": 7})
    assert (await carol.recv())["code"] == "forbidden"  # one provider cannot replace another's
    root = await logged_in(hub, "root")
    root.send({"t": "file_put", "name": "alices", "data": "eg==", "id": 8})
    assert (await root.recv())["t"] == "ack"  # admins may
    await hub.store.flush()
    assert stored_states(data_dir) == []
    db = StateDB(data_dir)
    try:
        assert [(f.name, f.version, f.user) for f in db.run(list_files_op)] == [
            ("alices", 2, "root")
        ]
    finally:
        db.close()


async def test_passwords_never_reach_logs_or_the_audit_table(
    start_hub: HubFactory, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "Wrong-But-Secret-Password-123"
    with caplog.at_level(logging.DEBUG):
        hub: Hub = await start_hub()
        for password in (secret, PASSWORD):
            raw = await Raw.connect(hub)
            await raw.login("alice", password)
            raw.close()
        raw = await Raw.connect(hub)
        raw.send(
            b'{"t":"hello","v":1,"user":"alice","password":"'
            + secret.encode()
            + b'","agent":'
            + b"1" * 10
            + b"x}\n"
        )  # a malformed hello: nothing echoed
        await raw.recv()
        raw.close()
        await asyncio.sleep(0.1)
        await hub.store.flush()
    assert secret not in caplog.text and PASSWORD not in caplog.text
    db = StateDB(data_dir)
    try:
        rows = db.audit_log(1000)
        dump = "\n".join(str(row) for row in rows)
        for table in ("users", "audit", "bans"):
            dump += str(db.run(lambda c, t=table: c.execute(f"SELECT * FROM {t}").fetchall()))
    finally:
        db.close()
    assert any(row[1] == "login_failed" for row in rows)
    assert secret not in dump and PASSWORD not in dump
    assert base64.b64encode(secret.encode()).decode() not in dump


async def test_pipelined_requests_from_a_client_that_never_reads_stay_bounded(
    start_hub: HubFactory,
) -> None:
    """Reply amplification (issue 26, item 1): four connections each pipeline 1,000 file_get
    requests for a 45 KB file in one write and never read. The hub stops handing their frames
    to the file service once their output is over its limit or 8 replies are being prepared:
    what it holds for each stays near write_buffer_bytes, not 1,000 replies; a client that
    reads gets its channel's state at once meanwhile."""
    hub = await start_hub()
    alice = await logged_in(hub, "alice")
    blob = base64.b64encode(bytes(range(256)) * 180).decode()  # 45 KB
    alice.send({"t": "file_put", "name": "big", "data": blob, "id": 1})
    assert (await alice.recv())["t"] == "ack"
    attackers = [await logged_in(hub, "bob") for _ in range(4)]
    burst = b"".join(b'{"t":"file_get","name":"big","id":%d}\n' % n for n in range(1000))
    for raw in attackers:
        raw.writer.transport.set_write_buffer_limits(high=1 << 24)
        raw.writer.transport.pause_reading()  # never reads a reply
        raw.send(burst)
    await asyncio.sleep(1.5)
    conns = [c for c in hub.connections if c.user is not None and c.user.name == "bob"]
    held = [c.transport.get_write_buffer_size() for c in conns if c.transport is not None]
    limit = hub.config.hub.write_buffer_bytes
    reply = 60_000 * 1.4  # one reply (base64 of 45 KB in a frame), with margin
    print(f"\nbuffered per attacking connection: {sorted(held)} bytes (limit {limit})")
    assert len(held) == 4 and max(held) < limit + 9 * reply, held  # was 1,000 replies: 60 MB
    # The hub serves others meanwhile.
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "ch": "alpha", "id": 5})
    assert (await follower.recv())["t"] == "ack"
    started = asyncio.get_running_loop().time()
    alice.send({**state_frame(n=1), "id": 6})
    assert (await alice.recv())["t"] == "ack"
    assert (await follower.recv())["t"] == "state"
    assert asyncio.get_running_loop().time() - started < 1.0
    # An attacker that starts reading gets every reply, in order.
    first = attackers[0]
    first.writer.transport.resume_reading()
    got = [(await first.recv(timeout=10))["re"] for _ in range(1000)]
    assert got == list(range(1000))
