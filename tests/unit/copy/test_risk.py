"""Risk limits (copy/risk.py), by hand: period boundaries in a time zone, drawdown from the
period's high, a halt that holds until the period ends, and what halted limits ask."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from tradewire.clients.risk_guard import RiskBook, load_book, resume, save_book
from tradewire.copy.risk import LimitState, RiskLimit, action_of, check, period_start
from tradewire.copy.rules import parse_rules
from tradewire.exceptions import ConfigError
from tradewire.model import Account


def ms(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize(
    ("period", "zone", "now", "start"),
    [
        ("day", "UTC", "2026-12-07T15:30:00+00:00", "2026-12-07T00:00:00+00:00"),
        # 01:00 UTC on Monday is 10:00 in Tokyo: its day began at 15:00 UTC on Sunday
        ("day", "Asia/Tokyo", "2026-12-07T01:00:00+00:00", "2026-12-06T15:00:00+00:00"),
        ("week", "UTC", "2026-12-10T09:00:00+00:00", "2026-12-07T00:00:00+00:00"),  # Monday
        ("month", "Europe/London", "2026-12-31T23:59:00+00:00", "2026-12-01T00:00:00+00:00"),
        ("month", "Europe/London", "2026-07-15T12:00:00+00:00", "2026-06-30T23:00:00+00:00"),
    ],
)
def test_periods_begin_at_midnight_in_the_rules_time_zone(
    period: str, zone: str, now: str, start: str
) -> None:
    assert period_start(period, ms(now), zone, 0) == ms(start)  # type: ignore[arg-type]
    assert period_start("lifetime", ms(now), zone, 123) == 123


def account(equity: float, balance: float = 10_000) -> Account:
    return Account("f", "USD", balance, equity, 100, "netting")


DAY_5 = RiskLimit("day", 5)


def test_the_drawdown_is_from_the_periods_high_and_the_halt_holds() -> None:
    now = ms("2026-12-07T09:00:00+00:00")
    book, tripped = check([DAY_5], {}, account(10_000), now, "UTC", 0)
    book, tripped = check([DAY_5], book, account(10_400), now + 1, "UTC", 0)  # the high
    book, tripped = check([DAY_5], book, account(9_890), now + 2, "UTC", 0)  # 4.9% down
    assert tripped == [] and action_of([DAY_5], book) == ""
    book, tripped = check([DAY_5], book, account(9_880), now + 3, "UTC", 0)  # 5.0% down
    assert len(tripped) == 1 and "is 5.00% below its high of 10,400.00" in tripped[0]
    book, tripped = check([DAY_5], book, account(10_500), now + 4, "UTC", 0)  # back up
    assert tripped == [] and action_of([DAY_5], book) == "halt"  # still halted today
    tomorrow = ms("2026-12-08T00:00:01+00:00")
    book, tripped = check([DAY_5], book, account(10_500), tomorrow, "UTC", 0)
    assert action_of([DAY_5], book) == "" and book[DAY_5.name].high == 10_500


def test_balance_basis_and_close_action() -> None:
    limit = RiskLimit("lifetime", 10, basis="balance", action="close")
    book, _ = check([limit], {}, account(5_000, balance=10_000), 1, "UTC", 0)
    assert action_of([limit], book) == ""  # equity is not what this limit watches
    book, tripped = check([limit], book, account(5_000, balance=8_999), 2, "UTC", 0)
    assert tripped and action_of([limit, DAY_5], book) == "close"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"timezone": "Mars/Base"}, "not an IANA time zone"),
        ({"risk_limit": [{"period": "dai", "max_drawdown_percent": 5}]}, "risk_limit[0].period"),
        ({"risk_limit": [{"period": "day", "max_drawdown_percent": 0}]}, "max_drawdown_percent"),
        ({"risk_limit": [{"period": "day", "max_drawdown_percent": 101}]}, "max_drawdown_percent"),
        (
            {"risk_limit": [{"period": "day", "max_drawdown_percent": p} for p in (5, 3)]},
            "two risk_limit tables halt on the day equity drawdown",
        ),
        ({"risk_limit": [{"period": "day", "max_drawdown_percent": 5, "when": 1}]}, "when"),
    ],
)
def test_bad_limits_are_refused_at_start_naming_the_key(
    rules: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_rules(rules)


def test_resume_lifts_every_halt_and_starts_each_high_afresh(tmp_path: Path) -> None:
    path = tmp_path / "follow.risk.json"
    halted = LimitState(5, 10_400.0, "day equity drawdown 5% reached: ...")
    save_book(path, RiskBook(1, {DAY_5.name: halted, "x": LimitState(5, 9.0)}))
    assert resume(path) == [DAY_5.name]
    book = load_book(path, 0)
    assert [(s.halted, s.high) for s in book.limits.values()] == [("", 0.0), ("", 0.0)]
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"follow\.risk\.json"):
        load_book(path, 0)
