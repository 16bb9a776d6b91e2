"""The history store (store/history.py) behaves the same on both of its databases: SQLite's
history.db and PostgreSQL (``[ticks] postgres``, shared by several hubs). Moments come back
with their positions, orders, mode and leverage; a period starts with what was held; each deal
is kept once, beside the newest moment, within its quota; pruning keeps a channel within its
moments and bytes. Two stores on one PostgreSQL (two hubs) see each other's history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tradewire.exceptions import StoreError
from tradewire.model import Deal, PendingOrder, Position
from tradewire.stats.channel import Point
from tradewire.store.history import HistoryStore

Open = Callable[[], Awaitable[HistoryStore]]
HELD = (Position("1", "EURUSD", "buy", 0.5, 1.1, 1_000, sl=1.09),)
ORDERS = (PendingOrder("9", "GBPUSD", "buy_limit", 0.2, 1.25),)


def deal(ticket: str) -> Deal:
    return Deal(ticket, "1", "EURUSD", "sell", 0.5, 1.11, 5_000, 0, 50.0, "", "out", -1.0, 0.0)


@pytest.fixture(params=["sqlite", "postgres"])
async def opened(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    dsn = request.getfixturevalue("postgres") if request.param == "postgres" else ""
    stores: list[HistoryStore] = []

    async def open_store() -> HistoryStore:
        store = HistoryStore(tmp_path / f"hub{len(stores)}", asyncio.get_running_loop(), dsn)
        (tmp_path / f"hub{len(stores)}").mkdir()
        store.start()
        stores.append(store)
        return store

    yield open_store
    for store in stores:
        await asyncio.to_thread(store.stop)


async def test_moments_come_back_as_kept(opened: Open) -> None:
    store = await opened()
    store.put("alpha", "USD", Point(1_000, 10_000, 10_000, HELD, 50.0, ORDERS, "netting", 30))
    store.put("alpha", "USD", Point(2_000, 10_000, 9_990, None))  # an equity sample
    store.put("alpha", "USD", Point(3_000, 10_049, 10_049, (), 0.0, None))
    store.put("beta", "EUR", Point(1_500, 1, 1, ()))
    currency, points = await store.points("alpha")
    assert currency == "USD" and [p.ts for p in points] == [1_000, 2_000, 3_000]
    first = points[0]
    assert (first.positions, first.orders, first.mode, first.leverage) == (
        HELD,
        ORDERS,
        "netting",
        30,
    )
    assert points[1].positions is None and points[2].orders is None
    _, later = await store.points("alpha", since_ms=2_500)
    assert [p.ts for p in later] == [1_000, 3_000]  # starts with what was held at 2,500


async def test_deals_are_kept_once_beside_the_newest_moment(opened: Open) -> None:
    store = await opened()
    store.put("alpha", "USD", Point(1_000, 10_000, 10_000, HELD))
    assert await store.put_deals("alpha", [deal("7"), deal("8")], 9_999, 100) == 2
    assert await store.put_deals("alpha", [deal("8"), deal("9")], 9_999, 100) == 1
    assert [(at, d.ticket) for at, d in await store.deals("alpha")] == [
        (1_000, "7"), (1_000, "8"), (1_000, "9"),
    ]  # fmt: skip
    assert (await store.deals("alpha"))[0][1] == deal("7")
    await store.put_deals("alpha", [deal(str(n)) for n in range(10, 20)], 9_999, 5)
    assert [d.ticket for _, d in await store.deals("alpha")] == ["15", "16", "17", "18", "19"]
    assert await store.deals("beta") == []


async def test_pruning_keeps_the_newest_within_moments_and_bytes(opened: Open) -> None:
    store = await opened()
    for n in range(30):
        store.put("alpha", "USD", Point(n * 1_000, 10_000, 10_000, HELD))
    store.prune("alpha", older_than_ms=5_000, max_points=20, max_bytes=1 << 30)
    _, points = await store.points("alpha")
    assert [p.ts for p in points] == [n * 1_000 for n in range(10, 30)]
    store.prune("alpha", older_than_ms=0, max_points=1000, max_bytes=1_500)
    _, points = await store.points("alpha")
    assert 1 <= len(points) < 20 and points[-1].ts == 29_000


async def test_two_hubs_on_one_postgres_share_the_history(postgres: str, tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, two = (
        HistoryStore(tmp_path / "a", loop, postgres),
        HistoryStore(tmp_path / "b", loop, postgres),
    )
    one.start()
    two.start()
    try:
        one.put("alpha", "USD", Point(1_000, 10_000, 10_000, HELD))
        await one.flush()
        assert await two.put_deals("alpha", [deal("7")], 5_000, 100) == 1
        assert await one.put_deals("alpha", [deal("7")], 5_000, 100) == 0
        _, points = await two.points("alpha")
        assert [p.ts for p in points] == [1_000]
        assert not (tmp_path / "a" / "history.db").exists()  # nothing kept beside it
    finally:
        await asyncio.to_thread(one.stop)
        await asyncio.to_thread(two.stop)


async def test_an_unreachable_postgres_is_one_clear_error(tmp_path: Path) -> None:
    store = HistoryStore(
        tmp_path, asyncio.get_running_loop(), "postgresql://tw:s3cret@127.0.0.1:1/h"
    )
    with pytest.raises(StoreError) as caught:
        store.start()
    assert "127.0.0.1" in str(caught.value) and "s3cret" not in str(caught.value)
