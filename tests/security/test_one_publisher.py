"""One publisher per channel (issue 12, item 7): a second account is refused with
``channel_busy`` unless it takes over explicitly; the same provider reconnecting takes over at
once; takeovers are audited."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import HubFactory, add_user, logged_in, state_frame


def other_account(n: int, **extra: object) -> dict[str, object]:
    frame = state_frame(n=n, **extra)
    frame["account"] = {**frame["account"], "login": "7777777"}  # type: ignore[dict-item]
    return frame


async def test_a_second_account_is_refused_unless_it_takes_over(
    start_hub: HubFactory, data_dir: Path
) -> None:
    add_user(data_dir, "dave", "provider", ["alpha"])
    hub = await start_hub()
    first = await logged_in(hub, "alice")
    first.send(state_frame(n=1, id=1))
    assert (await first.recv())["seq"] == 1
    follower = await logged_in(hub, "bob")
    follower.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await follower.recv())["t"] == "ack"
    assert (await follower.recv())["seq"] == 1

    second = await logged_in(hub, "dave")
    second.send(other_account(2, id=2))
    busy = await second.recv()
    assert busy["code"] == "channel_busy" and busy["re"] == 2
    assert busy["since_ms"] > 0 and "alice" in busy["msg"] and "takeover" in busy["msg"]
    first.send(state_frame(n=3, id=3))  # the first publisher carries on undisturbed
    assert (await first.recv())["seq"] == 2
    assert (await follower.recv())["positions"][0]["volume"] == 0.03

    second.send(other_account(4, id=4, takeover=True))
    assert (await second.recv())["seq"] == 3
    first.send(state_frame(n=5, id=5))  # now the first one is the intruder
    assert (await first.recv())["code"] == "channel_busy"
    await hub.store.flush()
    takeovers = [e for e in hub.store.db.audit_log(50) if e[1] == "takeover"]
    assert len(takeovers) == 1 and takeovers[0][2] == "dave"
    assert "replaced=alice/5012345" in (takeovers[0][4] or "")
    assert any(
        e[1] == "refused" and "channel_busy" in (e[4] or "") for e in hub.store.db.audit_log(50)
    )


async def test_the_same_provider_reconnecting_takes_over_at_once(start_hub: HubFactory) -> None:
    hub = await start_hub()
    old = await logged_in(hub, "alice")
    old.send(state_frame(n=1, id=1))
    assert (await old.recv())["seq"] == 1
    # The old connection is still open (a half-open one the hub has not timed out yet).
    new = await logged_in(hub, "alice")
    new.send(state_frame(n=2, id=2))
    assert (await new.recv())["seq"] == 2


async def test_the_channel_is_free_once_its_publisher_is_gone(
    start_hub: HubFactory, data_dir: Path
) -> None:
    add_user(data_dir, "dave", "provider", ["alpha"])
    hub = await start_hub()
    first = await logged_in(hub, "alice")
    first.send(state_frame(n=1, id=1))
    assert (await first.recv())["t"] == "ack"
    first.close()
    assert await first.closed()
    second = await logged_in(hub, "dave")
    for _ in range(50):  # the hub notices the close within a few loop turns
        second.send(other_account(2, id=2))
        reply = await second.recv()
        if reply["t"] == "ack":
            break
    assert reply["t"] == "ack", reply


async def test_two_accounts_publishing_at_the_same_instant_get_one_channel(
    start_hub: HubFactory, data_dir: Path
) -> None:
    add_user(data_dir, "dave", "provider", ["alpha"])
    hub = await start_hub()
    first, second = await logged_in(hub, "alice"), await logged_in(hub, "dave")
    first.send(state_frame(n=1, id=1))
    second.send(other_account(2, id=2))  # both in flight before either is answered
    replies = [await first.recv(), await second.recv()]
    assert sorted(r["t"] for r in replies) == ["ack", "error"]
    (refused,) = [r for r in replies if r["t"] == "error"]
    assert refused["code"] == "channel_busy"
    latest = hub.parts.bus.latest("alpha")
    assert latest is not None and latest.seq == 1  # exactly one state was stored
