"""Two hubs with their own data directories share channels and topics through one real
nats-server: a state published on one reaches subscribers of the other with the seq JetStream
decided; a hub cut off from NATS tells its clients to go (bus_unavailable) and admits nobody."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import msgspec
import nats
import pytest
import trustme

from tests.conftest import PASSWORD, Raw, add_user, logged_in, make_config, state_frame
from tests.faults.proxy import FaultProxy
from tests.integration.conftest import StartHub, users
from tradewire.bus.base import Message
from tradewire.bus.nats import NatsBus
from tradewire.bus.nats_server import NatsServer
from tradewire.clients import HubClient
from tradewire.config import NatsSettings, SentimentSettings
from tradewire.exceptions import ConfigError
from tradewire.hub.server import Hub
from tradewire.model import Account
from tradewire.store.db import StateDB


async def next_of(raw: Raw, kind: str) -> dict[str, Any]:
    while True:
        frame = await raw.recv()
        if frame["t"] == kind:
            return frame


async def test_a_state_published_on_one_hub_reaches_the_other(nats_hub: StartHub) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    early = await logged_in(b, "bob")
    early.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await early.recv())["t"] == "ack"
    provider = await logged_in(a, "alice")
    for n in (1, 2):
        provider.send({**state_frame(n=n), "id": n})
        ack = await provider.recv()
        assert ack == {"t": "ack", "re": n, "seq": n}, ack
        got = await next_of(early, "state")
        assert got["seq"] == n and got["positions"][0]["volume"] == 0.01 * n
    late = await logged_in(b, "bob")
    late.send({"t": "sub", "id": 1, "ch": "alpha"})
    assert (await late.recv())["t"] == "ack"
    current = await late.recv()
    assert current["t"] == "state" and current["seq"] == 2  # the latest, from the stream
    # A third hub, started now, serves the same latest state and continues the numbering.
    c = await nats_hub("c")
    provider_c = await logged_in(c, "alice")
    provider_c.send({**state_frame(n=3), "id": 9, "takeover": True})
    assert (await provider_c.recv())["seq"] == 3
    assert (await next_of(early, "state"))["seq"] == 3


async def test_hop_stamps_of_a_state_from_another_hub_keep_only_this_hubs_fan_out(
    nats_hub: StartHub,
) -> None:
    """The provider's and the receiving hub's stamps are on that hub's clock: a hub that only
    fans a state out leaves them unknown (0) rather than mixing clocks (docs/latency.md)."""
    a, b = await nats_hub("a"), await nats_hub("b")
    on_a, on_b = await logged_in(a, "bob"), await logged_in(b, "bob")
    for raw in (on_a, on_b):
        raw.send({"t": "sub", "id": 1, "ch": "alpha"})
        assert (await raw.recv())["t"] == "ack"
    provider = await logged_in(a, "alice")
    provider.send({**state_frame(n=1), "id": 1, "det_us": 1})
    assert (await provider.recv())["t"] == "ack"
    here, there = (await next_of(on_a, "state"))["hops"], (await next_of(on_b, "state"))["hops"]
    assert here[0] == 1 and 1 < here[1] <= here[2], here  # detected, received, fanned out
    assert there[:2] == [0, 0] and there[2] > 0, there


async def test_a_topic_first_published_on_another_hub_reaches_prefix_subscribers(
    nats_hub: StartHub,
) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    reader = await logged_in(b, "bob")
    reader.send({"t": "sub", "id": 1, "topics": ["px.*"]})
    assert (await reader.recv())["t"] == "ack"
    writer = await logged_in(a, "alice")
    writer.send({"t": "topic_pub", "id": 2, "topic": "px.EURUSD", "value": {"bid": 1.1}})
    assert (await writer.recv())["t"] == "ack"
    got = await next_of(reader, "topic")
    assert got["topic"] == "px.EURUSD" and got["value"] == {"bid": 1.1} and got["seq"] == 1


async def test_a_hub_cut_off_from_nats_sends_its_clients_away(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    hub = await nats_hub("a", lost_after_s=0.5)
    follower = await logged_in(hub, "bob")
    nats_server.kill()
    assert await next_of(follower, "bye") == {"t": "bye", "reason": "bus_unavailable"}
    refused = await Raw.connect(hub)
    line = await asyncio.wait_for(refused.reader.readline(), 5)
    assert msgspec.json.decode(line) == {"t": "bye", "reason": "bus_unavailable"}


async def test_a_hub_whose_nats_is_not_there_refuses_to_start(tmp_path: Path) -> None:
    config = make_config(nats=NatsSettings(servers=["nats://127.0.0.1:1"], connect_timeout_s=1))
    hub = Hub(config, users(tmp_path / "x"))
    with pytest.raises(ConfigError, match=r"nats\.servers: .*nats-server running"):
        await hub.start()


async def wrong_login(hub: Hub) -> None:
    raw = await Raw.connect(hub)
    refused = await raw.login("bob", "not the password")
    assert refused["code"] == "auth_failed", refused
    raw.close()


async def test_wrong_passwords_spread_over_three_hubs_ban_on_all_and_a_lift_reaches_all(
    nats_hub: StartHub, tmp_path: Path
) -> None:
    hubs = [await nats_hub(name) for name in "abc"]
    for hub in (hubs[0], hubs[0], hubs[1], hubs[1], hubs[2]):  # 5 = ban.max_failures
        await wrong_login(hub)
        await asyncio.sleep(0.05)  # the other hubs hear of it (well within the 2 s promised)
    await asyncio.sleep(0.5)
    for hub in hubs:
        raw = await Raw.connect(hub)
        refused = msgspec.json.decode(await asyncio.wait_for(raw.reader.readline(), 5))
        assert refused["code"] == "banned", (hub.addresses, refused)
    # A hub started now knows the ban from the bus, and so does its data directory.
    late = await nats_hub("d")
    assert late.auth.bans.retry_after("127.0.0.1") is not None
    # `tradewire ban lift` on one hub's data directory lifts it on every hub.
    db = StateDB(tmp_path / "b")
    try:
        assert db.lift_ban("127.0.0.1", int(time.time() * 1000), by="test")
    finally:
        db.close()
    deadline = time.monotonic() + 15  # the hub reads its database every 5 s
    while any(h.auth.bans.retry_after("127.0.0.1") is not None for h in [*hubs, late]):
        assert time.monotonic() < deadline, "the lift did not reach every hub"
        await asyncio.sleep(0.2)
    for hub in hubs:
        assert (await (await Raw.connect(hub)).login("bob"))["t"] == "welcome"


async def test_live_ticks_stored_on_one_hub_reach_subscribers_on_another(
    nats_hub: StartHub,
) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    watcher = await logged_in(b, "bob")
    watcher.send({"t": "sub", "id": 1, "ticks": ["EURUSD"]})
    assert (await watcher.recv())["t"] == "ack"
    feeder = await logged_in(a, "alice")
    rows = [["EURUSD", 1_700_000_000_000, 1.1, 1.1002], ["GBPUSD", 1_700_000_000_001, 1.3, 1.31]]
    feeder.send({"t": "ticks", "id": 5, "rows": rows})
    assert await feeder.recv() == {"t": "ack", "re": 5, "n": 2}
    got = await next_of(watcher, "ticks")
    assert got["rows"] == [["EURUSD", 1_700_000_000_000, 1.1, 1.1002, None, None]]


async def test_the_relay_reaches_a_listener_on_another_hub(nats_hub: StartHub) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    term = await logged_in(b, "term")
    term.send({"t": "listen", "id": 1, "name": "term"})
    assert await term.recv() == {"t": "ack", "re": 1}
    await asyncio.sleep(0.2)  # hub A hears who listens where
    bob = await logged_in(a, "bob")
    bob.send({"t": "relay", "id": 2, "to": "term", "body": {"n": 1}})
    assert await bob.recv() == {"t": "ack", "re": 2}  # handed to term's connection, on hub B
    assert await term.recv() == {"t": "relay_in", "from": "bob", "to": "term", "body": {"n": 1}}
    for n in range(3):  # requests, answered in order
        bob.send({"t": "relay", "id": 10 + n, "to": "term", "body": {"q": n}, "reply": True})
    for n in range(3):
        asked = await term.recv()
        assert asked["body"] == {"q": n}
        term.send({"t": "reply", "rid": asked["rid"], "body": {"a": n}})
    for n in range(3):
        assert await bob.recv() == {"t": "relayed", "from": "term", "body": {"a": n}, "re": 10 + n}
    # The listener leaves while a request waits: the sender hears it went away.
    bob.send({"t": "relay", "id": 20, "to": "term", "body": {}, "reply": True})
    assert (await term.recv())["t"] == "relay_in"
    term.close()
    gone = await bob.recv()
    assert gone["t"] == "error" and gone["code"] == "unreachable" and gone["re"] == 20


async def test_the_latest_listener_wins_across_hubs(nats_hub: StartHub) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    old = await logged_in(b, "term")
    old.send({"t": "listen", "id": 1, "name": "term"})
    assert (await old.recv())["t"] == "ack"
    await asyncio.sleep(0.2)
    new = await logged_in(a, "term")  # a terminal that reconnected through another hub
    new.send({"t": "listen", "id": 1, "name": "term"})
    assert (await new.recv())["t"] == "ack"
    taken = await old.recv()
    assert taken["t"] == "error" and taken["code"] == "name_taken", taken
    bob = await logged_in(b, "bob")  # a sender on the old listener's hub reaches the new one
    bob.send({"t": "relay", "id": 3, "to": "term", "body": {"x": 1}})
    assert await bob.recv() == {"t": "ack", "re": 3}
    assert (await new.recv())["body"] == {"x": 1}


async def test_users_and_their_changes_reach_every_hub(nats_hub: StartHub, tmp_path: Path) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    # `tradewire user add` on hub A's data directory only, while both run.
    add_user(tmp_path / "a", "dave", "follower", ["alpha"])
    deadline = time.monotonic() + 10
    while b.store.get_user("dave") is None:
        assert time.monotonic() < deadline, "dave did not reach hub B"
        await asyncio.sleep(0.1)
    dave_on_b = await logged_in(b, "dave")  # the same password works on hub B
    dave_on_a = await logged_in(a, "dave")
    # Disabled through hub B's data directory: cut off on both hubs.
    db = StateDB(tmp_path / "b")
    try:
        db.change_user("dave", 0, "user_disable", by="test", disabled=True)
    finally:
        db.close()
    for session in (dave_on_a, dave_on_b):
        assert await next_of(session, "bye") == {"t": "bye", "reason": "revoked"}
    refused = await Raw.connect(a)
    assert (await refused.login("dave"))["code"] == "auth_failed"
    # A hub that joins now, with an empty data directory, knows every user.
    c = await nats_hub("c", empty=True)
    assert c.store.get_user("dave") is not None and c.store.get_user("alice") is not None
    log = await c.store.audit_log(20, event="user_sync")
    assert any(row[2] == "dave" for row in log)


async def test_the_crowd_counts_contributions_made_on_every_hub(nats_hub: StartHub) -> None:
    fast = SentimentSettings(interval_s=0.05, min_contributors=3)
    a, b = await nats_hub("a", sentiment=fast), await nats_hub("b", sentiment=fast)
    watcher = await logged_in(b, "bob")
    watcher.send({"t": "sub", "sentiment": ["EURUSD"], "id": 1})
    assert (await watcher.recv())["t"] == "ack"
    clients = []
    for hub, user, long in ((a, "alice", 0.5), (a, "term", 0.25), (b, "bob", 1.0)):
        raw = watcher if user == "bob" else await logged_in(hub, user)
        raw.send({"t": "sentiment_put", "symbol": "EURUSD", "long": long, "short": 0.0,
                  "long_price": 1.1, "short_price": 0.0, "id": 2})  # fmt: skip
        assert (await next_of(raw, "ack"))["re"] == 2
        clients.append(raw)
    while (row := (await next_of(watcher, "sentiment"))["rows"]) and row[0].get("withheld"):
        pass  # until the third contributor is counted
    assert row[0]["contributors"] == 3 and row[0]["long_volume"] == 1.75
    clients[0].close()  # alice's session on hub A ends: under three contributors again
    while not (row := (await next_of(watcher, "sentiment"))["rows"]) or not row[0].get("withheld"):
        pass
    assert row == [{"symbol": "EURUSD", "withheld": True}]


async def seq_reaches(client: HubClient, seq: int, within_s: float) -> None:
    async with asyncio.timeout(within_s):
        async for state in client.updates():
            if state.seq >= seq:
                return


async def test_a_client_of_a_hub_partitioned_from_nats_moves_to_one_that_is_not(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    """Hub A reaches NATS through a proxy that is then cut: A alone is partitioned. Its
    follower is told (bye bus_unavailable), moves to hub B and gets the state published since,
    rather than following a channel that has silently stopped."""
    proxy = await FaultProxy.start("127.0.0.1", nats_server.port)
    a = await nats_hub("a", servers=[f"nats://127.0.0.1:{proxy.port}"], lost_after_s=0.5)
    b = await nats_hub("b")
    provider = await logged_in(b, "alice")
    provider.send({**state_frame(n=1), "id": 1})
    assert (await provider.recv())["seq"] == 1
    (host_a, port_a), (host_b, port_b) = a.addresses[0], b.addresses[0]
    follower = HubClient(host_a, port_a, "bob", PASSWORD, fallbacks=[(host_b, port_b)])
    await follower.start()
    try:
        await follower.subscribe("alpha")
        await seq_reaches(follower, 1, 5)
        await proxy.close()  # hub A is cut off from NATS; hub B is not
        provider.send({**state_frame(n=2), "id": 2})
        assert (await provider.recv())["seq"] == 2
        await seq_reaches(follower, 2, 15)
        assert (follower.host, follower.port) == (host_b, port_b)
        connected = [h.snapshot()["tradewire_nats_connected"][()] for h in (a, b)]
        assert connected == [0.0, 1.0]  # what an operator's dashboard shows
    finally:
        await follower.close()


async def test_a_kick_through_one_hub_closes_the_users_sessions_on_every_hub(
    nats_hub: StartHub,
) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    on_a, on_b = await logged_in(a, "bob"), await logged_in(b, "bob")
    admin = await logged_in(a, "root")
    admin.send({"t": "kick", "id": 1, "user": "bob"})
    assert await next_of(admin, "ack") == {"t": "ack", "re": 1, "n": 1}  # hub A's own
    for session in (on_a, on_b):
        assert await next_of(session, "bye") == {"t": "bye", "reason": "kicked"}


async def test_a_state_refused_while_nats_is_away_is_sent_again_until_stored(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    """NATS gone for a moment (a restart; in a cluster, a leader election): the hub answers
    `internal`, and the provider's client sends the state again until it is stored."""
    hub = await nats_hub("a", lost_after_s=30, publish_timeout_s=0.3)
    host, port = hub.addresses[0]
    async with HubClient(host, port, "alice", PASSWORD) as provider:
        account = Account(login="1", currency="USD", balance=1.0, equity=1.0, leverage=100,
                          mode="hedging")  # fmt: skip
        assert await provider.publish_state("alpha", account, [], ts=1) == 1
        nats_server.kill()
        publishing = asyncio.create_task(provider.publish_state("alpha", account, [], ts=2))
        await asyncio.sleep(1.0)  # refused a few times meanwhile
        assert not publishing.done()
        nats_server.start()  # the same store: what was acknowledged is still there
        # 2, or 3 when a try NATS took just as the hub gave up on it was stored too: a state is
        # the whole truth, so storing it twice does no harm.
        assert await asyncio.wait_for(publishing, 20) in (2, 3)


