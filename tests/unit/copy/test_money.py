"""Sizing by money (copy/money.py): risk sizing, max_trade_risk, max_leverage and
min_trade_amount, each with hand-computed volumes (follower equity 10,000 USD unless said)."""

from __future__ import annotations

import msgspec
import pytest

from tests.unit.copy.test_plan import NOW, follower, provider
from tradewire.copy import CopyRules, FollowerView, plan
from tradewire.copy.rules import parse_rules
from tradewire.exceptions import ConfigError
from tradewire.model import Position

JPY = {"JPY": 1 / 150}  # USDJPY at 150.00


def opened(
    symbol: str, side: str, price: float, sl: float = 0.0, volume: float = 1.0, pid: str = "1"
) -> Position:
    return Position(pid, symbol, side, volume, price, 1, sl=sl)  # type: ignore[arg-type]


def view(rates: dict[str, float] | None = None, **kwargs: object) -> FollowerView:
    base = follower(balance=10_000, **kwargs)  # type: ignore[arg-type]
    return msgspec.structs.replace(base, rates=rates if rates is not None else JPY)


def targets(rules: CopyRules, *positions: Position, **kwargs: object) -> dict[str, float]:
    result = plan(provider(*positions), view(**kwargs), rules, NOW)  # type: ignore[arg-type]
    return {k: t.volume if t.side == "buy" else -t.volume for k, t in result.target.items()}


def skips(rules: CopyRules, *positions: Position, **kwargs: object) -> list[str]:
    result = plan(provider(*positions), view(**kwargs), rules, NOW)  # type: ignore[arg-type]
    return [s.reason for s in result.skips]


RISK_1 = CopyRules(sizing="risk", risk_percent=1)


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        # 1% of 10,000 = 100 USD; 500 points × 1 USD a point a lot = 500 a lot → 0.2
        (opened("EURUSD", "buy", 1.0850, sl=1.0800), 0.2),
        # JPY profit: a lot moves 100,000 JPY per 1.0 = 666.67 USD; 0.50 away → 333.33 → 0.3
        (opened("USDJPY", "buy", 150.00, sl=149.50), 0.3),
        # a sell's stop above: 10.00 × 100 oz = 1,000 USD a lot → 0.1 (and the side kept)
        (opened("XAUUSD", "sell", 2350.00, sl=2360.00), -0.1),
        # the provider's volume does not matter, only the stop's distance
        (opened("EURUSD", "buy", 1.0850, sl=1.0825, volume=7.0), 0.4),
    ],
)
def test_risk_sizing_loses_risk_percent_at_the_stop(position: Position, expected: float) -> None:
    key = position.symbol
    assert targets(RISK_1, position) == {key: expected}


def test_a_copy_without_a_stop_is_skipped_or_sized_by_default_sl_points() -> None:
    bare = opened("EURUSD", "buy", 1.0850)
    assert targets(RISK_1, bare) == {}
    assert "no stop-loss to size the risk by" in skips(RISK_1, bare)[0]
    # 250 points × 1 USD = 250 a lot → 100 / 250 = 0.4
    assert targets(msgspec.structs.replace(RISK_1, default_sl_points=250), bare) == {"EURUSD": 0.4}


def test_a_stop_moved_to_break_even_keeps_what_is_held_rather_than_closing_it() -> None:
    even = opened("EURUSD", "buy", 1.0850, sl=1.0850)
    held = [Position("f1", "EURUSD", "buy", 0.2, 1.0850, 1, magic=RISK_1.magic)]
    assert targets(RISK_1, even, positions=held) == {"EURUSD": 0.2}


def test_no_rate_to_convert_the_profit_currency_is_a_skip_not_a_guess() -> None:
    position = opened("USDJPY", "buy", 150.00, sl=149.50)
    assert targets(RISK_1, position, rates={}) == {}
    assert skips(RISK_1, position, rates={}) == ["USDJPY: no rate to convert JPY to USD"]


def test_risk_basis_balance() -> None:
    rules = CopyRules(sizing="risk", risk_percent=2, risk_basis="balance")
    # 2% of balance 10,000 (equity 5,000 ignored) = 200 / 500 a lot = 0.4
    assert targets(rules, opened("EURUSD", "buy", 1.0850, sl=1.0800), equity=5_000) == {
        "EURUSD": 0.4
    }


def test_max_trade_risk_caps_any_sizing() -> None:
    position = opened("EURUSD", "buy", 1.0850, sl=1.0800, volume=1.0)
    # 2% of 10,000 = 200 at 500 a lot → at most 0.4 of the multiplier's 1.0
    assert targets(CopyRules(max_trade_risk=2), position) == {"EURUSD": 0.4}
    assert targets(CopyRules(max_trade_risk=20), position) == {"EURUSD": 1.0}
    # no stop to measure by: nothing new, with the reason
    bare = opened("EURUSD", "buy", 1.0850)
    assert targets(CopyRules(max_trade_risk=2), bare) == {}
    assert "max_trade_risk" in skips(CopyRules(max_trade_risk=2), bare)[0]


