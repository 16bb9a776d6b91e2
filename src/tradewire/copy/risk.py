"""Risk limits (pure): a drawdown per day, week, month or over the follower's life halts it
(no new exposure) or closes everything copied, until the next period or a person resumes it
(docs/copying.md).

The drawdown of a limit is how far the account's balance or equity is below the highest value
it had since its period began, in percent of that high: a day that starts at 10,000, rises to
10,400 and falls to 9,880 is 5% down. Periods begin at midnight in the rules' ``timezone``;
weeks on Monday; ``lifetime`` when the follower first ran.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

import msgspec

from tradewire.model import Account

Period = Literal["day", "week", "month", "lifetime"]


class RiskLimit(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``[[risk_limit]]`` in a rules file."""

    period: Period
    max_drawdown_percent: Annotated[float, msgspec.Meta(gt=0, le=100)]
    basis: Literal["balance", "equity"] = "equity"
    action: Literal["halt", "close"] = "halt"  # halt: no new exposure; close: also close all

    @property
    def name(self) -> str:
        return f"{self.period} {self.basis} drawdown {self.max_drawdown_percent:g}%"


class LimitState(msgspec.Struct):
    """One limit's book, kept beside the journal (clients/risk_guard.py)."""

    period_start_ms: int
    high: float
    halted: str = ""  # why, while halted


def period_start(period: Period, now_ms: int, timezone: str, first_ms: int) -> int:
    """When the period holding ``now_ms`` began, in ms (``lifetime``: ``first_ms``)."""
    if period == "lifetime":
        return first_ms
    zone = ZoneInfo(timezone)
    now = datetime.datetime.fromtimestamp(now_ms / 1000, zone)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= datetime.timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    # midnight may not exist (or exist twice) on a clock change: fold to a real instant
    return int(start.astimezone(datetime.UTC).timestamp() * 1000)


def check(
    limits: Sequence[RiskLimit],
    book: dict[str, LimitState],
    account: Account,
    now_ms: int,
    timezone: str,
    first_ms: int,
) -> tuple[dict[str, LimitState], list[str]]:
    """The book after this reading of the account, and the reasons of limits that trip now
    (halted ones stay halted until their period ends or a person resumes them)."""
    after: dict[str, LimitState] = {}
    tripped: list[str] = []
    for limit in limits:
        value = account.balance if limit.basis == "balance" else account.equity
        start = period_start(limit.period, now_ms, timezone, first_ms)
        state = book.get(limit.name)
        if state is None or state.period_start_ms != start:
            state = LimitState(start, value)  # a new period: its high starts here
        high = max(state.high, value)
        halted = state.halted
        down = (high - value) / high * 100 if high > 0 else 0.0
        if not halted and down >= limit.max_drawdown_percent:
            halted = (
                f"{limit.name} reached: {limit.basis} {value:,.2f} is {down:.2f}% below its "
                f"high of {high:,.2f} this {limit.period}: "
                + ("no new exposure" if limit.action == "halt" else "closing everything copied")
                + " until the period ends or `tradewire follow ... --resume`"
            )
            tripped.append(halted)
        after[limit.name] = LimitState(start, high, halted)
    return after, tripped


def action_of(limits: Sequence[RiskLimit], book: dict[str, LimitState]) -> str:
    """What the halted limits ask now: "close", "halt" or ""."""
    halted = [limit for limit in limits if book.get(limit.name, _NONE).halted]
    if any(limit.action == "close" for limit in halted):
        return "close"
    return "halt" if halted else ""


_NONE = LimitState(0, 0.0)
