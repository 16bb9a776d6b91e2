"""The sentiment service on a real hub: totals equal a reference computed from the
contributions (also after a logout and a TTL), the privacy threshold, the article listener."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Raw, add_user, logged_in, make_config, state_frame
from tradewire.config import ListenerSettings, SentimentListenerSettings, SentimentSettings
from tradewire.hub.server import Hub

FAST = SentimentSettings(interval_s=0.05, min_contributors=3)


def reference(contributions: dict[str, dict[str, float]]) -> dict[str, Any]:
    """What the figures must be, computed the plain way from what each user sent."""
    long = sum(c["long"] for c in contributions.values())
    short = sum(c["short"] for c in contributions.values())
    long_w = sum(c["long"] * c["long_price"] for c in contributions.values())
    short_w = sum(c["short"] * c["short_price"] for c in contributions.values())
    return {
        "symbol": "EURUSD",
        "long_volume": round(long, 8),
        "short_volume": round(short, 8),
        "long_pct": round(100 * long / (long + short), 2),
        "short_pct": round(100 * short / (long + short), 2),
        "long_positions": sum(int(c["long"] > 0) for c in contributions.values()),
        "short_positions": sum(int(c["short"] > 0) for c in contributions.values()),
        "contributors": len(contributions),
        "long_price": round(long_w / long, 8),
        "short_price": round(short_w / short, 8),
    }


async def hub_with_users(data_dir: Path, **sections: Any) -> Hub:
    for name in ("dave", "erin"):
        add_user(data_dir, name, "follower", ["alpha"])
    hub = Hub(make_config(sentiment=sections.pop("sentiment", FAST), **sections), data_dir)
    await hub.start()
    return hub


async def next_rows(raw: Raw) -> list[dict[str, Any]]:
    while True:
        frame = await raw.recv()
        if frame["t"] == "sentiment":
            return list(frame["rows"])


async def test_totals_match_the_contributions_through_logouts_and_ttls(data_dir: Path) -> None:
    hub = await hub_with_users(data_dir)
    try:
        watcher = await logged_in(hub, "root")
        watcher.send({"t": "sub", "sentiment": ["EURUSD"], "id": 1})
        assert (await watcher.recv())["t"] == "ack"
        assert await next_rows(watcher) == []  # the snapshot: nothing to show yet
        sent: dict[str, dict[str, float]] = {}
        clients: dict[str, Raw] = {}
        for user, long, short in [("alice", 0.5, 0.0), ("bob", 0.2, 1.0), ("dave", 0.0, 0.3)]:
            put = {"long": long, "short": short, "long_price": 1.1 + long, "short_price": 1.2}
            clients[user] = await logged_in(hub, user)
            clients[user].send({"t": "sentiment_put", "symbol": "EURUSD", **put, "id": 2})
            assert (await clients[user].recv())["t"] == "ack"
            sent[user] = put
        (row,) = await next_rows(watcher)
        assert row == reference(sent)
        # The latest contribution of a user counts, not the sum of all it sent.
        sent["alice"] = {"long": 2.0, "short": 0.0, "long_price": 1.3, "short_price": 1.2}
        clients["alice"].send({"t": "sentiment_put", "symbol": "EURUSD", **sent["alice"]})
        assert await next_rows(watcher) == [reference(sent)]
        # Under the minimum of three: withheld, so nobody can read one account back.
        clients["dave"].close()
        assert await next_rows(watcher) == [{"symbol": "EURUSD", "withheld": True}]
        erin = await logged_in(hub, "erin")
        sent["erin"] = {"long": 0.0, "short": 0.4, "long_price": 0.0, "short_price": 1.25}
        erin.send({"t": "sentiment_put", "symbol": "EURUSD", **sent["erin"], "ttl_s": 0.3})
        del sent["dave"]
        assert await next_rows(watcher) == [reference(sent)]
        assert await next_rows(watcher) == [{"symbol": "EURUSD", "withheld": True}]  # TTL
    finally:
        await hub.stop()


@pytest.mark.parametrize(
    ("frame", "says"),
    [
        ({"symbol": "EUR USD", "long": 1}, "invalid symbol"),
        ({"symbol": "EURUSD", "long": -1}, "Expected `float` >= 0"),
        ({"symbol": "EURUSD", "long": 2e9}, "<= 1000000000.0"),
        ({"symbol": "EURUSD", "long_n": 2.5}, "Expected `int | null`"),
        ({"symbol": "EURUSD", "ttl_s": 0}, "> 0"),
    ],
)
async def test_bad_contributions_are_refused_and_change_nothing(
    data_dir: Path, frame: dict[str, Any], says: str
) -> None:
    hub = await hub_with_users(data_dir)
    try:
        alice = await logged_in(hub, "alice")
        alice.send({"t": "sentiment_put", **frame, "id": 5})
        refused = await alice.recv()
        assert (refused["code"], refused["re"]) == ("bad_frame", 5) and says in refused["msg"]
        assert hub.parts.sentiment.book.symbols_of("alice") == []
    finally:
        await hub.stop()


async def test_a_flood_of_contributions_is_rate_limited(data_dir: Path) -> None:
    hub = await hub_with_users(data_dir, sentiment=SentimentSettings(rate_per_s=5, burst=10))
    try:
        alice = await logged_in(hub, "alice")
        for n in range(30):
            alice.send({"t": "sentiment_put", "symbol": "EURUSD", "long": n / 10, "id": n})
        answers = [await alice.recv() for _ in range(30)]
        limited = [a for a in answers if a.get("code") == "rate_limited"]
        assert 15 <= len(limited) < 30 and all(a["retry_after_s"] > 0 for a in limited)
    finally:
        await hub.stop()


async def test_providers_states_count_when_configured(data_dir: Path) -> None:
    settings = SentimentSettings(interval_s=0.05, min_contributors=1, from_states=True)
    hub = await hub_with_users(data_dir, sentiment=settings)
    try:
        watcher = await logged_in(hub, "bob")
        watcher.send({"t": "sub", "sentiment": ["*"], "id": 1})
        await watcher.recv()
        assert await next_rows(watcher) == []
        alice = await logged_in(hub, "alice")
        alice.send(state_frame("alpha", 1, positions=2))
        assert (await alice.recv())["t"] == "ack"
        rows = await next_rows(watcher)
        assert rows and all(r["contributors"] == 1 for r in rows)
    finally:
        await hub.stop()


async def test_the_article_listener_answers_totals(data_dir: Path) -> None:
    listeners = ListenerSettings(
        sentiment=SentimentListenerSettings(enabled=True, port=0, allow=["127.0.0.0/8"])
    )
    hub = await hub_with_users(data_dir, listeners=listeners)
    try:
        port = hub.sentiment_listener._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        clients = []
        for n, volume in enumerate(["0.50", "-0.20", "1.00"], start=2):
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(f"127.0.0.{n}", 0)
            )
            writer.write(f"<<EURUSD|{volume}>>".encode())
            clients.append((reader, writer))
        reader, _ = clients[-1]
        assert await asyncio.wait_for(reader.read(100), 2) == b"<<EURUSD|1.30>>"
        outsider = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.0.0.1", 0))
        outsider[1].write(b"<<EURUSD|garbage>><<GBPUSD|0.1>>")  # garbage is skipped
        assert await asyncio.wait_for(outsider[0].read(100), 2) == b"<<EURUSD|1.30>>"
    finally:
        await hub.stop()
