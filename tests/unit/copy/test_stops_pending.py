"""Stops and pending orders as pure values: levels, the broker's stops level, reversal, the
follower's pending orders and the actions that reach them."""

from __future__ import annotations

import math

import msgspec
import pytest

from tradewire.brokers.symbols import resolve
from tradewire.copy import CopyRules, FollowerView, ProviderState
from tradewire.copy.pending import order_link, plan_orders, reconcile_orders, stand_ins
from tradewire.copy.plan import plan
from tradewire.copy.stops import Stops, allowed, levels, target_stops
from tradewire.model import Account, PendingOrder, Position, Quote, SymbolSpec

EURUSD = resolve("EURUSD")
assert EURUSD is not None
HEDGING = Account("p", "USD", 10_000, 10_000, 100, "hedging")


def source(sl: float = 1.0800, tp: float = 1.0900, price: float = 1.0850) -> Position:
    return Position("1", "EURUSD", "buy", 0.1, price, 1, sl=sl, tp=tp)


def test_price_mode_copies_levels_and_reverse_swaps_their_roles() -> None:
    assert target_stops([source()], CopyRules(), EURUSD) == Stops(1.08, 1.09)
    assert target_stops([source()], CopyRules(reverse=True), EURUSD) == Stops(1.09, 1.08)


def test_distance_and_fixed_are_measured_from_the_followers_entry() -> None:
    stops = target_stops(
        [source()], CopyRules(sl_tp_mode="distance", copy_tp="fixed", fixed_tp_points=200), EURUSD
    )
    assert math.isclose(stops.sl_distance, 0.0050) and math.isclose(stops.tp_distance, 0.0020)
    assert levels(stops, "buy", 1.1000, EURUSD) == (1.095, 1.102)
    assert levels(stops, "sell", 1.1000, EURUSD) == (1.105, 1.098)


def test_copy_no_keeps_and_a_level_that_is_not_a_price_keeps_too() -> None:
    assert target_stops([source()], CopyRules(copy_sl="no"), EURUSD) == Stops(
        0.0, 1.09, keep_sl=True
    )
    crafted = target_stops([source(sl=float("nan"), tp=-1.0)], CopyRules(), EURUSD)
    assert crafted.keep_sl and crafted.keep_tp  # never read as "remove the stop"


def test_the_newest_position_of_the_side_gives_a_netting_targets_stops() -> None:
    older = Position("1", "EURUSD", "buy", 0.1, 1.08, 1, sl=1.07)
    newer = Position("2", "EURUSD", "buy", 0.1, 1.08, 2, sl=1.075)
    assert target_stops([newer, older], CopyRules(), EURUSD).sl == 1.075


@pytest.mark.parametrize(
    ("side", "sl", "tp", "moved_sl", "moved_tp"),
    [
        ("buy", 1.08495, 1.09, 1.0849, 1.09),  # 5 points under the bid: moved to 10
        ("buy", 1.0860, 0.0, 1.0849, 0.0),  # past the bid already: the nearest allowed level
        ("sell", 1.0852, 1.0845, 1.0852, 1.0845),  # far enough: unchanged
        ("sell", 1.08505, 0.0, 1.0852, 0.0),  # within the stops level of the ask
    ],
)
def test_levels_the_broker_would_refuse_move_to_the_nearest_it_takes(
    side: str, sl: float, tp: float, moved_sl: float, moved_tp: float
) -> None:
    quote = Quote("EURUSD", 1.0850, 1.0851, 0)
    got_sl, got_tp, note = allowed(side, sl, tp, quote, EURUSD)  # type: ignore[arg-type]
    assert (got_sl, got_tp) == (moved_sl, moved_tp)
    assert bool(note) == ((got_sl, got_tp) != (sl, tp))


def view(mode: str = "hedging", triggered: frozenset[str] = frozenset()) -> FollowerView:
    account = Account("f", "USD", 10_000, 10_000, 100, mode)  # type: ignore[arg-type]
    specs: dict[str, SymbolSpec | None] = {"EURUSD": EURUSD, "XAUUSD": resolve("XAUUSD")}
    return FollowerView(account, [], specs, {}, None, triggered)


LIMIT = PendingOrder("77", "EURUSD", "buy_limit", 0.3, 1.0800, 5, sl=1.0770, tp=1.0860)


