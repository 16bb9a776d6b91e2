"""What the dashboard shows, read from a running hub once a second (docs/operations.md).
Plain data (JSON-ready); nothing here writes."""

from __future__ import annotations

import collections
from collections.abc import Collection
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

from tradewire.bus.base import Bus
from tradewire.clock import Clock, now_ms
from tradewire.protocol.messages import LATENCY_EDGES_MS, SentimentRow
from tradewire.protocol.ticks import TickRow

if TYPE_CHECKING:
    from tradewire.config import Config
    from tradewire.hub.audit import Auditor
    from tradewire.hub.auth import Authenticator
    from tradewire.hub.connection import Connection
    from tradewire.hub.services.channels.registry import ChannelRegistry
    from tradewire.hub.services.history.service import HistoryService
    from tradewire.hub.services.reports.service import ReportService
    from tradewire.hub.services.ticks.service import TickService
    from tradewire.hub.services.topics.service import TopicService
    from tradewire.metrics import Metrics
    from tradewire.store.state import StateStore


class JobSummaries(Protocol):
    def summaries(self, most: int = 20) -> list[dict[str, Any]]: ...


class Crowd(Protocol):
    def visible(self) -> list[SentimentRow]: ...


class DashboardHost(Protocol):
    """What the dashboard reads and does of the hub: its parts, each asked what it shows."""

    @property
    def clock(self) -> Clock: ...
    @property
    def bus(self) -> Bus: ...
    @property
    def channels(self) -> ChannelRegistry: ...
    @property
    def connections(self) -> Collection[Connection]: ...
    @property
    def auth(self) -> Authenticator: ...
    @property
    def auditor(self) -> Auditor: ...
    @property
    def store(self) -> StateStore: ...
    @property
    def reports(self) -> ReportService: ...
    @property
    def ticks(self) -> TickService: ...
    @property
    def topics(self) -> TopicService: ...
    @property
    def sentiment(self) -> Crowd: ...
    @property
    def jobs(self) -> JobSummaries: ...

    @property
    def metrics(self) -> Metrics: ...
    @property
    def history(self) -> HistoryService: ...
    @property
    def config(self) -> Config: ...


PRICE_POINTS = 600  # per symbol, for the price chart


class TickWatch:
    """A TickService observer: stored ticks per symbol, and the latest bids for a chart."""

    def __init__(self) -> None:
        self.counts: collections.Counter[str] = collections.Counter()
        self.prices: dict[str, collections.deque[tuple[int, float]]] = {}

    def on_ticks(self, rows: list[TickRow]) -> None:
        for row in rows:
            self.counts[row[0]] += 1
            series = self.prices.get(row[0])
            if series is None:
                series = self.prices[row[0]] = collections.deque(maxlen=PRICE_POINTS)
            series.append((row[1], row[2]))


def snapshot(hub: DashboardHost, ticks: TickWatch) -> dict[str, Any]:
    now = now_ms(hub.clock)
    return {
        "ts": now,
        "channels": _channels(hub, now),
        "sessions": _sessions(hub),
        "followers": hub.reports.followers(),
        "latency_edges_ms": list(LATENCY_EDGES_MS),
        "bans": [
            {"address": b.address, "until_ms": b.until_ms, "offenses": b.offenses}
            for b in hub.auth.bans.active()
        ],
        "counters": _counters(hub),
        "fanout": dict(hub.metrics.snapshot()["tradewire_publish_fanout_seconds"]),
        "ticks": {
            "stored": dict(ticks.counts),
            "prices": {s: list(p) for s, p in ticks.prices.items()},
            "listeners": [
                {
                    "name": c.name,
                    "received": c.received,
                    "malformed": c.malformed,
                    "kernel_drops": c.kernel_drops,
                }
                for c in hub.ticks.listeners
            ],
        },
        "sentiment": [msgspec.to_builtins(r) for r in hub.sentiment.visible()],
        "topics": _topics(hub),
        "jobs": hub.jobs.summaries(20),  # this hub's, or with NATS every hub's
    }


def _channels(hub: DashboardHost, now: int) -> list[dict[str, Any]]:
    out = []
    for channel in hub.channels.all():
        latest = hub.bus.latest(channel.name)
        out.append(
            {
                "name": channel.name,
                "publisher": channel.publisher_key[0] if channel.publisher is not None else "",
                "account": channel.publisher_key[1] if channel.publisher is not None else "",
                "seq": latest.seq if latest else 0,
                "age_s": round((now - latest.value.ts) / 1000, 1) if latest else None,
                "subscribers": hub.bus.subscribers(channel.name),
            }
        )
    return out


def _sessions(hub: DashboardHost) -> list[dict[str, Any]]:
    return sorted(
        (
            {
                "session": c.session_id,
                "user": c.user.name,
                "role": c.user.role,
                "address": c.address,
                "since_ms": c.since_ms,
                "agent": c.agent,
            }
            for c in hub.connections
            if c.user is not None
        ),
        key=lambda s: (s["user"], s["since_ms"]),
    )


def _counters(hub: DashboardHost) -> dict[str, Any]:
    snap = hub.metrics.snapshot()

    def total(name: str) -> float:
        return float(sum(snap.get(name, {}).values()))

    logins = snap.get("tradewire_logins_total", {})
    return {
        "connections": total("tradewire_connections"),
        "logins_ok": logins.get(("ok",), 0),
        "logins_failed": logins.get(("failed",), 0),
        "logins_banned": logins.get(("banned",), 0),
        "bans": total("tradewire_bans_total"),
        "frames": total("tradewire_frames_total"),
        "states": total("tradewire_states_total"),
        "slow_consumers": total("tradewire_slow_consumers_total"),
        "tick_rows_stored": total("tradewire_tick_rows_stored_total"),
    }


def _topics(hub: DashboardHost) -> list[dict[str, Any]]:
    out = []
    for topic in sorted(hub.topics.known)[:50]:
        latest = hub.bus.latest(f"topic:{topic}")
        if latest is not None:
            out.append(
                {
                    "topic": topic,
                    "seq": latest.seq,
                    "value": msgspec.json.decode(latest.value.value),
                }
            )
    return out
