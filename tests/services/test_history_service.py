"""The history service's limits, driven without a hub (fakes.py) over the real history.db: a
provider changing its positions as fast as it can leaves the channel within its moments and
bytes (and a tenth, the pruning's step), and however many ask at once, figures are computed at
most MAX_COMPUTING at a time."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import msgspec
import pytest

from tests.services.fakes import AuditSink, FakeSession
from tradewire.clock import ManualClock
from tradewire.config import HistorySettings
from tradewire.hub.audit import Auditor
from tradewire.hub.events import StateStored
from tradewire.hub.services.history import service as history_service
from tradewire.hub.services.history.service import MAX_COMPUTING, HistoryService
from tradewire.model import Account, Deal, Position, UserRecord
from tradewire.protocol.frames.history import PutDeals
from tradewire.protocol.messages import StateUpdate
from tradewire.stats.channel import channel_stats
from tradewire.store.history import HistoryStore

ACCOUNT = Account("5012345", "USD", 10_000.0, 10_000.0, 100, "hedging")


def state(n: int, positions: int) -> StateUpdate:
    held = [
        Position(f"{n}-{i}", "EURUSD", "buy", 0.01 * (i + 1), 1.1, 1_700_000_000_000)
        for i in range(positions)
    ]
    return StateUpdate(ch="alpha", seq=n, ts=n, account=ACCOUNT, positions=held)


async def make(tmp_path: Path, settings: HistorySettings) -> tuple[HistoryService, HistoryStore]:
    store = HistoryStore(tmp_path, asyncio.get_running_loop())
    store.start()
    loop = asyncio.get_running_loop()
    service = HistoryService(
        settings,
        store,
        ManualClock(),
        Auditor(AuditSink()),
        loop.create_task,  # type: ignore[arg-type]
    )
    return service, store


async def test_a_provider_flooding_changes_stays_within_its_moments_and_bytes(
    tmp_path: Path,
) -> None:
    settings = HistorySettings(max_points_per_channel=100, max_bytes_per_channel=1 << 20)
    service, store = await make(tmp_path, settings)
    session = FakeSession("alice", "provider")
    try:
        for n in range(600):  # every state a change, 300 positions: about 36 KB a moment
            service.record(StateStored(session, state(n, 300)))
        await store.flush()

        def measure() -> tuple[int, int]:
            assert store._conn is not None
            count, size = store._conn.execute(
                "SELECT COUNT(*), SUM(64 + COALESCE(length(positions), 0)) FROM points"
            ).fetchone()
            return count, size

        count, size = await store._committer.call(measure)
        assert count <= 100 + 10  # the limit and the pruning's step
        assert count < 100 and size <= (1 << 20) * 1.1 + 40_000  # the bytes bind first
        _, points = await store.points("alpha")
        assert points[-1].positions is not None and points[-1].positions[0].id == "599-0"
    finally:
        store.stop()


async def test_figures_are_computed_a_few_at_a_time_whoever_asks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, store = await make(tmp_path, HistorySettings())
    running, most = 0, 0
    lock = threading.Lock()

    def slow(*args: object) -> object:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return channel_stats(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(history_service, "channel_stats", slow)
    try:
        service.record(StateStored(FakeSession("alice", "provider"), state(1, 1)))
        await store.flush()
        answers = await asyncio.gather(*(service.figures("alpha") for _ in range(8)))
        assert all(a is not None and a.points == 1 for a in answers)
        assert most == MAX_COMPUTING
    finally:
        store.stop()


def publisher() -> FakeSession:
    """A provider granted channel alpha."""
    session = FakeSession("alice", "provider")
    session.user = UserRecord("alice", "", "provider", ("alpha",))
    return session


def closing(ticket: str, profit: float) -> Deal:
    return Deal(ticket, "p" + ticket, "EURUSD", "sell", 0.1, 1.1, 1_700_000_000_000, 0, profit,
                "", "out", -0.7, 0.0)  # fmt: skip


async def test_deals_are_kept_once_beside_the_newest_moment(tmp_path: Path) -> None:
    settings = HistorySettings(max_deals_per_channel=100)
    service, store = await make(tmp_path, settings)
    provider = publisher()
    try:
        service.record(StateStored(provider, state(1, 1)))
        frame = PutDeals(ch="alpha", deals=[closing("1", 10), closing("2", -5)], id=7)
        service.put_deals(provider, frame)
        service.put_deals(provider, msgspec.structs.replace(frame, id=8))  # sent again
        await provider.settled()
        assert [(m["re"], m["n"]) for m in provider.sent] == [(7, 2), (8, 0)]
        _, points = await store.points("alpha")
        kept = await store.deals("alpha")
        # Placed at the state's moment on the hub's clock, not at the deals' own (2023) time.
        assert [(at, d.ticket) for at, d in kept] == [(points[-1].ts, "1"), (points[-1].ts, "2")]
        # A channel keeps its newest max_deals_per_channel.
        many = [closing(str(n), 1) for n in range(10, 310)]
        for start in range(0, 300, 100):
            service.put_deals(provider, PutDeals(ch="alpha", deals=many[start : start + 100]))
        await provider.settled()
        assert len(await store.deals("alpha")) <= 100
    finally:
        store.stop()


async def test_only_a_channels_publishers_send_its_deals(tmp_path: Path) -> None:
    sink = AuditSink()
    store = HistoryStore(tmp_path, asyncio.get_running_loop())
    store.start()
    loop = asyncio.get_running_loop()
    service = HistoryService(
        HistorySettings(),
        store,
        ManualClock(),
        Auditor(sink),
        loop.create_task,  # type: ignore[arg-type]
    )
    follower = FakeSession("bob", "follower")
    try:
        service.put_deals(follower, PutDeals(ch="alpha", deals=[closing("1", 10)], id=1))
        await follower.settled()
        assert follower.last()["code"] == "forbidden" and sink.events() == ["forbidden"]
        assert await store.deals("alpha") == []
    finally:
        store.stop()


async def test_a_flood_of_deals_frames_is_refused_with_a_retry(tmp_path: Path) -> None:
    settings = HistorySettings(deals_rate_per_s=1, deals_burst=3)
    service, store = await make(tmp_path, settings)
    provider = publisher()
    try:
        for n in range(5):
            service.put_deals(provider, PutDeals(ch="alpha", deals=[closing(str(n), 1)], id=n))
        await provider.settled()
        codes = [m.get("code", m["t"]) for m in provider.sent]
        assert codes.count("ack") == 3 and codes.count("rate_limited") == 2
        assert all(m["retry_after_s"] >= 1 for m in provider.sent if m["t"] == "error")
        assert len(await store.deals("alpha")) == 3
    finally:
        store.stop()


async def test_two_states_in_one_millisecond_are_two_moments_in_order(tmp_path: Path) -> None:
    """The hub's clock has millisecond steps; a fast provider can change twice within one. Each
    moment gets its own time, so a deal sent after the second sits beside the second."""
    service, store = await make(tmp_path, HistorySettings())
    provider = publisher()
    try:
        service.record(StateStored(provider, state(1, 1)))  # the clock does not move
        service.record(StateStored(provider, state(2, 2)))
        service.put_deals(provider, PutDeals(ch="alpha", deals=[closing("1", 5)], id=1))
        await provider.settled()
        _, points = await store.points("alpha")
        assert points[1].ts == points[0].ts + 1
        assert [at for at, _ in await store.deals("alpha")] == [points[1].ts]
    finally:
        store.stop()