def test_max_leverage_reduces_opens_to_the_room_left() -> None:
    position = opened("EURUSD", "buy", 1.0850, volume=1.0)
    # 10 × 10,000 = 100,000 of notional; a lot is 108,500 → 0.92
    assert targets(CopyRules(max_leverage=10), position) == {"EURUSD": 0.92}
    # a manual US30 lot at 39,000 leaves 61,000 → 0.56
    manual = [Position("m1", "US30", "buy", 1.0, 39_000.0, 1)]
    assert targets(CopyRules(max_leverage=10), position, positions=manual) == {"EURUSD": 0.56}
    # over the limit already: no open at all, with the reason
    big = [Position("m1", "US30", "buy", 3.0, 39_000.0, 1)]
    assert targets(CopyRules(max_leverage=1), position, positions=big) == {}
    assert skips(CopyRules(max_leverage=1), position, positions=big) == [
        "max_leverage 1 × equity = 10,000.00 USD leaves no room for EURUSD: the account holds "
        "117,000.00 of notional"
    ]


def test_max_leverage_never_closes_what_is_held() -> None:
    position = opened("EURUSD", "buy", 1.0850, volume=2.0)
    held = [Position("f1", "EURUSD", "buy", 1.5, 1.0850, 1, magic=CopyRules().magic)]
    # 1.5 held is 162,750 > 100,000 already: the target stays at 1.5, not 2.0, not less
    assert targets(CopyRules(max_leverage=10), position, positions=held) == {"EURUSD": 1.5}


def test_min_trade_amount_skips_small_new_copies() -> None:
    small = opened("EURUSD", "buy", 1.0850, volume=0.01)  # 1,085 USD of notional
    assert targets(CopyRules(min_trade_amount=2_000), small) == {}
    assert skips(CopyRules(min_trade_amount=2_000), small) == [
        "EURUSD copy worth 1,085.00 USD is below min_trade_amount 2,000.00"
    ]
    assert targets(CopyRules(min_trade_amount=1_000), small) == {"EURUSD": 0.01}


def test_the_risk_formula_is_explained() -> None:
    notes: dict[str, str] = {}
    state = provider(opened("EURUSD", "buy", 1.0850, sl=1.0800))
    plan(state, view(), CopyRules(sizing="risk", risk_percent=1, max_leverage=1), NOW, notes)
    assert notes == {
        "EURUSD": "+0.09 = 100.00 (1% of equity) / (500 points × 1 USD a point a lot) (risk) "
        "= 0.2 → step 0.01 → 0.2 → max_leverage 1 × equity → 0.09"
    }


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"sizing": "risk"}, "needs risk_percent"),
        ({"sizing": "risk", "risk_percent": 0}, "risk_percent"),
        ({"sizing": "risk", "risk_percent": 101}, "risk_percent"),
        ({"risk_percent": 1}, 'only used with sizing = "risk"'),
        ({"sizing": "risk", "risk_percent": 3, "max_trade_risk": 2}, "above max_trade_risk"),
        ({"sizing": "risk", "risk_percent": 1, "copy_sl": "no"}, "default_sl_points"),
        ({"max_leverage": 0}, "max_leverage"),
        ({"min_trade_amount": -1}, "min_trade_amount"),
    ],
)
def test_contradictory_or_out_of_range_money_rules_are_refused(
    data: dict[str, object], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_rules(data)


def test_a_netting_copy_sized_by_risk_follows_the_providers_volume_not_its_stop() -> None:
    """Sized once (0.2 for the provider's 1 lot); the provider then trails its stop to 10 pips
    from entry, which sized afresh would be 1.0 lot: the target stays 0.2. The provider doubles
    its volume: 0.4. Without a size to follow (a restart), it is sized from the stop again."""
    held = [Position("f1", "EURUSD", "buy", 0.2, 1.0850, 1, magic=RISK_1.magic)]
    trailed = opened("EURUSD", "buy", 1.0850, sl=1.0840)
    sized = {"EURUSD": (1.0, 0.2)}
    plan_view = msgspec.structs.replace(view(positions=held), sized=sized)

    def target(*positions: Position) -> dict[str, float]:
        result = plan(provider(*positions), plan_view, RISK_1, NOW)
        return {k: t.volume for k, t in result.target.items()}

    assert target(trailed) == {"EURUSD": 0.2}
    assert target(opened("EURUSD", "buy", 1.0850, sl=1.0840, volume=2.0)) == {"EURUSD": 0.4}
    assert targets(RISK_1, trailed, positions=held) == {"EURUSD": 1.0}  # no size known
