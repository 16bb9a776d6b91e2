"""file_put / file_get / file_list on a real hub, and the article's template listener (8080)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import msgspec

from tests.conftest import HubFactory, logged_in, make_config
from tradewire.config import FileSettings, ListenerSettings, TemplateListenerSettings
from tradewire.hub.server import Hub
from tradewire.protocol.legacy import parse_template_payload
from tradewire.store.db import StateDB
from tradewire.store.files import list_files_op

TEMPLATE = "<chart>\r\nsymbol=EURUSD\r\n</chart>\r\n".encode("utf-16-le")


def put_frame(name: str, data: bytes, rid: int, **meta: object) -> dict[str, object]:
    return {
        "t": "file_put",
        "name": name,
        "data": base64.b64encode(data).decode(),
        "meta": meta,
        "id": rid,
    }


async def test_put_get_versions_and_list(start_hub: HubFactory) -> None:
    hub = await start_hub()
    alice = await logged_in(hub, "alice")
    alice.send(put_frame("preset.set", b"v1", 1, kind="preset"))
    assert await alice.recv() == {"t": "ack", "re": 1, "seq": 1}
    alice.send(put_frame("preset.set", b"v2", 2, kind="preset"))
    assert await alice.recv() == {"t": "ack", "re": 2, "seq": 2}
    bob = await logged_in(hub, "bob")  # followers may read
    bob.send({"t": "file_get", "name": "preset.set", "id": 3})
    got = await bob.recv()
    assert got["t"] == "file" and got["version"] == 2 and got["re"] == 3
    assert base64.b64decode(got["data"]) == b"v2"
    assert got["sha256"] == hashlib.sha256(b"v2").hexdigest()
    assert got["meta"] == {"kind": "preset"}
    bob.send({"t": "file_get", "name": "preset.set", "version": 1, "id": 4})
    assert base64.b64decode((await bob.recv())["data"]) == b"v1"
    bob.send({"t": "file_list", "id": 5})
    listing = await bob.recv()
    assert [(f["name"], f["version"], f["size"], f["user"]) for f in listing["files"]] == [
        ("preset.set", 2, 2, "alice")
    ]


async def test_refusals_store_nothing(start_hub: HubFactory, data_dir: Path) -> None:
    hub = await start_hub(make_config(files=FileSettings(max_bytes=1000)))
    alice = await logged_in(hub, "alice")
    bob = await logged_in(hub, "bob")
    carol = await logged_in(hub, "carol")
    bob.send(put_frame("x", b"data", 1))
    assert (await bob.recv())["code"] == "forbidden"  # followers cannot store
    alice.send(put_frame("big", b"x" * 1001, 2))
    assert (await alice.recv())["code"] == "file_too_large"
    alice.send({"t": "file_put", "name": "bad", "data": "%%%not base64", "id": 3})
    assert (await alice.recv())["code"] == "bad_frame"
    alice.send({"t": "ping", "id": 40})  # three bad frames in a row would close the session
    assert (await alice.recv())["t"] == "pong"
    alice.send(put_frame("../etc/passwd", b"x", 4))
    assert (await alice.recv())["code"] == "bad_frame"
    alice.send(put_frame("..", b"x", 41))
    assert (await alice.recv())["code"] == "bad_frame"
    alice.send({"t": "ping", "id": 42})
    assert (await alice.recv())["t"] == "pong"
    alice.send(put_frame("nul", b"x", 5, **{"k\u0000": "v"}))
    assert (await alice.recv())["code"] == "bad_frame"
    alice.send(put_frame("mine", b"a", 6))
    assert (await alice.recv())["t"] == "ack"
    carol.send(put_frame("mine", b"stolen", 7))  # another provider cannot replace it
    refused = await carol.recv()
    assert refused["code"] == "forbidden" and "alice" in refused["msg"]
    bob.send({"t": "file_get", "name": "nothing", "id": 8})
    assert (await bob.recv())["code"] == "not_found"
    await hub.store.flush()
    db = StateDB(data_dir)
    try:
        files = db.run(list_files_op)
    finally:
        db.close()
    assert [(f.name, f.version, f.size) for f in files] == [("mine", 1, 1)]


async def test_old_versions_are_pruned(start_hub: HubFactory) -> None:
    hub = await start_hub(make_config(files=FileSettings(keep_versions=2)))
    alice = await logged_in(hub, "alice")
    for version in range(1, 5):
        alice.send(put_frame("f", str(version).encode(), version))
        assert (await alice.recv())["seq"] == version
    alice.send({"t": "file_get", "name": "f", "version": 2, "id": 9})
    assert (await alice.recv())["code"] == "not_found"
    alice.send({"t": "file_get", "name": "f", "version": 3, "id": 10})
    assert base64.b64decode((await alice.recv())["data"]) == b"3"


async def read_until_closed(host: str, port: int) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    async with asyncio.timeout(5):
        payload = await reader.read()
    writer.close()
    return payload


async def test_template_listener_serves_the_latest_template(start_hub: HubFactory) -> None:
    listeners = ListenerSettings(
        template=TemplateListenerSettings(enabled=True, port=0, name="chart")
    )
    hub = await start_hub(make_config(listeners=listeners))
    host, port = hub.addresses[-1]
    assert await read_until_closed(host, port) == b""  # nothing stored yet: closed at once
    alice = await logged_in(hub, "alice")
    alice.send(put_frame("chart", TEMPLATE, 0, symbol="EURUSD", period=60))
    refused = await alice.recv()  # served to everyone without a login: admins only
    assert refused["code"] == "forbidden" and "only an admin" in refused["msg"]
    root = await logged_in(hub, "root")
    root.send(put_frame("chart", TEMPLATE, 1))  # the served name needs symbol and period
    refused = await root.recv()
    assert refused["code"] == "bad_frame" and "symbol" in refused["msg"]
    root.send(put_frame("chart", TEMPLATE, 2, symbol="EURUSD", period=60))
    assert (await root.recv())["seq"] == 1
    payload = await read_until_closed(host, port)
    assert payload[:20] == b"EURUSD\0\0\0\0" + b"60\0\0\0\0\0\0\0\0"
    assert parse_template_payload(payload) == ("EURUSD", 60, TEMPLATE)
    assert hub.template is not None and hub.template.served == 1


async def test_a_users_files_stay_within_the_quota_under_concurrent_puts(
    data_dir: Path,
) -> None:
    """Issue 26, item 11: 23,650 files of 47 KB were accepted. Now what one user's files take
    (every version kept) is capped, checked in the write's own transaction: four connections
    putting at once cannot pass it together. Admins are exempt."""
    hub = Hub(make_config(files=FileSettings(max_bytes_per_user=200_000)), data_dir)
    await hub.start()
    try:
        blob = base64.b64encode(b"x" * 45_000).decode()
        sessions = [await logged_in(hub, "alice") for _ in range(4)]
        for n, raw in enumerate(sessions):  # 4 x 5 puts of 45 KB, all in flight at once
            raw.send(
                b"".join(
                    msgspec.json.encode(
                        {"t": "file_put", "name": f"f{n}-{k}", "data": blob, "id": k}
                    )
                    + b"\n"
                    for k in range(5)
                )
            )
        replies = [await raw.recv() for raw in sessions for _ in range(5)]
        stored = sum(1 for r in replies if r["t"] == "ack")
        refused = [r for r in replies if r.get("code") == "quota_exceeded"]
        assert stored == 4 and len(refused) == 16, replies  # 4 x 45 KB fit in 200,000 bytes
        assert "files.max_bytes_per_user" in refused[0]["msg"]
        with sqlite3.connect(data_dir / "state.db") as conn:
            (total,) = conn.execute(
                "SELECT SUM(length(data)) FROM files WHERE user = 'alice'"
            ).fetchone()
        assert total <= 200_000
        root = await logged_in(hub, "root")  # an admin is not held to it
        root.send({"t": "file_put", "name": "admin-big", "data": blob, "id": 1})
        assert (await root.recv())["t"] == "ack"
    finally:
        await hub.stop()


async def test_pipelined_puts_wait_in_the_client_not_in_the_writers_queue(data_dir: Path) -> None:
    """benchmarks/attacks.py: 4 connections pipelining new 45 KB files grew the hub by 696 MiB
    in 5 s, every put waiting with its data in the state writer's queue. A put waiting for the
    store now counts as a reply being prepared: at most 8 per client are read meanwhile."""
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        blob = base64.b64encode(b"x" * 45_000).decode()
        raw = await logged_in(hub, "alice")
        in_flight, deepest = 0, 0
        real_put = hub.store.put_file

        def counted(*args: Any) -> None:  # what the store holds for this client at once
            nonlocal in_flight, deepest
            in_flight += 1
            deepest = max(deepest, in_flight)
            done = args[6]

            def finished(result: object) -> None:
                nonlocal in_flight
                in_flight -= 1
                done(result)

            real_put(*args[:6], finished, *args[7:])

        hub.store.put_file = counted  # type: ignore[method-assign]
        raw.send(
            b"".join(
                msgspec.json.encode({"t": "file_put", "name": f"p{k}", "data": blob, "id": k})
                + b"\n"
                for k in range(60)
            )
        )
        replies = [await raw.recv() for _ in range(60)]
        assert [r["re"] for r in replies] == list(range(60))  # all stored, in order
        assert all(r["t"] == "ack" for r in replies)
        assert deepest <= 8, deepest  # was all 60 at once
    finally:
        await hub.stop()
