"""The per-user budget table (hub/services/budgets/service.py) on a real hub: what an account
holds of each budget matches what it was made to store, a user sees their own, only an admin
sees another's, and admins show as exempt where they are."""

from __future__ import annotations

import base64
from pathlib import Path

import msgspec

from tests.conftest import grant, logged_in, make_config
from tradewire.config import FileSettings, TopicSettings
from tradewire.hub.server import Hub
from tradewire.hub.services.budgets.service import BUDGETS


def frames(*items: dict[str, object]) -> bytes:
    return b"".join(msgspec.json.encode(f) + b"\n" for f in items)


async def test_budget_shows_what_an_account_holds_against_each_limit(data_dir: Path) -> None:
    grant(data_dir, "alice", "topic:b.*")
    config = make_config(
        files=FileSettings(max_bytes_per_user=500_000),
        topics=TopicSettings(max_topics_per_user=7),
    )
    hub = Hub(config, data_dir)
    await hub.start()
    try:
        alice = await logged_in(hub, "alice")
        blob = base64.b64encode(b"x" * 10_000).decode()
        alice.send(
            frames(
                *({"t": "file_put", "name": f"f{n}", "data": blob, "id": n} for n in range(3)),
                *(
                    {"t": "topic_pub", "topic": f"b.{n}", "value": n, "id": 10 + n}
                    for n in range(4)
                ),
                {"t": "sentiment_put", "symbol": "EURUSD", "long": 1.0, "id": 20},
                {"t": "sentiment_put", "symbol": "GBPUSD", "short": 0.5, "id": 21},
            )
        )
        answers = [await alice.recv() for _ in range(9)]
        assert all(a["t"] == "ack" for a in answers), answers
        alice.send({"t": "budget", "id": 30})
        mine = await alice.recv()
        assert mine["t"] == "budget" and mine["re"] == 30 and mine["user"] == "alice"
        rows = {r["budget"]: r for r in mine["rows"]}
        assert set(rows) == {b.name for b in BUDGETS}
        assert (rows["files"]["used"], rows["files"]["limit"]) == (30_000, 500_000)
        assert rows["files"]["key"] == "files.max_bytes_per_user"
        assert (rows["topics"]["used"], rows["topics"]["limit"]) == (4, 7)
        assert rows["sentiment symbols"]["used"] == 2
        assert rows["unfinished jobs"]["used"] == 0
        carol = await logged_in(hub, "carol")  # another provider may not look at alice's
        carol.send({"t": "budget", "user": "alice", "id": 1})
        assert (await carol.recv())["code"] == "forbidden"
        root = await logged_in(hub, "root")
        root.send({"t": "budget", "user": "alice", "id": 2})
        assert (await root.recv())["rows"] == mine["rows"]
        root.send({"t": "budget", "user": "nobody", "id": 4})  # a name with no user
        assert (await root.recv())["code"] == "not_found"
        root.send({"t": "budget", "user": 7, "id": 5})  # not a name at all
        assert (await root.recv())["code"] == "bad_frame"
        root.send({"t": "budget", "id": 3})  # an admin is exempt from the file and topic quotas
        exempt = {r["budget"]: r["limit"] for r in (await root.recv())["rows"]}
        assert exempt["files"] is None and exempt["topics"] is None
        assert exempt["unfinished jobs"] == config.jobs.max_jobs
    finally:
        await hub.stop()
