"""The provider's side of a plan, memoised per state (copy/provider_keys.py): reused only for
the same state with equal rules, mode and triggered orders, and never changing a plan."""

from __future__ import annotations

import msgspec

from tests.unit.copy.test_plan import follower, pos, provider
from tradewire.copy import CopyRules, plan
from tradewire.copy.provider_keys import follower_symbols, provider_keys

NOW = 1_700_000_100_000


def test_the_same_state_with_equal_rules_is_worked_out_once() -> None:
    state = provider(pos("1", "EURUSD", "buy", 1.0, time=2), pos("2", "GBPUSD", "sell", 0.5))
    first = provider_keys(state, CopyRules(), "hedging", frozenset())
    assert provider_keys(state, CopyRules(), "hedging", frozenset()) is first  # equal rules
    assert list(first.totals) == ["p2", "p1"]  # in time order
    assert first.totals["p2"].net == -0.5 and first.totals["p2"].side == "sell"


def test_anything_else_that_differs_is_worked_out_anew() -> None:
    state = provider(pos("1", "EURUSD"), pos("2", "GBPUSD", time=2))
    hedging = provider_keys(state, CopyRules(), "hedging", frozenset())
    assert list(provider_keys(state, CopyRules(), "netting", frozenset()).totals) == [
        "EURUSD",
        "GBPUSD",
    ]
    only_gbp = provider_keys(state, CopyRules(include=["GBP*"]), "hedging", frozenset())
    assert list(only_gbp.totals) == ["p2"]
    assert only_gbp.entries[0][1] is None  # EURUSD: not copied, and why
    assert "include" in only_gbp.entries[0][2]
    equal_state = msgspec.structs.replace(state)  # equal, but another state object
    assert provider_keys(equal_state, CopyRules(), "hedging", frozenset()) is not hedging
    assert follower_symbols(state, CopyRules(suffix=".m")) == {"EURUSD.m", "GBPUSD.m"}
    assert follower_symbols(state, CopyRules()) == {"EURUSD", "GBPUSD"}


def test_accounts_with_other_rules_planned_in_turn_get_their_own_plans() -> None:
    """The engine plans one state for many accounts, rules alternating: each plan is what
    planning that account alone gives."""
    state = provider(pos("1", "EURUSD", "buy", 1.0), pos("2", "XAUUSD", "sell", 2.0, time=2))
    accounts = [
        (CopyRules(multiplier=2.0), follower("hedging")),
        (CopyRules(include=["XAU*"]), follower("netting")),
        (CopyRules(reverse=True), follower("hedging", balance=20_000)),
        (CopyRules(multiplier=2.0), follower("netting")),
    ]
    alone = []
    for rules, view in accounts:
        provider_keys(provider(), CopyRules(), "hedging", frozenset())  # forget the memo
        alone.append(plan(state, view, rules, NOW))
    in_turn = [plan(state, view, rules, NOW) for rules, view in accounts * 2]
    assert in_turn == alone * 2
    assert {k: t.side for k, t in in_turn[2].target.items()} == {"p1": "sell", "p2": "buy"}
