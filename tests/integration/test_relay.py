"""The relay service on a real hub, over raw sockets (the way an EA speaks it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import HubFactory, Raw, add_user, grant, logged_in, make_config
from tradewire.config import RelaySettings
from tradewire.hub.server import Hub
from tradewire.store.db import StateDB


def terminal_user(data_dir: Path) -> None:
    """term1, a listener with no grant; bob may send it messages."""
    add_user(data_dir, "term1", "follower")
    grant(data_dir, "bob", "relay:term1")


async def listening(hub: Hub, name: str = "term1") -> Raw:
    raw = await logged_in(hub, "term1")
    raw.send({"t": "listen", "name": name, "id": 1})
    assert await raw.recv() == {"t": "ack", "re": 1}
    return raw


async def test_messages_and_requests_between_two_clients_and_forbidden_for_a_third(
    start_hub: HubFactory, data_dir: Path
) -> None:
    terminal_user(data_dir)
    hub = await start_hub()
    term = await listening(hub)
    bob = await logged_in(hub, "bob")
    # One-way, in order, acked once handed over.
    for n in range(3):
        bob.send({"t": "relay", "to": "term1", "body": {"n": n}, "id": f"m{n}"})
    assert [await bob.recv() for _ in range(3)] == [{"t": "ack", "re": f"m{n}"} for n in range(3)]
    got = [await term.recv() for _ in range(3)]
    assert got == [
        {"t": "relay_in", "from": "bob", "to": "term1", "body": {"n": n}} for n in range(3)
    ]
    # A request and its answer.
    bob.send({"t": "relay", "to": "term1", "body": {"op": "account"}, "id": 9, "reply": True})
    request = await term.recv()
    assert request["body"] == {"op": "account"} and isinstance(request["rid"], int)
    term.send({"t": "reply", "rid": request["rid"], "body": {"balance": 1000.5}})
    assert await bob.recv() == {
        "t": "relayed",
        "from": "term1",
        "body": {"balance": 1000.5},
        "re": 9,
    }
    # A third user without the grant is refused, audited; so is listening as someone else.
    alice = await logged_in(hub, "alice")
    alice.send({"t": "relay", "to": "term1", "body": 1, "id": 3})
    refused = await alice.recv()
    assert refused["code"] == "forbidden" and refused["re"] == 3
    alice.send({"t": "listen", "name": "term1", "id": 4})
    assert (await alice.recv())["code"] == "forbidden"
    await hub.store.flush()
    db = StateDB(data_dir)
    forbidden = [row for row in db.audit_log(20) if row[1] == "forbidden"]
    db.close()
    assert [row[2] for row in forbidden] == ["alice", "alice"]
    assert hub.snapshot()["tradewire_relay_messages_total"][("forbidden",)] == 1


async def test_unreachable_timeout_and_an_addressee_that_leaves(
    start_hub: HubFactory, data_dir: Path
) -> None:
    terminal_user(data_dir)
    hub = await start_hub()
    bob = await logged_in(hub, "bob")
    bob.send({"t": "relay", "to": "term1", "body": {}, "id": 1})
    assert (await bob.recv())["code"] == "unreachable"  # nobody listens: not lost silently
    term = await listening(hub, "term1/eurusd")
    bob.send(
        {"t": "relay", "to": "term1/eurusd", "body": {}, "id": 2, "reply": True, "timeout_ms": 50}
    )
    await term.recv()  # asked, never answers
    timed_out = await bob.recv()
    assert (timed_out["code"], timed_out["re"]) == ("timeout", 2)
    bob.send({"t": "relay", "to": "term1/eurusd", "body": {}, "id": 3, "reply": True})
    late = await term.recv()
    term.close()  # leaves with the request open
    gone = await bob.recv()
    assert (gone["code"], gone["re"]) == ("unreachable", 3)
    # The answer to an expired request is refused, not delivered.
    term2 = await logged_in(hub, "term1")
    term2.send({"t": "reply", "rid": late["rid"], "body": {}, "id": 7})
    assert (await term2.recv())["code"] == "not_found"


async def test_a_reconnecting_listener_takes_its_name_over(
    start_hub: HubFactory, data_dir: Path
) -> None:
    terminal_user(data_dir)
    hub = await start_hub()
    old = await listening(hub)
    new = await listening(hub)  # the same user again: it takes the name over
    assert (await old.recv())["code"] == "name_taken"
    bob = await logged_in(hub, "bob")
    bob.send({"t": "relay", "to": "term1", "body": "hi", "id": 1})
    assert (await new.recv())["body"] == "hi"


async def test_bad_frames_limits_and_floods(data_dir: Path) -> None:
    terminal_user(data_dir)
    settings = RelaySettings(max_body_bytes=100, max_pending=2, rate_per_s=5, burst=10)
    hub = Hub(make_config(relay=settings), data_dir)
    await hub.start()
    try:
        term = await listening(hub)
        bob = await logged_in(hub, "bob")
        for bad, code in [
            ({"t": "relay", "to": "no such/name/x", "body": 1, "id": 1}, "bad_frame"),
            ({"t": "relay", "to": "term1", "body": "x" * 200, "id": 1}, "frame_too_large"),
            ({"t": "relay", "to": "term1", "id": 1}, "bad_frame"),  # no body
            ({"t": "relay", "to": "term1", "body": 1, "timeout_ms": 0, "id": 1}, "bad_frame"),
            ({"t": "reply", "rid": "x", "body": 1, "id": 1}, "bad_frame"),
        ]:
            bob.send(bad)
            assert (await bob.recv())["code"] == code, bad
            bob.send({"t": "ping", "id": "p"})  # bad frames in a row would close the session
            assert (await bob.recv())["t"] == "pong"
        for n in range(3):
            bob.send({"t": "relay", "to": "term1", "body": n, "id": n, "reply": True})
        third = await bob.recv()
        assert (third["code"], third["re"]) == ("rate_limited", 2)  # two may wait at once
        # A flood: beyond the burst, refused with a retry time; what was accepted arrives.
        for n in range(30):
            bob.send({"t": "relay", "to": "term1", "body": n, "id": 100 + n})
        answers = [await bob.recv() for _ in range(30)]
        acked = [a["re"] for a in answers if a["t"] == "ack"]
        limited = [a for a in answers if a.get("code") == "rate_limited"]
        assert acked and limited and len(acked) + len(limited) == 30
        assert all(a["retry_after_s"] > 0 for a in limited)
        got = [await term.recv() for _ in range(2 + len(acked))]
        assert [g["body"] for g in got[2:]] == [i - 100 for i in acked]
    finally:
        await hub.stop()


async def test_python_clients_request_and_listen_again_after_a_reconnect(
    start_hub: HubFactory, data_dir: Path
) -> None:
    from tests.conftest import PASSWORD
    from tradewire.clients import HubClient
    from tradewire.clients.backoff import Backoff
    from tradewire.clients.relay import Incoming, RelayClient
    from tradewire.exceptions import HubRefused

    terminal_user(data_dir)
    hub = await start_hub()
    host, port = hub.addresses[0]
    fast = Backoff(initial=0.01, maximum=0.05)
    term = HubClient(host, port, "term1", PASSWORD, backoff=fast)
    bob = HubClient(host, port, "bob", PASSWORD)
    await term.start()
    await bob.start()
    try:
        served = RelayClient(term)

        async def answer(message: Incoming) -> object:
            return {"echo": message.body, "from": message.sender}

        await served.listen("term1", answer)
        asking = RelayClient(bob)
        assert await asking.request("term1", [1, 2]) == {"echo": [1, 2], "from": "bob"}
        for conn in list(hub.connections):  # the terminal's connection drops
            if conn.user is not None and conn.user.name == "term1":
                conn.transport.abort()  # type: ignore[union-attr]
        for _ in range(200):  # it reconnects and listens again by itself
            try:
                assert await asking.request("term1", "again") == {"echo": "again", "from": "bob"}
                break
            except HubRefused as exc:
                assert exc.code == "unreachable"
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("the listener never came back")
        assert term.reconnects == 1
    finally:
        await bob.close()
        await term.close()
