"""The ``mt5:`` broker against the documented FAKE of the MetaTrader5 package (tests/brokers/
fake_mt5.py; the real one runs only on Windows next to a terminal): the conformance suite, then
the package's conventions: None + last_error(), retcodes, filling modes, comments, login."""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.brokers.conformance import *  # noqa: F403  (the shared suite runs here)
from tests.brokers.conformance import BrokerFactory
from tests.brokers.fake_mt5 import FakeMetaTrader5
from tradewire.broker_schemes import check_broker, open_broker
from tradewire.brokers.base import DealHistory
from tradewire.brokers.mt5.broker import Mt5Broker
from tradewire.brokers.retcodes import RETCODES
from tradewire.exceptions import BrokerError, ConfigError, OrderRejected
from tradewire.model import OrderRequest


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMetaTrader5]:
    module = FakeMetaTrader5()
    monkeypatch.setitem(sys.modules, "MetaTrader5", module)
    yield module


@pytest.fixture
async def broker_factory(fake: FakeMetaTrader5) -> AsyncIterator[BrokerFactory]:
    opened: list[Mt5Broker] = []

    async def make(mode: str) -> Mt5Broker:
        fake.mode = mode
        broker = await open_broker("mt5:")
        assert isinstance(broker, Mt5Broker)
        opened.append(broker)
        return broker

    yield make  # type: ignore[misc]
    for broker in opened:
        await broker.close()


@pytest.mark.parametrize(("retcode", "expected"), sorted(RETCODES.items()))
async def test_every_listed_retcode_becomes_its_reason(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5, retcode: int, expected: tuple[str, bool]
) -> None:
    broker = await broker_factory("hedging")
    fake.forced_retcodes = [retcode]
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert (caught.value.reason, caught.value.retryable) == expected
    assert str(retcode) in caught.value.detail
    assert await broker.positions() == []


async def test_an_unlisted_retcode_is_a_plain_rejection(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5
) -> None:
    broker = await broker_factory("hedging")
    fake.forced_retcodes = [10029]  # too many orders
    with pytest.raises(OrderRejected) as caught:
        await broker.market_order(OrderRequest("EURUSD", "buy", 0.1))
    assert (caught.value.reason, caught.value.retryable) == ("rejected", False)


async def test_none_from_the_package_is_an_error_with_last_error(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5
) -> None:
    broker = await broker_factory("hedging")
    for name, call in [
        ("positions_get", broker.positions()),
        ("account_info", broker.account()),
        ("order_send", broker.market_order(OrderRequest("EURUSD", "buy", 0.1))),
    ]:
        fake.broken = {name}
        with pytest.raises(BrokerError) as caught:
            await call
        assert "Terminal: Call failed (-10001)" in str(caught.value) and name in str(caught.value)
    fake.broken = set()
    assert await broker.positions() == []


@pytest.mark.parametrize(("bitmask", "filling"), [(1, 0), (3, 0), (2, 1), (0, 2)])
async def test_the_filling_mode_comes_from_the_symbols_bitmask(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5, bitmask: int, filling: int
) -> None:
    broker = await broker_factory("hedging")
    fake.filling_mode = bitmask
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, comment="x" * 40))
    (request,) = fake.requests
    assert request["type_filling"] == filling
    assert request["comment"] == "x" * 31  # MT5's limit; the follower keeps its links shorter


async def test_closing_names_the_position_and_a_fill_reports_the_deal(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5
) -> None:
    broker = await broker_factory("hedging")
    fill = await broker.market_order(OrderRequest("EURUSD", "buy", 0.2, magic=9))
    assert fill.position_id == (await broker.positions())[0].id
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.2, position_id=fill.position_id))
    assert fake.requests[-1]["position"] == int(fill.position_id)
    assert await broker.positions() == []


async def test_login_uses_the_password_from_the_environment(
    fake: FakeMetaTrader5, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = "mt5:?login=51234567&server=Broker-Demo&path=C:/MT5/terminal64.exe"
    monkeypatch.delenv("MT5_PASSWORD", raising=False)
    with pytest.raises(ConfigError, match=r"\$MT5_PASSWORD"):
        await open_broker(spec)
    monkeypatch.setenv("MT5_PASSWORD", "s3cret")
    broker = await open_broker(spec)
    assert fake.initialized == {
        "path": "C:/MT5/terminal64.exe",
        "timeout": 60_000,
        "login": 51234567,
        "password": "s3cret",
        "server": "Broker-Demo",
    }
    await broker.close()
    fake.refuse_login = True
    with pytest.raises(BrokerError, match=r"initialize failed: Terminal: Authorization failed"):
        await open_broker(spec)


@pytest.mark.parametrize(
    ("spec", "says"),
    [("mt5:?login=abc", "login"), ("mt5:?colour=red", "colour"), ("mt5:?deviation=", "deviation")],
)
def test_bad_mt5_specs_are_refused_in_one_line(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_broker(spec)
    assert says in str(caught.value) and "\n" not in str(caught.value)


async def test_without_the_package_the_error_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "MetaTrader5", None)  # import fails, as on Linux
    with pytest.raises(ConfigError, match=r"pip install 'tradewire\[mt5\]'"):
        await open_broker("mt5:")


async def test_deals_carry_the_brokers_commission(
    broker_factory: BrokerFactory, fake: FakeMetaTrader5
) -> None:
    """A broker charging 7.0 a lot on each deal: the provider's deals say so, and the balance
    moved by exactly what they say (the statistics' net of each trade)."""
    fake.commission_per_lot = 7.0
    broker = await broker_factory("hedging")
    assert isinstance(broker, DealHistory)
    since = int(time.time() * 1000) - 1000
    opened = await broker.market_order(OrderRequest("EURUSD", "buy", 0.5))
    await broker.market_order(OrderRequest("EURUSD", "sell", 0.5, opened.position_id))
    deals = await broker.deals_since(since)
    assert [(d.entry, d.commission) for d in deals] == [("in", -3.5), ("out", -3.5)]
    fake.broken = {"history_deals_get"}
    with pytest.raises(BrokerError, match="history_deals_get"):
        await broker.deals_since(since)