def state(*orders: PendingOrder, mode: str = "hedging") -> ProviderState:
    account = Account("p", "USD", 10_000, 10_000, 100, mode)  # type: ignore[arg-type]
    return ProviderState(account, [], 1_000, 1, list(orders))


def test_pending_orders_are_sized_linked_and_reversed() -> None:
    (copy,) = plan_orders(state(LIMIT), view(), CopyRules(multiplier=2), 0, False)[0].values()  # type: ignore[union-attr]
    assert (copy.type, copy.volume, copy.price, copy.sl, copy.tp) == (
        "buy_limit",
        0.6,
        1.08,
        1.077,
        1.086,
    )
    assert copy.comment == "tw:p77:0.3:0.6" and order_link(copy.comment) == "77"
    netting = plan(state(LIMIT), view("netting"), CopyRules(), 0).orders
    assert netting is not None and netting["77"].comment == "tw:o77"
    of_netting = plan_orders(state(LIMIT, mode="netting"), view(), CopyRules(), 0, False)[0]
    assert of_netting is not None and of_netting["77"].comment == "tw:sEURUSD:o77:0.3:0.3"
    assert order_link("tw:sEURUSD:o77") == "77"
    reversed_ = plan_orders(state(LIMIT), view(), CopyRules(reverse=True), 0, False)[0]
    assert reversed_ is not None
    assert (reversed_["77"].type, reversed_["77"].sl, reversed_["77"].tp) == (
        "sell_stop",
        1.086,
        1.077,
    )


def test_a_copy_is_sized_once_not_again_when_the_balance_moves() -> None:
    """A balance-sized copy placed at 0.3 stays 0.3 when the follower's balance grows (re-sizing
    it would cancel and place it again on every closed trade); it follows the provider's own
    change of volume in proportion."""
    rules = CopyRules(sizing="balance")
    mode = "hedging"
    (placed,) = plan_orders(state(LIMIT), view(mode), rules, 0, False)[0].values()  # type: ignore[union-attr]
    assert placed.volume == 0.3
    mine = msgspec.structs.replace(placed, id="900")
    richer = msgspec.structs.replace(
        view(mode), account=Account("f", "USD", 13_000, 13_000, 100, mode), orders=[mine]
    )  # type: ignore[arg-type]
    assert plan_orders(state(LIMIT), richer, rules, 0, False)[0]["77"].volume == 0.3  # type: ignore[index]
    assert (
        plan_orders(state(LIMIT), msgspec.structs.replace(richer, orders=[]), rules, 0, False)[0][
            "77"
        ].volume
        == 0.39
    )  # type: ignore[index]
    halved = msgspec.structs.replace(LIMIT, volume=0.15)
    assert plan_orders(state(halved), richer, rules, 0, False)[0]["77"].volume == 0.15  # type: ignore[index]
    fixed = CopyRules(sizing="fixed", fixed_volume=0.2)
    assert plan_orders(state(halved), richer, fixed, 0, False)[0]["77"].volume == 0.2  # type: ignore[index]


@pytest.mark.parametrize(
    ("rules", "held", "copy"),
    [
        (CopyRules(multiplier=2), ("sell", 0.3), ("buy_limit", 1.2)),  # -0.6 -> +0.6
        (CopyRules(sizing="fixed", fixed_volume=0.1), ("buy", 0.9), None),  # +0.1 stays +0.1
        (CopyRules(sizing="fixed", fixed_volume=0.1), None, ("buy_limit", 0.1)),  # 0 -> +0.1
        (CopyRules(sizing="fixed", fixed_volume=0.1), ("sell", 0.3), ("buy_limit", 0.2)),
        (
            CopyRules(sizing="fixed", fixed_volume=0.1, reverse=True),
            ("sell", 0.3),
            ("sell_stop", 0.2),
        ),
    ],
)
def test_a_netting_copy_is_what_its_fill_changes_in_the_target(
    rules: CopyRules, held: tuple[str, float] | None, copy: tuple[str, float] | None
) -> None:
    """When a netting follower's copy triggers, the account must hold what the target then is;
    a fixed-size follower whose target would not change places nothing, and says why."""
    buy_limit = msgspec.structs.replace(LIMIT, volume=0.6, sl=0.0, tp=0.0)
    positions = [Position("1", "EURUSD", held[0], held[1], 1.09, 1)] if held else []  # type: ignore[arg-type]
    provider = msgspec.structs.replace(state(buy_limit), positions=positions)
    result = plan(provider, view("netting"), rules, 0)
    assert result.orders is not None
    if copy is None:
        assert result.orders == {}
        assert any("nothing to place" in s.reason for s in result.skips)
    else:
        assert (result.orders["77"].type, result.orders["77"].volume) == copy


