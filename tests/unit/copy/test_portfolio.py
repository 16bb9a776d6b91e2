"""A netting account on several channels (copy/portfolio.py): the account holds the sum of
the channels' targets, each planned against its booked share; shares are rebooked only when
the account holds the sum; channels long and short on one symbol net out without running
away; each channel's guards hold back its own share only."""

from __future__ import annotations

import msgspec

from tests.unit.copy.test_plan import NOW, pos, provider
from tradewire.brokers.symbols import resolve
from tradewire.copy import CopyRules, FollowerView
from tradewire.copy.holdings import Holding
from tradewire.copy.portfolio import Channel, plan_portfolio, rebook
from tradewire.model import Account, Position

MAGIC = CopyRules().magic


def netting(own: dict[str, float], settled: bool = True) -> FollowerView:
    """The account: one position per symbol holding ``own`` (all the portfolio's)."""
    account = Account("f", "USD", 10_000, 10_000, 100, "netting")
    positions = [
        Position(f"P{s}", s, "buy" if v > 0 else "sell", abs(v), 1.085, 1, magic=MAGIC)
        for s, v in own.items()
    ]
    holdings = {s: Holding(s, f"P{s}", v, v, settled=settled) for s, v in own.items()}
    specs = {s: resolve(s, "") for s in ("EURUSD", "GBPUSD", "XAUUSD")}
    return FollowerView(account, positions, specs, {}, holdings)


def targets(result: object) -> dict[str, float]:
    return {
        k: t.volume if t.side == "buy" else -t.volume
        for k, t in result.target.items()  # type: ignore[attr-defined]
    }


def channel(name: str, *positions: Position, **rules: object) -> Channel:
    state = provider(*positions, mode="netting")
    return Channel(name, state, CopyRules(**rules))  # type: ignore[arg-type]


def test_the_account_holds_the_sum_of_the_channels_targets() -> None:
    alpha = channel("alpha", pos("1", "EURUSD", volume=1.0), pos("2", "XAUUSD", "sell", 0.2))
    beta = channel("beta", pos("9", "EURUSD", "sell", 0.15), multiplier=2)
    result, wanted, stopped = plan_portfolio([alpha, beta], netting({}), {}, NOW)
    assert targets(result) == {"EURUSD": 0.7, "XAUUSD": -0.2}
    assert wanted == {"alpha": {"EURUSD": 1.0, "XAUUSD": -0.2}, "beta": {"EURUSD": -0.3}}
    assert stopped == set() and result.orders is None


def test_channels_long_and_short_net_out_and_never_run_away() -> None:
    """alpha +0.1 and beta -0.3 hold one position of -0.2. alpha adds 0.2: the account closes
    (flat), the shares are rebooked as +0.3 and -0.3, and the next rounds plan nothing."""
    shares = {"alpha": {"EURUSD": 0.1}, "beta": {"EURUSD": -0.3}}
    alpha = channel("alpha", pos("1", "EURUSD", volume=0.3))
    beta = channel("beta", pos("9", "EURUSD", "sell", 0.3))
    result, wanted, _ = plan_portfolio([alpha, beta], netting({"EURUSD": -0.2}), shares, NOW)
    assert targets(result) == {}  # close the -0.2: one order of +0.2
    assert rebook(shares, wanted, {"EURUSD": -0.2}) == shares  # not there yet: as booked
    shares = rebook(shares, wanted, {})  # the close filled: flat, as the sum says
    assert shares == {"alpha": {"EURUSD": 0.3}, "beta": {"EURUSD": -0.3}}
    for _ in range(3):
        again, wanted, _ = plan_portfolio([alpha, beta], netting({}), shares, NOW)
        assert targets(again) == {}
        assert rebook(shares, wanted, {}) == shares


def test_one_channels_guard_holds_back_its_share_only() -> None:
    shares = {"alpha": {"EURUSD": 0.5}, "beta": {"EURUSD": 0.2}}
    alpha = channel("alpha", pos("1", "EURUSD", volume=1.0))  # grows to 1.0
    beta = channel("beta", pos("9", "EURUSD", volume=0.9), close_only=True)  # may not grow
    result, wanted, _ = plan_portfolio([alpha, beta], netting({"EURUSD": 0.7}), shares, NOW)
    assert wanted == {"alpha": {"EURUSD": 1.0}, "beta": {"EURUSD": 0.2}}
    assert targets(result) == {"EURUSD": 1.2}
    old = channel("beta", pos("9", "EURUSD", volume=0.0001))
    stale = Channel("beta", msgspec.structs.replace(old.state, ts=NOW - 3_600_000), old.rules)
    _, wanted, _ = plan_portfolio([alpha, stale], netting({"EURUSD": 0.7}), shares, NOW)
    assert wanted["beta"] == {}  # a stale beta may only reduce: its 0.0001 rounds to nothing


def test_a_channel_without_a_signal_keeps_its_share() -> None:
    shares = {"alpha": {"EURUSD": 0.5}, "beta": {"GBPUSD": -0.2}}
    alpha = channel("alpha", pos("1", "EURUSD", volume=0.5))
    waiting = Channel("beta", None, CopyRules())
    result, _, _ = plan_portfolio(
        [alpha, waiting], netting({"EURUSD": 0.5, "GBPUSD": -0.2}), shares, NOW
    )
    assert targets(result) == {"EURUSD": 0.5, "GBPUSD": -0.2}


def test_stop_equity_ends_that_channel_and_closes_its_share() -> None:
    shares = {"alpha": {"EURUSD": 0.5}, "beta": {"EURUSD": 0.2}}
    alpha = channel("alpha", pos("1", "EURUSD", volume=0.5))
    beta = channel("beta", pos("9", "EURUSD", volume=0.2), stop_equity=20_000)
    result, _, stopped = plan_portfolio([alpha, beta], netting({"EURUSD": 0.7}), shares, NOW)
    assert stopped == {"beta"} and targets(result) == {"EURUSD": 0.5}
    ended = Channel("beta", beta.state, beta.rules, stopped=True)
    result, _, _ = plan_portfolio([alpha, ended], netting({"EURUSD": 0.7}), shares, NOW)
    assert targets(result) == {"EURUSD": 0.5}


def test_deals_behind_the_position_hold_the_symbol_as_it_is() -> None:
    shares = {"alpha": {"EURUSD": 0.5}}
    alpha = channel("alpha", pos("1", "EURUSD", volume=2.0))
    result, _, _ = plan_portfolio([alpha], netting({"EURUSD": 0.5}, settled=False), shares, NOW)
    assert targets(result) == {"EURUSD": 0.5}
    assert any("do not add up yet" in s.reason for s in result.skips)


def test_every_target_is_explained_channel_by_channel() -> None:
    alpha = channel("alpha", pos("1", "EURUSD", volume=1.0))
    beta = channel("beta", pos("9", "EURUSD", "sell", 0.15), multiplier=2)
    notes: dict[str, str] = {}
    plan_portfolio([alpha, beta], netting({}), {}, NOW, notes)
    assert notes["EURUSD"] == (
        "+0.7 = alpha +1 + beta -0.3 (alpha +1 = 1 × 1 (multiplier) = 1 → step 0.01 → 1; "
        "beta -0.3 = 0.15 × 2 (multiplier) = 0.3 → step 0.01 → 0.3)"
    )
