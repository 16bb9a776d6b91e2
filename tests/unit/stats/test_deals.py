"""Statistics from a provider's deals (protocol 1.5), worked by hand: commission paid on
opening and closing, a swap, a deposit beside a trade, a netting reversal, and a point where
the provider sent no deal (the states' rule still holds there)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tradewire.model import Deal, DealEntry, Position
from tradewire.stats.channel import Point, channel_stats

T0 = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp() * 1000)
H = 3_600_000


def deal(
    ticket: str,
    pid: str,
    entry: DealEntry,
    time: int,
    volume: float = 1.0,
    profit: float = 0.0,
    commission: float = 0.0,
    swap: float = 0.0,
) -> Deal:
    side = "buy" if entry == "in" else "sell"
    return Deal(
        ticket, pid, "EURUSD", side, volume, 1.1, time, 0, profit, "", entry, commission, swap
    )


A = Position("A", "EURUSD", "buy", 2.0, 1.1, T0 + H)
B = Position("B", "EURUSD", "buy", 1.0, 1.1, T0 + 5 * H)
POINTS = [
    Point(T0, 10_000, 10_000, ()),
    Point(T0 + H, 9_990, 9_990, (A,)),  # A opened: 2 lots, commission -10
    Point(T0 + 3 * H, 10_282, 10_282, ()),  # A closed: +300, commission -10, swap +2
    Point(T0 + 4 * H, 11_282, 11_282, ()),  # a deposit of 1,000 (no deal)
    Point(T0 + 5 * H, 11_277, 11_277, (B,)),  # B opened: -5
    # B closed with +100, -5 and a 500 withdrawal between two states: 11,277 + 95 - 500
    Point(T0 + 6 * H, 10_872, 10_872, ()),
]
DEALS = [
    (T0 + H, deal("1", "A", "in", T0 + H - 50, 2.0, commission=-10)),
    (T0 + 3 * H, deal("2", "A", "out", T0 + 3 * H - 50, 2.0, 300, -10, 2)),
    (T0 + 5 * H, deal("3", "B", "in", T0 + 5 * H - 50, commission=-5)),
    (T0 + 6 * H, deal("4", "B", "out", T0 + 6 * H - 50, profit=100, commission=-5)),
]


def test_trades_commission_and_flows_from_deals() -> None:
    s = channel_stats("alpha", "USD", POINTS, DEALS)
    assert s.trades_from == "deals"
    assert s.trades == 2
    # A: 300 - 10 - 10 + 2 (its opening commission is its own); B: 100 - 5 - 5.
    assert (s.best_trade, s.worst_trade) == (pytest.approx(282), pytest.approx(90))
    assert s.profit == pytest.approx(372)
    assert (s.commission, s.swap) == (pytest.approx(-30), pytest.approx(2))
    # The 1,000 deposit and the 500 withdrawal beside B's close are flows, nothing else.
    assert s.deposits == pytest.approx(500)
    # Holding times from the deals: 2 h and 1 h.
    assert s.average_holding_s == pytest.approx(1.5 * 3600)
    growth = (1 - 10 / 10_000) * (1 + 292 / 9_990) * (1 - 5 / 11_282) * (1 + 95 / 11_277) - 1
    assert s.growth_pct == pytest.approx(100 * growth)


def test_a_point_without_deals_keeps_the_states_rule() -> None:
    # The provider sent only A's deals: B's close is read from the states (profit 95: the
    # balance change less nothing, since the states cannot see the withdrawal).
    s = channel_stats("alpha", "USD", POINTS, DEALS[:2])
    assert s.trades == 2 and s.trades_from == "deals"
    assert s.worst_trade == pytest.approx(-405)  # 10,872 - 11,277, all of it B's
    # B's opening commission, with no deal to say so, is read as a withdrawal of 5.
    assert s.deposits == pytest.approx(1_000 - 5)


def test_a_netting_reversal_is_a_trade_and_opens_the_rest() -> None:
    long = Position("N", "EURUSD", "buy", 1.0, 1.1, T0)
    short = Position("N", "EURUSD", "sell", 1.0, 1.2, T0 + H)
    points = [
        Point(T0, 10_000, 10_000, (long,)),
        Point(T0 + H, 10_100, 10_100, (short,)),  # sold 2: closed 1 at +100, opened 1 short
        Point(T0 + 2 * H, 10_050, 10_050, ()),  # the short closed at -50
    ]
    deals = [
        (T0, deal("1", "N", "in", T0 - 10)),
        (T0 + H, deal("2", "N", "inout", T0 + H - 10, 2.0, 100)),
        (T0 + 2 * H, deal("3", "N", "out", T0 + 2 * H - 10, profit=-50)),
    ]
    s = channel_stats("alpha", "USD", points, deals)
    assert s.trades == 2 and s.deposits == 0
    assert (s.best_trade, s.worst_trade) == (100, -50)
    # The second trade was held from the reversal: 1 h, as the first.
    assert s.average_holding_s == pytest.approx(3600)


def test_no_deals_reads_states() -> None:
    assert channel_stats("alpha", "USD", POINTS).trades_from == "states"
