"""The provider's side of a plan, memoised per state (copy/provider_keys.py): reused only for
the same state with equal rules, mode and triggered orders, and never changing a plan."""

from __future__ import annotations

import random

import msgspec

from tests.unit.copy.test_plan import follower, pos, provider
from tradewire.copy import CopyRules, plan
from tradewire.copy import provider_keys as provider_keys_module
from tradewire.copy.provider_keys import follower_symbols, provider_keys
from tradewire.model import PendingOrder

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


def test_planning_many_accounts_in_any_order_is_planning_each_alone() -> None:
    """Seeded random accounts (rules, mode, holdings, triggered orders) and provider states,
    planned in a shuffled order: every plan equals the one made with the memo forgotten."""
    rng = random.Random(28)
    symbols = ["EURUSD", "GBPUSD", "XAUUSD", "US30", "USDJPY"]
    rule_sets = [
        CopyRules(),
        CopyRules(multiplier=0.5),
        CopyRules(reverse=True),
        CopyRules(include=["EUR*", "XAU*"]),
        CopyRules(exclude=["US30"]),
        CopyRules(sizing="fixed", fixed_volume=0.3),
        CopyRules(sizing="balance"),
        CopyRules(symbol_map={"XAUUSD": "GBPUSD"}),
    ]
    states = []
    for n in range(6):
        positions = [
            pos(
                f"{n}{i}",
                rng.choice(symbols),
                rng.choice(["buy", "sell"]),
                0.1 * rng.randint(1, 20),
            )
            for i in range(rng.randint(0, 8))
        ]
        positions = [msgspec.structs.replace(p, time=rng.randint(1, 5)) for p in positions]
        orders = [PendingOrder(f"o{n}{i}", rng.choice(symbols), "buy_limit", 0.5, 1.0, time=i)
                  for i in range(rng.randint(0, 2))]  # fmt: skip
        base = provider(*positions, mode=rng.choice(["hedging", "netting"]))
        states.append(msgspec.structs.replace(base, orders=orders))
    # Every state with every mode, triggered set and rules, in a row: consecutive accounts share
    # the state and differ in one input, which the memo must notice; then shuffled.
    accounts = []
    for state in states:
        everything = frozenset(o.id for o in state.orders or [])
        for mode in ("hedging", "netting"):
            for rules in rule_sets:
                for fired in (frozenset(), everything):
                    view = msgspec.structs.replace(follower(mode), triggered=fired)
                    accounts.append((state, view, rules))
    alone = []
    for state, view, rules in accounts:
        provider_keys_module._last = None
        provider_keys_module._last_symbols = None
        alone.append((plan(state, view, rules, NOW), follower_symbols(state, rules)))
    order = list(range(len(accounts)))
    for shuffled in (False, True, True):
        if shuffled:
            rng.shuffle(order)
        for k in order:
            state, view, rules = accounts[k]
            assert (plan(state, view, rules, NOW), follower_symbols(state, rules)) == alone[k]
