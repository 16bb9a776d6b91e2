"""A follower's risk limits at work (copy/risk.py holds the rules): read the account each round,
halt or close when a limit trips, journal and log it, and keep the book in a file beside the
journal (``follow-bob.risk.json``) so that a restart neither forgets a halt nor the day's high.

``tradewire follow ... --resume`` clears every halt in that file (and starts each limit's high
afresh from the account as it is); a running follower sees the change within a round.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from tradewire.clients.breakers import mtime_ns
from tradewire.clients.journal import Journal
from tradewire.clock import Clock, now_ms
from tradewire.copy.risk import LimitState, action_of, check
from tradewire.copy.rules import CopyRules
from tradewire.copy.targets import ProviderState
from tradewire.exceptions import ConfigError
from tradewire.model import Account, PendingOrder

log = logging.getLogger(__name__)


class RiskBook(msgspec.Struct):
    first_ms: int  # when the follower first ran: where "lifetime" begins
    limits: dict[str, LimitState] = {}


def risk_path(journal: Path) -> Path:
    return journal.with_suffix(".risk.json")


def load_book(path: Path | None, now: int) -> RiskBook:
    if path is None or not path.exists():
        return RiskBook(now)
    try:
        return msgspec.json.decode(path.read_bytes(), type=RiskBook)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(
            f"{path}: {exc} (deleting it forgets today's high and any halt: only if you mean to)"
        ) from None


def save_book(path: Path, book: RiskBook) -> None:
    partial = path.with_suffix(".tmp")
    partial.write_bytes(msgspec.json.encode(book))
    os.replace(partial, path)


def resume(path: Path) -> list[str]:
    """Clear every halt (``--resume``); each limit's high starts again from the account."""
    book = load_book(path, 0)
    halted = sorted(name for name, state in book.limits.items() if state.halted)
    for state in book.limits.values():
        state.halted, state.high = "", 0.0
    save_book(path, book)
    return halted


class RiskGuard:
    def __init__(
        self, journal: Journal, clock: Clock, who: str = "", path: Path | None = None
    ) -> None:
        """``path``: the book's file (default: beside the journal, ``risk_path``)."""
        self.journal, self.clock, self.who = journal, clock, who
        self._path = path or (risk_path(journal.path) if journal.path else None)
        self.book = load_book(self._path, now_ms(clock))
        self._seen = mtime_ns(self._path) if self._path else 0

    def action(self, rules: CopyRules) -> str:
        """What the halted limits ask now: "close", "halt" or ""."""
        return action_of(rules.risk_limit, self.book.limits)

    def apply(
        self, account: Account, state: ProviderState, rules: CopyRules
    ) -> tuple[ProviderState, CopyRules]:
        """This round's account read: the state and rules the plan is made from (reduce-only
        while a limit halts; an empty target while one closes)."""
        if not rules.risk_limit:
            return state, rules
        if self._path is not None and mtime_ns(self._path) != self._seen:
            self.book = load_book(self._path, self.book.first_ms)  # --resume, by a person
        now = now_ms(self.clock)
        before = {name for name, s in self.book.limits.items() if s.halted}
        limits, tripped = check(
            rules.risk_limit, self.book.limits, account, now, rules.timezone, self.book.first_ms
        )
        after = {name for name, s in limits.items() if s.halted}
        for reason in tripped:
            log.error("%srisk limit: %s", self.who, reason)
            self.journal.write("halt", now, reason=reason)
        for name in sorted(before - after):
            log.warning("%srisk limit %s resumed", self.who, name)
            self.journal.write("resume", now, limit=name)
        if limits != self.book.limits:
            self.book = RiskBook(self.book.first_ms, limits)
            if self._path is not None:
                save_book(self._path, self.book)
                self._seen = mtime_ns(self._path)
        return self.adjusted(state, rules)

    def halts(self) -> list[str]:
        """Why each halted limit halted."""
        return [s.halted for s in self.book.limits.values() if s.halted]

    def adjusted(self, state: ProviderState, rules: CopyRules) -> tuple[ProviderState, CopyRules]:
        """The state and rules to plan from, as the limits stand (no new reading)."""
        action = self.action(rules)
        if not action:
            return state, rules
        rules = msgspec.structs.replace(rules, close_only=True)
        if action == "close":
            orders: list[PendingOrder] | None = [] if state.orders is not None else None
            state = msgspec.structs.replace(state, positions=[], orders=orders)
        return state, rules
