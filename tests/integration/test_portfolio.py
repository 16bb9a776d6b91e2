"""A netting account on two channels (clients/portfolio.py), on a paper netting account: the
account holds the sum through long and short shares that net out and cross zero, with one order
per change, and a restart plans each channel against the share it had (issue 25)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.integration.test_pending_copy import until
from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.clients.journal import Journal
from tradewire.clients.portfolio import PortfolioFollower, shares_path
from tradewire.copy import CopyRules
from tradewire.model import Position
from tradewire.protocol.messages import Account, StateUpdate

NETTING = Account("p", "USD", 10_000, 10_000, 100, "netting")
CHANNELS = {"alpha": CopyRules(), "beta": CopyRules(multiplier=2)}


def start(broker: PaperBroker, journal: Path) -> tuple[PortfolioFollower, asyncio.Task[None]]:
    follower = PortfolioFollower(
        broker, CHANNELS, magic=7400020, journal=Journal(journal), resync_s=0.05
    )
    return follower, asyncio.create_task(follower.run())


def send(follower: PortfolioFollower, channel: str, seq: int, lots: float) -> None:
    side = "buy" if lots > 0 else "sell"
    positions = [Position("1", "EURUSD", side, abs(lots), 1.085, 1)] if lots else []
    follower.on_state(StateUpdate(channel, seq, int(time.time() * 1000), NETTING, positions))


async def net(broker: PaperBroker) -> float:
    held = await broker.positions()
    return round(sum(p.volume if p.side == "buy" else -p.volume for p in held), 8)


async def test_two_channels_long_and_short_reach_the_sum_one_order_per_change(
    tmp_path: Path,
) -> None:
    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    journal = tmp_path / "carol.jsonl"
    follower, task = start(broker, journal)
    lots = {"alpha": 0.0, "beta": 0.0}
    steps = [("alpha", 0.1), ("beta", -0.15), ("alpha", 0.3), ("beta", 0.05), ("alpha", 0.0),
             ("beta", -0.2), ("alpha", -0.1), ("beta", 0.0), ("alpha", 0.0)]  # fmt: skip
    orders = 0
    for seq, (channel, provider_lots) in enumerate(steps, 1):
        before = dict(lots)
        lots[channel] = provider_lots * (2 if channel == "beta" else 1)
        want = round(lots["alpha"] + lots["beta"], 8)
        send(follower, channel, seq, provider_lots)
        if seq == 5:  # a restart between two changes: the shares are in the file
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            assert shares_path(journal).exists()
            follower, task = start(broker, journal)
            for name, value in before.items():  # the hub sends each channel's state anew
                send(follower, name, 100 + seq, value / (2 if name == "beta" else 1))
            send(follower, channel, 200 + seq, provider_lots)
        await until(lambda want=want: _holds(broker, want))  # type: ignore[misc]
        await asyncio.sleep(0.3)  # a second order, if one came, would show now
        assert await net(broker) == want, (seq, await net(broker), want)
        if seq == 2:  # --explain of the account: the sum, channel by channel
            assert follower.explain()["EURUSD"].startswith("-0.2 = alpha +0.1 + beta -0.3 (")
        if round(sum(before.values()), 8) != want:
            orders += 1
        sent = len(await broker.order_log())
        assert sent == orders, (seq, sent, orders)
    assert follower.shares == {"alpha": {}, "beta": {}}
    assert not follower.breaker.tripped
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await broker.close()


async def _holds(broker: PaperBroker, want: float) -> bool:
    return await net(broker) == want


def test_a_damaged_shares_file_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    from tradewire.clients.portfolio import load_shares
    from tradewire.exceptions import ConfigError

    path = tmp_path / "carol.shares.json"
    path.write_text('{"alpha": {"EURUSD": "lots"}}')
    try:
        load_shares(path)
    except ConfigError as exc:
        message = str(exc)
    else:
        raise AssertionError("a damaged shares file was read")
    assert message.startswith(str(path)) and "\n" not in message
    assert "books each channel's share" in message
    assert path.read_text() == '{"alpha": {"EURUSD": "lots"}}'


async def test_a_channel_stopped_at_its_stop_equity_is_reported_not_the_others(
    tmp_path: Path,
) -> None:
    from tradewire.clients.follower_report import report

    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    channels = {"alpha": CopyRules(), "beta": CopyRules(stop_equity=20_000)}
    follower = PortfolioFollower(broker, channels, magic=7400020, journal=Journal(), name="dave")
    send(follower, "alpha", 1, 0.1)
    send(follower, "beta", 1, 0.2)
    await follower.sync_once()
    await until(lambda: _holds(broker, 0.1))  # alpha's share only: beta's is closed, stays so
    assert follower.halts() == ["beta: stopped at stop_equity"]
    assert report(follower).alert == "dave: halted: beta: stopped at stop_equity"
    assert [e["channel"] for e in follower.journal.recent if e["event"] == "stopped"] == ["beta"]
    await broker.close()


async def test_risk_sizing_on_a_netting_portfolio_is_refused_naming_the_channel(
    tmp_path: Path,
) -> None:
    from tradewire.exceptions import ConfigError

    broker = await PaperBroker.open(tmp_path / "f.db", PaperSettings(mode="netting"))
    risky = {"alpha": CopyRules(), "beta": CopyRules(sizing="risk", risk_percent=1)}
    try:
        PortfolioFollower(broker, risky, magic=7400020, journal=Journal())
    except ConfigError as exc:
        assert str(exc).startswith('channel beta: sizing = "risk" is not offered')
    else:
        raise AssertionError("risk sizing was accepted on a netting portfolio")
    finally:
        await broker.close()
