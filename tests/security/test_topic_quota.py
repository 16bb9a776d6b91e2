"""Issue 26, finding 10: one provider filled the topic table (9,997 topics of 16 KB in 12 s,
+352 MB), then even an admin was refused new topics, and no frame deleted one. Here one user's
four connections race to create topics against a small per-user quota; deletion frees the
quota (creator or admin only) and survives a restart; stale topics expire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec

from tests.conftest import Raw, grant, logged_in, make_config
from tradewire.config import TopicSettings
from tradewire.hub.server import Hub

QUOTA = 30
SETTINGS = TopicSettings(max_topics_per_user=QUOTA, rate_per_s=10_000, burst=10_000)


async def started(data_dir: Path, settings: TopicSettings = SETTINGS) -> Hub:
    hub = Hub(make_config(topics=settings), data_dir)
    await hub.start()
    return hub


async def answers(raw: Raw, count: int) -> list[dict[str, object]]:
    return [await raw.recv() for _ in range(count)]


async def outcomes(raw: Raw, count: int) -> dict[object, object]:
    """Each answer by the id it answers (an error may overtake acks waiting for the store)."""
    return {a["re"]: a.get("code", a["t"]) for a in await answers(raw, count)}


def pub(topic: str, n: int, size: int = 1000) -> bytes:
    frame = {"t": "topic_pub", "topic": topic, "value": {"pad": "x" * size}, "id": n}
    return msgspec.json.encode(frame) + b"\n"


async def test_one_users_connections_racing_stay_within_the_quota(data_dir: Path) -> None:
    grant(data_dir, "alice", "topic:spam.*")
    grant(data_dir, "carol", "topic:spam.*")
    hub = await started(data_dir)
    try:
        conns = [await logged_in(hub, "alice") for _ in range(4)]
        for c, conn in enumerate(conns):  # 4 x 20 new topics, each batch in one write
            conn.send(b"".join(pub(f"spam.{c}.{n}", n) for n in range(20)))
        got = [a for batch in await asyncio.gather(*(answers(c, 20) for c in conns)) for a in batch]
        acked = [a for a in got if a["t"] == "ack"]
        refused = [a for a in got if a.get("code") == "quota_exceeded"]
        assert len(acked) == QUOTA and len(refused) == 80 - QUOTA
        assert "max_topics_per_user" in str(refused[0]["msg"])
        assert (
            hub.parts.topics.owners.held["alice"] == QUOTA and len(hub.parts.topics.known) == QUOTA
        )
        # a value for a topic alice already has is no new topic: accepted
        conns[0].send(pub("spam.0.0", 99))
        assert (await conns[0].recv())["t"] == "ack"
        # another user and an admin are not held up by alice's quota
        carol = await logged_in(hub, "carol")
        carol.send(pub("spam.carol", 1))
        assert (await carol.recv())["t"] == "ack"
        root = await logged_in(hub, "root")
        root.send(b"".join(pub(f"admin.{n}", n) for n in range(QUOTA + 5)))
        assert all(a["t"] == "ack" for a in await answers(root, QUOTA + 5))
        await hub.store.flush()
        rows = await hub.store.audit_log(100, "refused", "alice")
        assert 1 <= len(rows) <= 2  # 50 refusals in one burst: audited once (and a count)
    finally:
        await hub.stop()


async def test_delete_frees_the_quota_only_for_the_creator_or_an_admin(data_dir: Path) -> None:
    grant(data_dir, "alice", "topic:lv.*")
    grant(data_dir, "carol", "topic:lv.*")
    grant(data_dir, "bob", "topic:lv.*")
    hub = await started(data_dir, TopicSettings(max_topics_per_user=2))
    try:
        alice = await logged_in(hub, "alice")
        alice.send(pub("lv.a", 1) + pub("lv.b", 2) + pub("lv.c", 3))
        assert await outcomes(alice, 3) == {1: "ack", 2: "ack", 3: "quota_exceeded"}
        bob = await logged_in(hub, "bob")
        bob.send({"t": "sub", "topics": ["lv.*"], "id": 1})
        assert (await bob.recv())["t"] == "ack"
        assert {(await bob.recv())["topic"] for _ in range(2)} == {"lv.a", "lv.b"}
        carol = await logged_in(hub, "carol")  # may publish lv.*, but did not create lv.a
        carol.send({"t": "topic_del", "topic": "lv.a", "id": 5})
        assert (await carol.recv())["code"] == "forbidden"
        alice.send({"t": "topic_del", "topic": "lv.a", "id": 6})
        assert await alice.recv() == {"t": "ack", "re": 6}
        alice.send({"t": "topic_del", "topic": "lv.a", "id": 7})
        assert (await alice.recv())["code"] == "not_found"
        alice.send({"t": "topic_del", "topic": "lv a/../b", "id": 70})  # not a topic name
        assert (await alice.recv())["code"] == "bad_frame"
        alice.send({"t": "topic_del", "id": 71})  # no topic at all
        assert (await alice.recv())["code"] == "bad_frame"
        assert hub.parts.topics.known == {"lv.b"}  # nothing else changed
        alice.send(pub("lv.c", 8))  # the quota has room again
        assert (await alice.recv())["t"] == "ack"
        assert (await bob.recv())["topic"] == "lv.c"  # subscribers go on
        root = await logged_in(hub, "root")
        root.send({"t": "topic_del", "topic": "lv.b", "id": 9})
        assert (await root.recv())["t"] == "ack"
        late = await logged_in(hub, "bob")
        late.send({"t": "sub", "topics": ["lv.*"], "id": 1})
        assert (await late.recv())["t"] == "ack"
        assert (await late.recv())["topic"] == "lv.c"  # a deleted topic is not retained
        late.send({"t": "ping", "id": 2})
        assert (await late.recv())["t"] == "pong"
    finally:
        await hub.stop()
    hub = await started(data_dir, TopicSettings(max_topics_per_user=2))  # after a restart
    try:
        assert hub.parts.topics.known == {"lv.c"} and hub.parts.topics.owners.owner == {
            "lv.c": "alice"
        }
        alice = await logged_in(hub, "alice")
        alice.send(pub("lv.d", 1) + pub("lv.e", 2))
        assert await outcomes(alice, 2) == {1: "ack", 2: "quota_exceeded"}
    finally:
        await hub.stop()


async def test_topics_without_a_new_value_expire(data_dir: Path) -> None:
    grant(data_dir, "alice", "topic:old.*")
    hub = await started(data_dir, TopicSettings(expire_days=1.0))
    try:
        alice = await logged_in(hub, "alice")
        alice.send(pub("old.a", 1) + pub("old.b", 2))
        await answers(alice, 2)
        now = hub.parts.topics._bus.latest("topic:old.a").value.ts  # type: ignore[union-attr]
        assert hub.parts.topics.expire(now + 3_600_000) == 0  # an hour on: kept
        await asyncio.sleep(0.02)  # old.b's next value is stamped later than old.a's
        alice.send(pub("old.b", 3))
        await answers(alice, 1)
        later = hub.parts.topics._bus.latest("topic:old.b").value.ts  # type: ignore[union-attr]
        assert later > now + 1
        # a day and a millisecond after old.a's value: old.a is stale, old.b (newer) is not
        assert hub.parts.topics.expire(now + 86_400_001) == 1
        assert hub.parts.topics.known == {"old.b"} and hub.parts.topics.owners.held["alice"] == 1
    finally:
        await hub.stop()
