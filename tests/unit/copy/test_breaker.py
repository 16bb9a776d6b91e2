"""The runaway breaker and the netting ledger, as pure values."""

from __future__ import annotations

from tradewire.copy.breaker import IDLE_ROUNDS, RunawayBreaker, orders_needed
from tradewire.copy.holdings import netting_holdings
from tradewire.model import Deal, Position


def deal(n: int, side: str, volume: float, magic: int, pid: str = "1") -> Deal:
    return Deal(str(n), pid, "EURUSD", side, volume, 1.1, n, magic)  # type: ignore[arg-type]


def test_own_volume_is_the_sum_of_own_deals_in_the_position() -> None:
    pos = Position("1", "EURUSD", "buy", 0.15, 1.1, 1, magic=0)  # opened by a manual trade
    deals = {"1": [deal(1, "buy", 0.05, 0), deal(2, "buy", 0.1, 7)]}
    (h,) = netting_holdings([pos], deals, 7).values()
    assert (h.net, h.own, h.foreign, h.settled, h.source) == (0.15, 0.1, 0.05, True, "deals")


def test_a_history_behind_the_position_is_not_settled() -> None:
    pos = Position("1", "EURUSD", "buy", 0.25, 1.1, 1, magic=7)
    (h,) = netting_holdings([pos], {"1": [deal(1, "buy", 0.15, 7)]}, 7).values()
    assert not h.settled


def test_without_history_only_the_positions_magic_can_say() -> None:
    ours = Position("1", "EURUSD", "buy", 0.2, 1.1, 1, magic=7)
    theirs = Position("2", "GBPUSD", "sell", 0.3, 1.3, 1, magic=0)
    held = netting_holdings([ours, theirs], {}, 7)
    assert held["EURUSD"].own == 0.2 and held["GBPUSD"].own == 0.0
    assert {h.source for h in held.values()} == {"magic"}


def test_a_fill_that_lands_elsewhere_trips() -> None:
    breaker = RunawayBreaker()
    assert breaker.refusal("EURUSD", 0.1, "buy", 1) is None
    breaker.sent("EURUSD", "buy")
    breaker.filled("EURUSD", "EURUSD", 0.0, 0.1, completed=1, what="open buy 0.1")
    assert breaker.check({}, {"EURUSD": 0}) == []  # a read from before the fill proves nothing
    (trip,) = breaker.check({"EURUSD": 0.3}, {"EURUSD": 1})
    assert trip[0] == "EURUSD" and "should hold +0.1" in trip[1] and "holds +0.3" in trip[1]
    assert breaker.refusal("EURUSD", 0.1, "buy", 1) == trip[1]


def test_a_fill_that_lands_as_planned_does_not() -> None:
    breaker = RunawayBreaker()
    breaker.filled("EURUSD", "EURUSD", 0.2, -0.1, completed=3, what="reduce sell 0.1")
    assert breaker.check({"EURUSD": 0.1}, {"EURUSD": 3}) == []
    assert breaker.tripped == {}


def test_orders_that_turn_back_for_one_target_trip() -> None:
    breaker = RunawayBreaker()
    assert breaker.refusal("EURUSD", 0.1, "buy", 1) is None
    breaker.sent("EURUSD", "buy")
    reason = breaker.refusal("EURUSD", 0.1, "sell", 1)
    assert reason is not None and "turned back" in reason


def test_a_target_that_moved_away_and_back_without_orders_is_a_new_one() -> None:
    """Bought towards -0.34; a pending copy then triggered and took the account to +0.94 with no
    order (the target followed); the provider closes that again: selling back to -0.34 is not
    orders turning back. A round whose target only holds what the account has (deals behind)
    does not reset the count."""
    breaker = RunawayBreaker()
    assert breaker.refusal("USDJPY", -0.34, "buy", 1) is None
    breaker.sent("USDJPY", "buy")
    breaker.observe({"USDJPY": -0.34}, frozen={"USDJPY"})
    breaker.observe({"USDJPY": 0.94}, frozen={"USDJPY"})  # frozen: the count goes on
    assert "turned back" in (breaker.refusal("USDJPY", -0.34, "sell", 1) or "")
    breaker = RunawayBreaker()
    assert breaker.refusal("USDJPY", -0.34, "buy", 1) is None
    breaker.sent("USDJPY", "buy")
    breaker.observe({"USDJPY": 0.94})
    breaker.observe({"USDJPY": -0.34})
    assert breaker.refusal("USDJPY", -0.34, "sell", 1) is None
    breaker.observe({"USDJPY": -0.34})  # unchanged: the count goes on
    breaker.sent("USDJPY", "sell")
    assert "turned back" in (breaker.refusal("USDJPY", -0.34, "buy", 1) or "")


def test_a_new_target_starts_the_count_afresh_and_a_spare_is_allowed() -> None:
    breaker = RunawayBreaker()
    for target in (0.1, 0.2, 0.3, 0.4):  # a provider adding every second: never trips
        assert breaker.refusal("EURUSD", target, "buy", 1) is None
        breaker.sent("EURUSD", "buy")
    assert breaker.refusal("EURUSD", 0.4, "buy", 1) is None  # the spare (a stop-loss hit)
    breaker.sent("EURUSD", "buy")
    reason = breaker.refusal("EURUSD", 0.4, "buy", 1)
    assert reason is not None and "2 orders" in reason
    assert breaker.clear("EURUSD") and breaker.refusal("EURUSD", 0.4, "buy", 1) is None


def test_orders_needed_counts_volume_max_and_positions() -> None:
    assert orders_needed(250.0, 100.0, 1) == 3
    assert orders_needed(0.3, 100.0, 4) == 4
    assert orders_needed(0.3, None, 0) == 1


def test_a_closed_keys_track_is_forgotten_after_idle_rounds_not_before() -> None:
    """A follower closes thousands of positions over its life: their tracks must not pile up
    (every round walks them), yet volume reopened under a key soon after still counts."""
    breaker = RunawayBreaker()
    for n in range(50):  # positions opened then closed to 0
        key = f"p{n}"
        assert breaker.refusal(key, 0.0, "sell", 1) is None
        breaker.sent(key, "sell")
    for _ in range(IDLE_ROUNDS - 1):
        breaker.observe({}, held={})
    assert len(breaker.tracked()) == 50
    # reopened under p0 by someone else: the second close for the same target 0 trips
    assert breaker.refusal("p0", 0.0, "sell", 1) is None
    breaker.sent("p0", "sell")
    assert breaker.refusal("p0", 0.0, "sell", 1) is not None
    # One round more: the idle closed keys go; p0 (an order just now) and p2 (held) stay,
    # and p1, targeted again, starts afresh.
    breaker.observe({"p1": 0.1}, held={"p2": 0.1})
    assert sorted(breaker.tracked()) == ["p0", "p2"]


def test_a_held_or_awaited_key_is_never_forgotten() -> None:
    breaker = RunawayBreaker()
    assert breaker.refusal("p1", 0.0, "sell", 1) is None
    breaker.sent("p1", "sell")
    for _ in range(IDLE_ROUNDS * 2):
        breaker.observe({}, held={"p1": 0.2})
    assert breaker.tracked() == ["p1"]
