"""What one follower round reads from its broker: the account, its positions and pending
orders, the follower's own share of each netting position, and the specs and quotes of every
symbol involved (copy/targets.py ``FollowerView``)."""

from __future__ import annotations

import asyncio
import typing
from collections.abc import Sequence

from tradewire.brokers.base import Broker, HeldInMemory
from tradewire.clients.ownership import DealLedger
from tradewire.clients.triggers import TriggerWatch
from tradewire.copy import CopyRules, FollowerView, ProviderState
from tradewire.copy.provider_keys import follower_symbols
from tradewire.copy.targets import managed
from tradewire.exceptions import BrokerError
from tradewire.model import Quote, SymbolSpec


async def read_view(
    broker: Broker,
    rules: CopyRules,
    state: ProviderState | None,
    ledger: DealLedger,
    triggers: TriggerWatch,
    channels: Sequence[tuple[ProviderState | None, CopyRules]] = (),
) -> FollowerView:
    """Read the follower's account as planning needs it. ``channels``: the states and rules
    of a portfolio's channels (clients/portfolio.py), instead of ``state`` with ``rules``."""
    sources = list(channels) or [(state, rules)]
    # getattr, not isinstance: a runtime protocol check walks the protocol's members, which
    # cost a thousand accounts' rounds more than the reading (measured)
    held_now = getattr(broker, "held_now", None)
    if held_now is not None:
        account, positions, orders = typing.cast(HeldInMemory, broker).held_now()
    else:  # a terminal or bridge: three requests in flight at once
        account, positions, orders = await asyncio.gather(
            broker.account(), broker.positions(), broker.orders()
        )
    holdings = None
    if account.mode == "netting":
        holdings = await ledger.holdings(positions)
    ours = managed(positions, rules)
    symbols = {p.symbol for p in ours}
    symbols.update(s for s, h in (holdings or {}).items() if abs(h.own) > 1e-9)
    symbols.update(o.symbol for o in orders if o.magic == rules.magic)
    for source, source_rules in sources:
        if source is None:
            continue
        symbols.update(follower_symbols(source, source_rules))
    rated = any(r.needs_rates for _, r in sources)
    if rated:  # max_leverage values every position, manual ones too
        symbols.update(p.symbol for p in positions)
    specs: dict[str, SymbolSpec | None] = {s: await broker.symbol(s) for s in symbols}
    quotes: dict[str, Quote] = {}
    if any(r.max_deviation_points is not None or stops_wanted(r, st) for st, r in sources) or rated:
        for symbol, spec in specs.items():
            if spec is not None:
                quotes[symbol] = await broker.quote(symbol)
    own_orders = [o for o in orders if o.magic == rules.magic]
    comments = [p.comment for p in ours] + sorted(ledger.comments)
    filled = await triggers.update(state, own_orders, positions, comments)
    rates = await read_rates(broker, specs, account.currency, rules) if rated else {}
    return FollowerView(account, positions, specs, quotes, holdings, filled, own_orders, rates)


async def read_rates(
    broker: Broker, specs: dict[str, SymbolSpec | None], currency: str, rules: CopyRules
) -> dict[str, float]:
    """One unit of each symbol's profit currency in the account's ``currency``, from the mid of
    the broker's cross (USDJPY gives JPY in USD as 1 / mid), named as the follower's symbols are
    (``prefix``/``suffix``) or plainly. A currency with no cross is left out: sizing that needs
    it says so in a skip rather than guess."""
    rates: dict[str, float] = {}
    wanted = {s.quote for s in specs.values() if s is not None} - {currency}
    for other in sorted(wanted):
        for pair, invert in ((other + currency, False), (currency + other, True)):
            mid = await _mid(broker, [rules.prefix + pair + rules.suffix, pair])
            if mid:
                rates[other] = 1 / mid if invert else mid
                break
    return rates


async def _mid(broker: Broker, names: list[str]) -> float | None:
    for name in dict.fromkeys(names):
        if await broker.symbol(name) is None:
            continue
        try:
            quote = await broker.quote(name)
        except BrokerError:
            continue  # offered but not quoted now (market closed): try the next name
        if quote.bid > 0 and quote.ask > 0:
            return (quote.bid + quote.ask) / 2
    return None


def stops_wanted(rules: CopyRules, state: ProviderState | None) -> bool:
    """Whether a round may place or move a stop (which needs the symbols' quotes)."""
    if "fixed" in (rules.copy_sl, rules.copy_tp):
        return True
    copies = rules.copy_sl != "no" or rules.copy_tp != "no"
    if not copies or state is None:
        return False
    return any(p.sl or p.tp for p in state.positions) or any(
        o.sl or o.tp for o in state.orders or []
    )
