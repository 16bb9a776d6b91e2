"""A netting account that follows several channels (copy/portfolio.py says how): one follower,
one magic, one order per change of the summed target, each channel's share booked in
``JOURNAL.shares.json`` beside the journal so that a restart plans each channel against the
share it had. Each channel keeps its own rules, its own risk limits (``JOURNAL.CHANNEL.risk.json``)
and its own stop_equity; the account's runaway breaker, order slots and retries are shared.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from tradewire.brokers.base import Broker
from tradewire.clients.account_view import read_view
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.clients.risk_guard import RiskGuard, risk_path
from tradewire.clock import Clock, now_ms
from tradewire.copy import CopyRules, FollowerView, Plan, ProviderState
from tradewire.copy.portfolio import Channel, Shares, plan_portfolio, rebook
from tradewire.exceptions import ConfigError

log = logging.getLogger(__name__)


def shares_path(journal: Path) -> Path:
    return journal.with_suffix(".shares.json")


def load_shares(path: Path | None) -> Shares:
    if path is None or not path.exists():
        return {}
    try:
        return msgspec.json.decode(path.read_bytes(), type=Shares)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ConfigError(f"{path}: {exc} (it books each channel's share of the account)") from None


class PortfolioFollower(Follower):
    """Copies ``channels`` (name -> its rules) onto one netting account, marking its orders
    with ``magic``."""

    def __init__(
        self,
        broker: Broker,
        channels: Mapping[str, CopyRules],
        *,
        magic: int,
        journal: Journal,
        clock: Clock | None = None,
        name: str = "",
        **options: Any,
    ) -> None:
        for channel, rules in channels.items():
            if rules.sizing == "risk":  # shares are not sized once: a trailed stop would add
                raise ConfigError(
                    f'channel {channel}: sizing = "risk" is not offered on a netting account '
                    "with several channels yet; use balance or equity sizing with "
                    "max_trade_risk, which caps each copy's risk"
                )
        base = CopyRules(magic=magic)
        super().__init__(
            broker, ",".join(channels), base, journal=journal, clock=clock, name=name, **options
        )
        self.channel_rules = dict(channels)
        self.states: dict[str, ProviderState] = {}
        self.ended: set[str] = set()  # channels stopped at their stop_equity
        self._shares_path = shares_path(journal.path) if journal.path else None
        self.shares = load_shares(self._shares_path)
        self.risks = {
            channel: RiskGuard(
                self.journal,
                self.clock,
                f"{self.guard.who}{channel}: ",
                risk_path(journal.path.with_suffix(f".{channel}.jsonl")) if journal.path else None,
            )
            for channel in channels
        }

    @property
    def channels(self) -> list[str]:
        return list(self.channel_rules)

    def accept(self, state: ProviderState, stamps: list[int], channel: str = "") -> None:
        if channel in self.channel_rules:
            self.states[channel] = state
            super().accept(state, stamps)  # the newest: its seq and time in the journal

    async def view(self) -> FollowerView:
        sources = [(self.states.get(c), rules) for c, rules in self.channel_rules.items()]
        return await read_view(self.broker, self.rules, None, self._ledger, self._triggers, sources)

    def _channels(self, view: FollowerView | None) -> list[Channel]:
        """Each channel as planned now: its risk limits read from ``view`` (None: as they
        last stood, for --explain)."""
        channels = []
        for name, rules in self.channel_rules.items():
            own_state = self.states.get(name)
            if own_state is not None and name not in self.ended:
                risk = self.risks[name]
                own_state, rules = (
                    risk.apply(view.account, own_state, rules)
                    if view is not None
                    else risk.adjusted(own_state, rules)
                )
            channels.append(Channel(name, own_state, rules, name in self.ended))
        return channels

    def explain(self) -> dict[str, str]:
        notes: dict[str, str] = {}
        if self.last_view is not None:
            plan_portfolio(
                self._channels(None), self.last_view, self.shares, now_ms(self.clock), notes
            )
        for name, risk in self.risks.items():
            for n, reason in enumerate(risk.halts()):
                notes[f"{name}.risk{n + 1}"] = f"halted: {reason}"
        return notes

    def halts(self) -> list[str]:
        held = [f"{name}: {why}" for name, risk in self.risks.items() for why in risk.halts()]
        return held + [f"{name}: stopped at stop_equity" for name in sorted(self.ended)]

    def _plan(self, state: ProviderState, view: FollowerView, stamp: int) -> Plan:
        channels = self._channels(view)
        result, wanted, stopped = plan_portfolio(channels, view, self.shares, stamp)
        for name in sorted(stopped - self.ended):
            log.warning("%s%s: stop_equity reached: closing its share", self.guard.who, name)
            self.journal.write(
                "stopped", now_ms(self.clock), channel=name,
                reason=f"{name}: stop_equity reached; its share is closed",
            )  # fmt: skip
        self.ended |= stopped
        own = {s: h.own for s, h in (view.holdings or {}).items()}
        shares = rebook(self.shares, wanted, own)
        if shares != self.shares:
            self.shares = shares
            if self._shares_path is not None:
                partial = self._shares_path.with_suffix(".tmp")
                partial.write_bytes(msgspec.json.encode(shares))
                os.replace(partial, self._shares_path)
        return result
