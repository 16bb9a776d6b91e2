"""The ``terminal:`` broker passes the broker conformance suite through a real hub, against
``TerminalSim`` (the documented fake of the bridge EA) on a paper account; then what is
particular to it: request ids in comments, a terminal killed mid-order, bad specs."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.brokers.conformance import *  # noqa: F403  (the shared suite runs here)
from tests.brokers.conformance import BrokerFactory
from tests.conftest import PASSWORD, add_user, make_config
from tradewire.broker_schemes import check_broker, open_broker
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.hub_client import HubClient
from tradewire.clients.relay import RelayClient
from tradewire.clients.terminal.broker import TerminalBroker
from tradewire.clients.terminal.sim import TerminalSim
from tradewire.exceptions import ConfigError
from tradewire.hub.server import Hub
from tradewire.model import OrderRequest

# The bridge answers a position's deals, not the account's history: a `terminal:` account is
# copied to, and TradewireProvider.mq5 sends its terminal's deals itself (docs/mt5.md).
del test_the_deal_history_says_entries_and_profit  # noqa: F821  (the suite's, imported by *)


class Terminal:
    """A simulated terminal logged in to ``hub`` as ``name``."""

    def __init__(self, hub: Hub, name: str, paper: PaperBroker, delay_s: float = 0.0) -> None:
        host, port = hub.addresses[0]
        self.client = HubClient(host, port, name, PASSWORD)
        self.relay = RelayClient(self.client)
        self.sim = TerminalSim(paper, delay_s)
        self.name = name

    async def start(self) -> None:
        await self.client.start()
        self.sim.start()
        await self.relay.listen(self.name, self.sim.answer)

    async def stop(self) -> None:
        await self.relay.close()
        await self.sim.close()
        await self.client.close()


@pytest.fixture
async def terminal_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    data = tmp_path / "data"
    add_user(data, "bob", "follower", [f"relay:term{n}" for n in range(8)])
    for n in range(8):
        add_user(data, f"term{n}", "follower")
    hub = Hub(make_config(), data)
    await hub.start()
    yield hub
    await hub.stop()


@pytest.fixture
async def broker_factory(
    terminal_hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BrokerFactory]:
    monkeypatch.setenv("TRADEWIRE_PASSWORD", PASSWORD)
    opened: list[tuple[Terminal, PaperBroker, TerminalBroker]] = []
    host, port = terminal_hub.addresses[0]

    async def make(mode: str) -> TerminalBroker:
        name = f"term{len(opened)}"
        paper = await PaperBroker.open(tmp_path / f"{name}.db", PaperSettings(mode=mode))
        terminal = Terminal(terminal_hub, name, paper)
        await terminal.start()
        broker = await open_broker(f"terminal:{name}?hub={host}:{port}&user=bob")
        assert isinstance(broker, TerminalBroker)
        opened.append((terminal, paper, broker))
        return broker

    yield make  # type: ignore[misc]
    for terminal, paper, broker in opened:
        await broker.close()
        await terminal.stop()
        await paper.close()


async def test_the_request_id_rides_in_the_comment_and_is_taken_off_again(
    broker_factory: BrokerFactory, tmp_path: Path
) -> None:
    broker = await broker_factory("hedging")
    await broker.market_order(OrderRequest("EURUSD", "buy", 0.1, magic=7, comment="tw:p1:1:0.1"))
    (pos,) = await broker.positions()
    assert pos.comment == "tw:p1:1:0.1"
    paper = await PaperBroker.open(tmp_path / "term0.db", PaperSettings())
    try:
        (raw,) = await paper.positions()  # what the terminal holds: the id at the end
        assert raw.comment.startswith("tw:p1:1:0.1~") and len(raw.comment) == len(pos.comment) + 7
    finally:
        await paper.close()


async def test_a_terminal_that_dies_mid_order_executes_it_once(
    terminal_hub: Hub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The terminal fills the order, then its connection dies before it answers; the broker
    sends the same request id again once the terminal is back, and gets the first fill."""
    monkeypatch.setenv("TRADEWIRE_PASSWORD", PASSWORD)
    paper = await PaperBroker.open(tmp_path / "t.db", PaperSettings())
    first = Terminal(terminal_hub, "term0", paper, delay_s=0.3)  # answers late
    await first.start()
    host, port = terminal_hub.addresses[0]
    broker = await open_broker(f"terminal:term0?hub={host}:{port}&user=bob&order_timeout_s=20")
    try:
        order = asyncio.ensure_future(broker.market_order(OrderRequest("EURUSD", "buy", 0.2)))
        for _ in range(100):  # the fill is in the terminal's account, the answer is not out
            if await paper.order_log():
                break
            await asyncio.sleep(0.01)
        first.client._writer.transport.abort()  # type: ignore[union-attr]  # the terminal dies
        await first.stop()
        second = Terminal(terminal_hub, "term0", paper)  # it comes back
        await second.start()
        fill = await asyncio.wait_for(order, 15)
        log = await paper.order_log()
        assert [o.status for o in log] == ["filled"]  # once, although asked twice
        assert fill.order_id == str(log[0].id) and fill.volume == 0.2
        assert second.sim.duplicates == 1  # the resend reached it and was recognised
        await second.stop()
    finally:
        await broker.close()
        await paper.close()


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("terminal:", "name the terminal"),
        ("terminal:term1", "hub"),
        ("terminal:term1?hub=nope&user=bob", "HOST:PORT"),
        ("terminal:term1?hub=127.0.0.1:7400&user=bob&colour=red", "colour"),
        ("terminal:term1?hub=127.0.0.1:7400&user=bob&timeout_s=soon", "timeout_s"),
    ],
)
def test_bad_terminal_specs_are_refused_in_one_line(spec: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_broker(spec)
    assert says in str(caught.value) and "\n" not in str(caught.value)


async def test_no_password_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TRADEWIRE_PASSWORD", raising=False)
    with pytest.raises(ConfigError) as caught:
        await open_broker("terminal:term1?hub=127.0.0.1:7400&user=bob")
    assert "TRADEWIRE_PASSWORD" in str(caught.value)
    assert os.environ.get("TRADEWIRE_PASSWORD") is None
