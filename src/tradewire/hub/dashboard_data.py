"""What the dashboard shows, read from a running hub once a second (docs/operations.md).
Plain data (JSON-ready); nothing here writes."""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

import msgspec

from tradewire.clock import now_ms
from tradewire.protocol.messages import LATENCY_EDGES_MS
from tradewire.protocol.ticks import TickRow

if TYPE_CHECKING:
    from tradewire.hub.job_queue import Job
    from tradewire.hub.server import Hub
    from tradewire.hub.shared_jobs import JobRecord

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


def snapshot(hub: Hub, ticks: TickWatch) -> dict[str, Any]:
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
        "fanout": dict(hub.snapshot()["tradewire_publish_fanout_seconds"]),
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
        "sentiment": [msgspec.to_builtins(r) for r in hub.sentiment.book.visible()],
        "topics": _topics(hub),
        "jobs": [
            {
                "job": j.id,
                "owner": j.owner,
                "fn": j.fn,
                "n": j.n,
                "done": j.done,
                "failed": j.failed,
                "status": j.status,
            }
            for j in _recent_jobs(hub)
        ],
    }


def _channels(hub: Hub, now: int) -> list[dict[str, Any]]:
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


def _sessions(hub: Hub) -> list[dict[str, Any]]:
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


def _counters(hub: Hub) -> dict[str, Any]:
    snap = hub.snapshot()

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


def _topics(hub: Hub) -> list[dict[str, Any]]:
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


def _recent_jobs(hub: Hub) -> list[Job | JobRecord]:
    """The last 20 jobs (this hub's queue, or with NATS every hub's)."""
    jobs: list[Job | JobRecord] = list(hub.jobs.queue.jobs.values())
    return jobs[-20:]
