"""Table-driven tests of sizing, symbol mapping and guards (pure; no I/O)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tradewire.brokers.symbols import resolve
from tradewire.copy import CopyRules, FollowerView, ProviderState, plan
from tradewire.copy.mapping import map_symbol
from tradewire.copy.rules import DEFAULT_MAGIC, parse_rules
from tradewire.exceptions import ConfigError
from tradewire.model import Account, Position, Quote

NOW = 1_700_000_100_000


def provider(
    *positions: Position, mode: str = "hedging", balance: float = 10_000, ts: int = NOW
) -> ProviderState:
    account = Account("p", "USD", balance, balance, 100, mode)  # type: ignore[arg-type]
    return ProviderState(account, list(positions), ts)


def pos(
    pid: str,
    symbol: str = "EURUSD",
    side: str = "buy",
    volume: float = 1.0,
    price: float = 1.085,
    time: int = 1,
) -> Position:
    return Position(pid, symbol, side, volume, price, time)  # type: ignore[arg-type]


def follower(
    mode: str = "netting",
    balance: float = 5_000,
    equity: float | None = None,
    positions: list[Position] | None = None,
    suffix: str = "",
    quotes: dict[str, Quote] | None = None,
) -> FollowerView:
    symbols = ["EURUSD", "GBPUSD", "XAUUSD", "US30", "USDJPY"]
    specs = {f"{s}{suffix}": resolve(f"{s}{suffix}", suffix) for s in symbols}
    equity = balance if equity is None else equity
    account = Account("f", "USD", balance, equity, 100, mode)  # type: ignore[arg-type]
    return FollowerView(account, positions or [], specs, quotes or {})


def volumes(result: Any) -> dict[str, tuple[str, str, float]]:
    return {k: (t.symbol, t.side, t.volume) for k, t in result.target.items()}


@pytest.mark.parametrize(
    ("rules", "volume", "expected"),
    [
        (CopyRules(), 1.0, 1.0),
        (CopyRules(multiplier=2), 0.25, 0.5),
        (CopyRules(multiplier=0.333), 1.0, 0.33),
        (CopyRules(multiplier=0.335), 1.0, 0.33),  # ties round down: 0.335 -> 0.33
        (CopyRules(multiplier=0.3351), 1.0, 0.34),
        (CopyRules(sizing="fixed", fixed_volume=0.1), 7.0, 0.1),
        (CopyRules(sizing="balance"), 1.0, 0.5),  # follower 5,000 vs provider 10,000
        (CopyRules(sizing="balance", multiplier=3), 0.1, 0.15),
        (CopyRules(sizing="equity"), 1.0, 0.25),  # follower equity 2,500
        (CopyRules(max_volume=0.3), 1.0, 0.3),
        (CopyRules(min_volume=0.5), 0.4, None),
        (CopyRules(multiplier=0.001), 1.0, None),  # below the symbol's 0.01 minimum
    ],
)
def test_sizing(rules: CopyRules, volume: float, expected: float | None) -> None:
    result = plan(provider(pos("1", volume=volume)), follower(equity=2_500), rules, NOW)
    if expected is None:
        assert result.target == {} and "below the minimum" in result.skips[0].reason
    else:
        assert volumes(result) == {"EURUSD": ("EURUSD", "buy", expected)}


def test_max_total_volume_caps_a_symbol_across_positions() -> None:
    state = provider(
        pos("1", volume=0.4, time=1), pos("2", volume=0.4, time=2), pos("3", volume=0.4, time=3)
    )
    result = plan(state, follower("hedging"), CopyRules(max_total_volume=1.0), NOW)
    assert [t.volume for t in sorted(result.target.values(), key=lambda t: t.key)] == [
        0.4,
        0.4,
        0.2,
    ]
    result = plan(state, follower("netting"), CopyRules(max_total_volume=1.0), NOW)
    assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 1.0)}


@pytest.mark.parametrize(
    ("rules", "symbol", "expected"),
    [
        (CopyRules(), "EURUSD", "EURUSD"),
        (CopyRules(suffix=".m"), "EURUSD", "EURUSD.m"),
        (CopyRules(strip_suffix=".pro", suffix=".m"), "EURUSD.pro", "EURUSD.m"),
        (CopyRules(prefix="x", strip_prefix="#"), "#US30", "xUS30"),
        (CopyRules(symbol_map={"GOLD": "XAUUSD"}, suffix=".m"), "GOLD", "XAUUSD"),
        (CopyRules(include=["EUR*"]), "GBPUSD", None),
        (CopyRules(include=["EUR*"]), "EURUSD", "EURUSD"),
        (CopyRules(exclude=["XAU*"]), "XAUUSD", None),
    ],
)
def test_symbol_mapping(rules: CopyRules, symbol: str, expected: str | None) -> None:
    assert map_symbol(symbol, rules)[0] == expected


def test_unknown_symbols_are_skipped_with_a_reason_not_guessed() -> None:
    result = plan(provider(pos("1", symbol="GOLD")), follower(), CopyRules(), NOW)
    assert result.target == {}
    assert result.skips[0].symbol == "GOLD" and "not offered" in result.skips[0].reason
    result = plan(provider(pos("1")), follower(suffix=".m"), CopyRules(), NOW)
    assert result.target == {}  # EURUSD without the suffix rule is not EURUSD.m
    result = plan(provider(pos("1")), follower(suffix=".m"), CopyRules(suffix=".m"), NOW)
    assert volumes(result) == {"EURUSD.m": ("EURUSD.m", "buy", 1.0)}


def test_reverse_flips_sides() -> None:
    result = plan(
        provider(pos("1", side="sell", volume=0.3)),
        follower(),
        CopyRules(reverse=True, sizing="fixed", fixed_volume=0.1),
        NOW,
    )
    assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 0.1)}


@pytest.mark.parametrize(
    ("provider_mode", "follower_mode", "expected"),
    [
        (
            "netting",
            "netting",
            {"EURUSD": ("EURUSD", "buy", 0.5), "GBPUSD": ("GBPUSD", "sell", 0.2)},
        ),
        (
            "hedging",
            "netting",
            {"EURUSD": ("EURUSD", "buy", 0.2), "GBPUSD": ("GBPUSD", "sell", 0.2)},
        ),
        (
            "hedging",
            "hedging",
            {
                "p1": ("EURUSD", "buy", 0.5),
                "p2": ("EURUSD", "sell", 0.3),
                "p3": ("GBPUSD", "sell", 0.2),
            },
        ),
        (
            "netting",
            "hedging",
            {"sEURUSD": ("EURUSD", "buy", 0.5), "sGBPUSD": ("GBPUSD", "sell", 0.2)},
        ),
    ],
)
def test_account_mode_pairs(
    provider_mode: str, follower_mode: str, expected: dict[str, tuple[str, str, float]]
) -> None:
    positions = [pos("1", volume=0.5), pos("3", "GBPUSD", "sell", 0.2)]
    if provider_mode == "hedging":
        positions.insert(1, pos("2", side="sell", volume=0.3))
    result = plan(
        provider(*positions, mode=provider_mode), follower(follower_mode), CopyRules(), NOW
    )
    assert volumes(result) == expected


def held(
    symbol: str,
    side: str,
    volume: float,
    key: str | None = None,
    magic: int = DEFAULT_MAGIC,
    pid: str = "50",
) -> Position:
    comment = f"tw:{key}" if key else "tw"
    return Position(pid, symbol, side, volume, 1.0, 1, magic=magic, comment=comment)  # type: ignore[arg-type]


def test_max_deviation_blocks_adding_but_not_reducing() -> None:
    quotes = {"EURUSD": Quote("EURUSD", 1.0870, 1.0871, NOW)}  # ask 260 points above entry
    rules = CopyRules(max_deviation_points=100)
    result = plan(provider(pos("1", volume=1.0, price=1.0845)), follower(quotes=quotes), rules, NOW)
    assert result.target == {} and "points worse" in result.skips[0].reason
    # Holding 0.5 of a target of 1.0: stays at 0.5 (no add), and a cut to 0.2 goes through.
    have = [held("EURUSD", "buy", 0.5)]
    result = plan(
        provider(pos("1", volume=1.0, price=1.0845)),
        follower(positions=have, quotes=quotes),
        rules,
        NOW,
    )
    assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 0.5)}
    result = plan(
        provider(pos("1", volume=0.2, price=1.0845)),
        follower(positions=have, quotes=quotes),
        rules,
        NOW,
    )
    assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 0.2)}
    ok_quotes = {"EURUSD": Quote("EURUSD", 1.0849, 1.0850, NOW)}  # 50 points: within 100
    result = plan(
        provider(pos("1", volume=1.0, price=1.0845)),
        follower(positions=have, quotes=ok_quotes),
        rules,
        NOW,
    )
    assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 1.0)}


def test_stale_signals_and_close_only_may_only_reduce() -> None:
    have = [held("EURUSD", "buy", 0.5), held("GBPUSD", "sell", 0.3, pid="51")]
    state = provider(
        pos("1", volume=1.0),
        pos("2", "GBPUSD", "buy", 0.3),
        pos("3", "XAUUSD", volume=0.1),
        ts=NOW - 60_000,
    )
    for rules in (CopyRules(max_signal_age_s=30), CopyRules(close_only=True)):
        result = plan(state, follower(positions=have), rules, NOW)
        # EURUSD held, not grown; GBPUSD would flip: closed instead; XAUUSD not opened.
        assert volumes(result) == {"EURUSD": ("EURUSD", "buy", 0.5)}
        assert result.reduce_only
    fresh = plan(state, follower(positions=have), CopyRules(max_signal_age_s=120), NOW)
    assert len(fresh.target) == 3 and not fresh.reduce_only


def test_stop_equity_closes_everything_copied() -> None:
    have = [held("EURUSD", "buy", 0.5)]
    result = plan(
        provider(pos("1")), follower(equity=900, positions=have), CopyRules(stop_equity=1000), NOW
    )
    assert result.stopped and result.target == {}
    assert "below stop_equity" in result.skips[0].reason


def test_positions_of_other_magics_are_left_alone() -> None:
    mine = held("EURUSD", "buy", 0.5)
    manual = held("GBPUSD", "buy", 1.0, magic=0, pid="77")
    result = plan(provider(), follower(positions=[mine, manual]), CopyRules(), NOW)
    assert result.target == {}  # EURUSD is to be closed; GBPUSD is not ours: not in the plan


def test_plan_is_pure() -> None:
    """The same inputs give the same plan, and planning changes none of its inputs (a copy of
    each, taken before, still equals it after)."""
    state = provider(pos("1", volume=0.7), pos("2", "XAUUSD", "sell", 0.2))
    view = follower("hedging")
    rules = CopyRules()
    before = copy.deepcopy((state, view, rules))
    first = plan(state, view, rules, NOW)
    assert (state, view, rules) == before
    assert first == plan(*before, NOW)
    assert first.target  # a plan with targets: purity of an empty plan would prove little


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"multiplier": 0}, "multiplier"),
        ({"sizing": "kelly"}, "sizing"),
        ({"symbol_map": {"EUR USD": "X"}}, "symbol_map"),
        ({"suffix": "m m"}, "suffix"),
        ({"max_volumes": 1}, "max_volumes"),
    ],
)
def test_bad_rules_name_the_key(data: dict[str, object], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules(data)
    assert named in str(caught.value)


def test_a_hedging_link_is_sized_once_then_follows_partial_closes_in_proportion() -> None:
    rules = CopyRules(sizing="balance")
    fresh = plan(provider(pos("9", volume=1.0)), follower("hedging", balance=5_000), rules, NOW)
    (target,) = fresh.target.values()
    assert (target.volume, target.comment) == (0.5, "tw:p9:1:0.5")
    # Held at 0.5 and the follower's balance has since doubled: no drift, no churn.
    have = [
        Position("70", "EURUSD", "buy", 0.5, 1.0, 1, magic=DEFAULT_MAGIC, comment="tw:p9:1:0.5")
    ]
    same = plan(
        provider(pos("9", volume=1.0)),
        follower("hedging", balance=10_000, positions=have),
        rules,
        NOW,
    )
    assert volumes(same) == {"p9": ("EURUSD", "buy", 0.5)}
    # The provider closes 60 %: the follower closes 60 % of its copy.
    partial = plan(
        provider(pos("9", volume=0.4)),
        follower("hedging", balance=10_000, positions=have),
        rules,
        NOW,
    )
    assert volumes(partial) == {"p9": ("EURUSD", "buy", 0.2)}
    assert partial.target["p9"].comment == "tw:p9:1:0.5"  # further copies keep the link


def test_links_parse_and_long_ids_fall_back_to_the_bare_key() -> None:
    from tradewire.copy.plan import Link, link_comment, parse_link

    assert parse_link("tw:p12:1.5:0.75") == Link("p12", 1.5, 0.75)
    assert parse_link("tw:sEURUSD") == Link("sEURUSD")
    assert parse_link("tw:p1:x:y") == Link("p1")
    assert parse_link("manual") is None
    assert link_comment("p" + "9" * 30, 1.0, 1.0) == "tw:p" + "9" * 30
    assert len(link_comment("p123456789", 12.34, 5.67)) <= 31


def test_by_default_a_state_older_than_a_minute_opens_nothing() -> None:
    """A follower started today must not open a provider's state from 2023 (issue 12, 8)."""
    from_2023 = provider(pos("1", volume=1.0), ts=1_690_000_000_000)
    result = plan(from_2023, follower(), CopyRules(), NOW)
    assert result.target == {} and result.reduce_only
    assert "only reducing exposure" in result.skips[-1].reason
    assert "max_signal_age_s" in result.skips[-1].reason  # says why, and what to change
    minute_old = plan(provider(pos("1"), ts=NOW - 59_000), follower(), CopyRules(), NOW)
    assert len(minute_old.target) == 1  # within the default 60 s it is copied
    unguarded = plan(from_2023, follower(), CopyRules(max_signal_age_s=0), NOW)
    assert len(unguarded.target) == 1  # 0 turns the guard off, on purpose


def test_a_rules_error_points_to_the_copying_docs_and_says_no_top_level() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_rules({"colour": 1}, "r.toml")
    assert (
        str(caught.value)
        == "r.toml: colour: unknown key (see docs/copying.md for the keys there are)"
    )
    with pytest.raises(ConfigError) as caught:
        parse_rules({"sizing": "fixed"}, "r.toml")
    assert str(caught.value) == 'r.toml: sizing = "fixed" needs fixed_volume (lots)'