def test_what_is_not_placed_is_said() -> None:
    expired = PendingOrder("78", "EURUSD", "sell_limit", 0.1, 1.09, 1, expiration=500)
    stop_limit = PendingOrder("79", "EURUSD", "buy_stop_limit", 0.1, 1.09, 1, stop_limit=1.088)
    target, skips = plan_orders(
        state(expired, stop_limit), view(), CopyRules(reverse=True), 1_000, False
    )
    assert target == {}
    reasons = " | ".join(s.reason for s in skips)
    assert "expired" in reasons and "no MT5 order type" in reasons


def test_none_means_leave_them_alone_and_blocked_means_none() -> None:
    assert plan_orders(state(), view(), CopyRules(), 0, False)[0] == {}
    assert plan_orders(ProviderState(HEDGING, [], 1, 1), view(), CopyRules(), 0, False)[0] is None
    assert plan_orders(state(LIMIT), view(), CopyRules(), 0, True)[0] == {}  # close_only, stale
    assert plan_orders(state(LIMIT), view(), CopyRules(copy_pending=False), 0, False)[0] == {}
    assert reconcile_orders(None, [LIMIT], {}) == []


def test_a_triggered_copy_stands_in_for_the_providers_fill() -> None:
    triggered = view(triggered=frozenset({"77"}))
    assert plan_orders(state(LIMIT), triggered, CopyRules(), 0, False)[0] == {}
    (stand_in,) = stand_ins(state(LIMIT), triggered.triggered)
    assert (stand_in.id, stand_in.side, stand_in.volume, stand_in.price) == ("77", "buy", 0.3, 1.08)


def test_reconcile_places_moves_and_cancels_with_cancels_first() -> None:
    want = plan_orders(state(LIMIT), view(), CopyRules(), 0, False)[0]
    assert want is not None
    (place,) = reconcile_orders(want, [], {"EURUSD": EURUSD})
    assert place.action == "place" and place.pending is not None
    mine = PendingOrder("900", "EURUSD", "buy_limit", 0.3, 1.0800, 5, sl=1.0770, tp=1.0860,
                        magic=CopyRules().magic, comment="tw:p77:0.3:0.3")  # fmt: skip
    assert reconcile_orders(want, [mine], {"EURUSD": EURUSD}) == []
    moved = {**want, "77": want["77"].__class__(**{**_fields(want["77"]), "price": 1.0790})}
    (move,) = reconcile_orders(moved, [mine], {"EURUSD": EURUSD})
    assert move.action == "move" and move.pending is not None and move.pending.id == "900"
    stray = PendingOrder(
        "901", "XAUUSD", "sell_stop", 0.1, 2300, 5, magic=mine.magic, comment="tw:p5"
    )
    actions = reconcile_orders(want, [stray, mine], {"EURUSD": EURUSD})
    assert [a.action for a in actions] == ["cancel"] and actions[0].pending == stray
    bigger = {"77": want["77"].__class__(**{**_fields(want["77"]), "volume": 0.5})}
    assert [a.action for a in reconcile_orders(bigger, [mine], {})] == ["cancel"]  # then placed


def _fields(order: PendingOrder) -> dict[str, object]:
    return {name: getattr(order, name) for name in order.__struct_fields__}


def test_an_expiration_rounded_to_the_second_by_the_broker_is_not_moved_again() -> None:
    want = PendingOrder("", "EURUSD", "buy_limit", 0.3, 1.08, 0, expiration=1_700_000_000_500,
                        magic=CopyRules().magic, comment="tw:p77:0.3:0.3")  # fmt: skip
    held = PendingOrder("900", "EURUSD", "buy_limit", 0.3, 1.08, 5, expiration=1_700_000_001_000,
                        magic=CopyRules().magic, comment="tw:p77:0.3:0.3")  # fmt: skip
    assert reconcile_orders({"77": want}, [held], {"EURUSD": EURUSD}) == []
