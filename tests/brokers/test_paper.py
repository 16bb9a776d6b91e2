"""The paper broker: the conformance suite, then what is particular to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.brokers.conformance import *  # noqa: F403  (the shared suite runs here)
from tests.brokers.conformance import BrokerFactory
from tradewire.brokers.base import OrderRequest
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.brokers.paper.feed import ReplayFeed, SeededFeed
from tradewire.brokers.symbols import resolve
from tradewire.exceptions import OrderRejected


@pytest.fixture
async def broker_factory(tmp_path: Path) -> AsyncIterator[BrokerFactory]:
    brokers: list[PaperBroker] = []

    async def make(mode: str, **settings: object) -> PaperBroker:
        path = tmp_path / f"paper-{len(brokers)}.db"
        broker = await PaperBroker.open(path, PaperSettings(mode=mode, **settings))  # type: ignore[arg-type]
        brokers.append(broker)
        return broker

    yield make  # type: ignore[misc]
    for broker in brokers:
        await broker.close()


async def test_positions_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "acct.db"
    broker = await PaperBroker.open(path, PaperSettings(mode="hedging", balance=5000))
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.2, comment="tw:9"))
    before = await broker.positions()
    await broker.close()
    again = await PaperBroker.open(path, PaperSettings(mode="netting", balance=1))
    assert again.mode == "hedging"  # an existing account keeps its settings
    assert await again.positions() == before
    assert (await again.account()).balance == 5000
    await again.close()


async def test_realised_profit_reaches_the_balance(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory("netting")
    await broker.market_order(OrderRequest("EURUSD", "buy", 1.0))
    await broker.market_order(OrderRequest("EURUSD", "sell", 1.0))
    account = await broker.account()
    # Round trip at the ask then the bid: the spread (about 1 pip = $10 per lot) is lost.
    assert -20 < account.balance - 10_000 < 0 and account.margin == 0


async def test_margin_is_enforced(broker_factory: BrokerFactory) -> None:
    # At leverage 10 one 0.01-lot EURUSD position needs about $108 of margin.
    broker = await broker_factory("netting", balance=200.0, leverage=10)  # type: ignore[call-arg]
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.01))
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.01))
    assert caught.value.reason == "no_money" and caught.value.retryable
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.01))  # reducing always works
    assert await broker.positions() == []


async def test_market_closed_requotes_latency_and_slippage(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "a.db", PaperSettings(market_closed=True))
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert caught.value.reason == "market_closed" and caught.value.retryable
    broker.configure(market_closed=False, requote_probability=1.0)
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert caught.value.reason == "requote"
    broker.configure(requote_probability=0.0, latency_ms=50, slippage_points=20)
    quote = await broker.quote("EURUSD")
    started = asyncio.get_running_loop().time()
    fill = await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert asyncio.get_running_loop().time() - started >= 0.045
    assert quote.ask - 0.0001 <= fill.price <= quote.ask + 0.0003
    log = await broker.order_log()
    assert [(r.status, r.reason) for r in log] == [
        ("rejected", "market_closed"),
        ("rejected", "requote"),
        ("filled", None),
    ]
    await broker.close()


async def test_suffix_symbols(tmp_path: Path) -> None:
    broker = await PaperBroker.open(tmp_path / "m.db", PaperSettings(suffix=".m"))
    assert await broker.symbol("EURUSD") is None
    spec = await broker.symbol("EURUSD.m")
    assert spec is not None and spec.name == "EURUSD.m"
    fill = await broker.market_order(OrderRequest("EURUSD.m", "sell", 0.1))
    assert fill.symbol == "EURUSD.m"
    with pytest.raises(OrderRejected):
        await broker.market_order(OrderRequest("EURUSD", "sell", 0.1))
    await broker.close()
    again = await PaperBroker.open(tmp_path / "m.db")  # the suffix belongs to the account
    assert (await again.account()).equity > 0 and await again.symbol("EURUSD.m") is not None
    await again.close()


async def test_order_log_records_fills_and_rejections(broker_factory: BrokerFactory) -> None:
    broker = await broker_factory("hedging")
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, comment="tw:1"))
    with pytest.raises(OrderRejected):
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.015))
    log = await broker.order_log()  # type: ignore[attr-defined]
    assert [(r.status, r.reason, r.comment) for r in log] == [
        ("filled", None, "tw:1"),
        ("rejected", "volume_step", ""),
    ]


async def test_changes_made_by_another_process_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    watcher = await PaperBroker.open(path)
    writer = await PaperBroker.open(path)
    changes = watcher.changes()
    waiter = asyncio.ensure_future(anext(changes))
    await writer.market_order(OrderRequest("EURUSD", "buy", 0.1))
    await asyncio.wait_for(waiter, 2)
    assert len(await watcher.positions()) == 1
    await writer.close()
    await watcher.close()


def test_seeded_feed_is_deterministic_and_plausible() -> None:
    spec = resolve("XAUUSD")
    assert spec is not None
    a, b = SeededFeed(3), SeededFeed(3)
    quotes = [a.quote(spec, "XAUUSD", 1_700_000_000_000 + i * 250) for i in range(400)]
    assert quotes == [b.quote(spec, "XAUUSD", 1_700_000_000_000 + i * 250) for i in range(400)]
    mids = [(q.bid + q.ask) / 2 for q in quotes if q]
    assert all(2200 < m < 2500 for m in mids)
    assert len(set(mids)) > 100  # it moves
    assert SeededFeed(4).quote(spec, "XAUUSD", 1_700_000_000_000) != quotes[0]


def test_replay_feed_plays_an_mt5_export(tmp_path: Path) -> None:
    csv = tmp_path / "EURUSD.csv"
    csv.write_text(
        "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
        "2024.01.02\t00:00:00.000\t1.10410\t1.10420\t\t\t6\n"
        "2024.01.02\t00:00:01.000\t1.10430\t\t\t\t2\n"
        "2024.01.02\t00:00:02.500\t\t1.10450\t\t\t4\n"
    )
    spec = resolve("EURUSD")
    assert spec is not None
    feed = ReplayFeed(csv, "EURUSD", start_ms=0, fallback=SeededFeed())
    assert feed.quote(spec, "EURUSD", 500) is not None
    assert (feed.quote(spec, "EURUSD", 500).bid, feed.quote(spec, "EURUSD", 500).ask) == (  # type: ignore[union-attr]
        1.1041,
        1.1042,
    )
    q = feed.quote(spec, "EURUSD", 1500)
    assert q is not None and (q.bid, q.ask) == (1.1043, 1.1042)
    q = feed.quote(spec, "EURUSD", 2500)
    assert q is not None and (q.bid, q.ask) == (1.1043, 1.1045)
    q = feed.quote(spec, "EURUSD", 2501 + 100)  # it loops
    assert q is not None and (q.bid, q.ask) == (1.1041, 1.1042)


async def test_a_broker_spec_can_replay_an_mt5_export(tmp_path: Path) -> None:
    from tradewire.broker_schemes import open_broker

    csv = tmp_path / "EURUSD.csv"
    csv.write_text(
        "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n"
        "2024.01.02\t00:00:00.000\t1.20000\t1.20010\t\t\t6\n"
    )
    broker = await open_broker(f"paper:{tmp_path / 'r.db'}?replay_csv={csv}&replay_symbol=EURUSD")
    quote = await broker.quote("EURUSD")
    assert (quote.bid, quote.ask) == (1.2, 1.2001)
    fill = await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert fill.price == 1.2001
    await broker.close()
    from tradewire.exceptions import BrokerError

    with pytest.raises(BrokerError, match="replay_symbol"):
        await open_broker(f"paper:{tmp_path / 'x.db'}?replay_csv={csv}")


async def test_an_order_applies_to_the_file_even_before_a_change_elsewhere_is_noticed(
    tmp_path: Path,
) -> None:
    """Reads answer from the account as last seen here; an order must not: it applies to what
    the file holds, so another process's position is never overwritten."""
    path = tmp_path / "shared.db"
    ours = await PaperBroker.open(path)
    other = await PaperBroker.open(path)
    await other.market_order(OrderRequest("EURUSD", "buy", 0.1))
    await ours.market_order(OrderRequest("GBPUSD", "sell", 0.2))  # at once: not noticed yet
    symbols = sorted(p.symbol for p in await ours.positions())
    assert symbols == ["EURUSD", "GBPUSD"]
    await asyncio.sleep(0.5)  # the desk's watcher shows ours to the other
    assert sorted(p.symbol for p in await other.positions()) == symbols
    await ours.close()
    await other.close()


async def test_concurrent_orders_on_many_accounts_each_apply_once(tmp_path: Path) -> None:
    """What a copy engine does: many accounts, several orders each, all at once."""
    brokers = [await PaperBroker.open(tmp_path / f"a{i}.db") for i in range(8)]
    symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD", "US30"]
    await asyncio.gather(
        *(b.market_order(OrderRequest(s, "buy", 0.1)) for b in brokers for s in symbols)
    )
    for broker in brokers:
        held = await broker.positions()
        assert sorted(p.symbol for p in held) == sorted(symbols)
        assert len({p.id for p in held}) == len(symbols)
        assert len([o for o in await broker.order_log() if o.status == "filled"]) == 5
        reopened = await PaperBroker.open(broker.path)  # what the file holds, read anew
        assert await reopened.positions() == held
        await reopened.close()
    for broker in brokers:
        await broker.close()
