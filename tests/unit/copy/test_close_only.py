"""close_only's modes (CopyFactory's three): by-position (or true) opens nothing; by-symbol
still opens and adds in the symbols the follower holds; immediately closes everything copied."""

from __future__ import annotations

import msgspec
import pytest

from tests.unit.copy.test_plan import NOW, follower, pos, provider
from tradewire.copy import plan
from tradewire.copy.rules import DEFAULT_MAGIC, parse_rules
from tradewire.exceptions import ConfigError
from tradewire.model import PendingOrder, Position

HELD = [Position("f1", "EURUSD", "buy", 1.0, 1.085, 1, magic=DEFAULT_MAGIC)]
MANUAL = [Position("m1", "GBPUSD", "buy", 1.0, 1.265, 1)]  # not ours: never touched


def targets(close_only: object, *positions: Position, orders: list[PendingOrder] | None = None):  # type: ignore[no-untyped-def]
    state = provider(*positions, mode="netting")
    if orders is not None:
        state = msgspec.structs.replace(state, orders=orders)
    rules = parse_rules({"close_only": close_only})
    result = plan(state, follower(positions=HELD + MANUAL), rules, NOW)
    volumes = {k: t.volume if t.side == "buy" else -t.volume for k, t in result.target.items()}
    return volumes, result


GROWS = (pos("1", "EURUSD", volume=2.0), pos("2", "GBPUSD", volume=1.0), pos("3", "XAUUSD"))


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (False, {"EURUSD": 2.0, "GBPUSD": 1.0, "XAUUSD": 1.0}),
        (True, {"EURUSD": 1.0}),  # held, not grown; nothing opened
        ("by-position", {"EURUSD": 1.0}),
        # EURUSD is held: it may grow; GBPUSD is held only by hand, which is not ours
        ("by-symbol", {"EURUSD": 2.0}),
        ("immediately", {}),
    ],
)
def test_each_mode_on_a_growing_provider(mode: object, expected: dict[str, float]) -> None:
    assert targets(mode, *GROWS)[0] == expected


@pytest.mark.parametrize("mode", [True, "by-position", "by-symbol"])
def test_reductions_and_closes_always_go_through(mode: object) -> None:
    assert targets(mode, pos("1", "EURUSD", volume=0.4))[0] == {"EURUSD": 0.4}
    assert targets(mode)[0] == {}
    flipped = targets(mode, pos("1", "EURUSD", side="sell"))[0]
    # a flip closes and never reopens, except in a symbol by-symbol still trades
    assert flipped == ({"EURUSD": -1.0} if mode == "by-symbol" else {})


def test_immediately_says_why_and_cancels_pending_copies() -> None:
    order = PendingOrder("o1", "EURUSD", "buy_limit", 0.5, 1.08, 1)
    volumes, result = targets("immediately", *GROWS, orders=[order])
    assert volumes == {} and result.orders == {} and result.reduce_only
    assert [s.reason for s in result.skips] == [
        'close_only = "immediately": closing everything copied'
    ]


def test_by_symbol_places_pending_copies_only_in_held_symbols() -> None:
    orders = [
        PendingOrder("o1", "EURUSD", "buy_limit", 0.5, 1.08, 1),
        PendingOrder("o2", "XAUUSD", "buy_limit", 0.5, 2300.0, 1),
    ]
    _, result = targets("by-symbol", pos("1", "EURUSD"), orders=orders)
    assert result.orders is not None and set(result.orders) == {"o1"}
    assert "close_only by-symbol: no XAUUSD is held" in [
        s.reason.split(": ", 1)[1] for s in result.skips
    ]
    _, blocked = targets("by-position", pos("1", "EURUSD"), orders=orders)
    assert blocked.orders == {}


def test_an_unknown_mode_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="close_only"):
        parse_rules({"close_only": "by-account"})