async def test_garbage_from_a_buggy_hub_is_dropped_and_the_hub_goes_on(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    """Every event another hub may send, malformed: each is dropped (logged), nothing changes,
    and the hub still serves."""
    hub = await nats_hub("a")
    other = await nats.connect(nats_server.url)
    try:
        for kind in ("login_failed", "ticks", "relay", "relay_back", "sentiment_put",
                     "sentiment_forget", "kick"):  # fmt: skip
            await other.publish(f"tw.event.{kind}", b"\xff{not json", headers={"Tw-Hub": "bad"})
            await other.publish(
                f"tw.to.{hub.parts.bus.name}.{kind}", b"[1,2", headers={"Tw-Hub": "x"}
            )
        await other.flush()
    finally:
        await other.close()
    await asyncio.sleep(0.3)
    assert hub.auth.bans.active() == []
    bob = await logged_in(hub, "bob")
    bob.send({"t": "ping", "id": 1})
    assert (await next_of(bob, "pong")).items() >= {"t": "pong", "re": 1}.items()


async def test_a_request_to_a_listener_whose_hub_died_ends_unreachable(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    """The bus says `term` listens on a hub that is gone (it died before saying otherwise):
    the sender's hub answers `unreachable` once the request's timeout and a grace have passed."""
    hub = await nats_hub("a")
    ghost = NatsBus([nats_server.url], lambda _s, line: msgspec.json.decode(line), name="ghost")
    await ghost.start()
    try:
        claimed: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        ghost.publish("relay:term", lambda _seq: ("ghost", b'"ghost"\n'), claimed.set_result)
        assert isinstance(await claimed, Message)
    finally:
        await ghost.close()
    await asyncio.sleep(0.2)
    bob = await logged_in(hub, "bob")
    started = time.monotonic()
    bob.send({"t": "relay", "id": 5, "to": "term", "body": {}, "reply": True, "timeout_ms": 300})
    gone = await next_of(bob, "error")
    assert gone["code"] == "unreachable" and gone["re"] == 5, gone
    assert 2.0 <= time.monotonic() - started < 6  # its 0.3 s timeout, then the 2 s grace


async def test_hubs_reach_nats_over_tls_and_refuse_a_certificate_they_do_not_trust(
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_path, key_path, ca_path = (tmp_path / n for n in ("nats.pem", "nats.key", "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    server = NatsServer(tmp_path / "nats", tls=(cert_path, key_path))
    server.start()
    url = f"tls://127.0.0.1:{server.port}"
    try:
        untrusting = make_config(nats=NatsSettings(servers=[url], connect_timeout_s=2))
        with pytest.raises(
            ConfigError, match=r"nats\.servers: NATS at tls:.*CERTIFICATE_VERIFY_FAILED"
        ):
            await Hub(untrusting, users(tmp_path / "a")).start()
        trusting = make_config(nats=NatsSettings(servers=[url], ca_file=str(ca_path)))
        hub = Hub(trusting, users(tmp_path / "b"))
        await hub.start()
        try:
            provider = await logged_in(hub, "alice")
            provider.send({**state_frame(n=1), "id": 1})
            assert await provider.recv() == {"t": "ack", "re": 1, "seq": 1}  # stored in NATS
        finally:
            await hub.stop()
    finally:
        server.stop()
