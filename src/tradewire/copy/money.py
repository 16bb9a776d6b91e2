"""Sizing by money (pure): a copy sized so that a loss at its stop-loss costs a set share of the
account, a cap on that risk for any sizing, a cap on the account's leverage, and a floor on what
a new copy is worth (docs/copying.md "Sizing by risk").

Amounts are in the follower account's currency. A symbol's prices are in its profit currency
(``SymbolSpec.quote``); ``FollowerView.rates`` says what one unit of another currency is worth in
the account's (clients/account_view.py reads them from the broker's crosses, such as USDJPY).
"""

from __future__ import annotations

from dataclasses import dataclass

from tradewire.copy.rules import CopyRules
from tradewire.copy.sizing import floor_to_step
from tradewire.copy.stops import Stops
from tradewire.copy.targets import FollowerView
from tradewire.model import Side, SymbolSpec


def rate(currency: str, follower: FollowerView) -> float | None:
    """One unit of ``currency`` in the account's currency (None: no cross to convert by)."""
    if currency == follower.account.currency:
        return 1.0
    return follower.rates.get(currency)


def lot_value(spec: SymbolSpec, follower: FollowerView) -> float | None:
    """What a price move of 1.0 is worth on one lot, in the account's currency (the tick value
    divided by the tick size, as MT5 would say)."""
    quote_rate = rate(spec.quote, follower)
    return None if quote_rate is None else spec.contract_size * quote_rate


def price_of(symbol: str, follower: FollowerView, fallback: float) -> float:
    quote = follower.quotes.get(symbol)
    return (quote.bid + quote.ask) / 2 if quote is not None else fallback


def stop_distance(
    stops: Stops, side: Side, entry: float, spec: SymbolSpec, rules: CopyRules
) -> float:
    """How far the copy's stop-loss lies from ``entry`` on the losing side (price units; 0: the
    copy has no stop-loss to lose at, and ``default_sl_points`` gives none either). A stop
    moved to or past the entry (break-even, trailing) risks nothing, so the default applies."""
    if stops.sl_distance:
        return stops.sl_distance
    if stops.sl:
        below = entry - stops.sl if side == "buy" else stops.sl - entry
        if below > spec.point / 2:
            return below
    return (rules.default_sl_points or 0.0) * spec.point


def account_basis(follower: FollowerView, rules: CopyRules) -> float:
    account = follower.account
    return account.balance if rules.risk_basis == "balance" else account.equity


@dataclass(frozen=True)
class Risked:
    lots: float  # 0 when it cannot be sized (``reason`` says why)
    formula: str
    reason: str = ""


def risk_volume(
    symbol: str,
    spec: SymbolSpec,
    stops: Stops,
    side: Side,
    entry: float,
    follower: FollowerView,
    rules: CopyRules,
    percent: float,
) -> Risked:
    """Lots whose loss at the stop-loss is ``percent`` of the rules' basis."""
    distance = stop_distance(stops, side, entry, spec, rules)
    if not distance:
        return Risked(
            0.0, "", f"{symbol}: no stop-loss to size the risk by (set default_sl_points)"
        )
    value = lot_value(spec, follower)
    if value is None:
        return Risked(
            0.0, "", f"{symbol}: no rate to convert {spec.quote} to {follower.account.currency}"
        )
    amount = account_basis(follower, rules) * percent / 100
    points = distance / spec.point
    formula = (
        f"{amount:,.2f} ({percent:g}% of {rules.risk_basis}) / ({points:,.0f} points × "
        f"{value * spec.point:,.4g} {follower.account.currency} a point a lot)"
    )
    return Risked(amount / (distance * value), formula)


@dataclass
class Exposure:
    """The account's notional (lots × contract × price, in its currency), as a round's targets
    add to it: what ``max_leverage`` caps."""

    notional: float
    unknown: str = ""  # a held symbol that could not be valued: no opens while it is so

    @classmethod
    def of(cls, follower: FollowerView) -> Exposure:
        total, unknown = 0.0, ""
        for pos in follower.positions:
            spec = follower.specs.get(pos.symbol)
            value = lot_value(spec, follower) if spec is not None else None
            if value is None:
                unknown = unknown or pos.symbol
                continue
            total += pos.volume * value * price_of(pos.symbol, follower, pos.price)
        return cls(total, unknown)


def capped(
    volume: float,
    held: float,
    side: Side,
    symbol: str,
    spec: SymbolSpec,
    stops: Stops,
    entry: float,
    follower: FollowerView,
    rules: CopyRules,
    exposure: Exposure | None,
) -> tuple[float, list[str], str]:
    """``volume`` after ``max_trade_risk``, ``max_leverage`` and ``min_trade_amount``: (volume,
    the steps taken for --explain, the reason when nothing is left). ``held``: the signed
    volume the key holds; caps never force a close of what is held, only hold back more."""
    steps: list[str] = []
    same_side = held > 0 if side == "buy" else held < 0
    kept = min(abs(held), volume) if same_side else 0.0
    if rules.max_trade_risk is not None:
        most = risk_volume(symbol, spec, stops, side, entry, follower, rules, rules.max_trade_risk)
        room = max(floor_to_step(most.lots, spec), kept)
        if most.reason and volume > kept:
            return kept, steps, f"max_trade_risk: {most.reason}"
        if volume > room:
            volume = room
            steps.append(f"max_trade_risk {rules.max_trade_risk:g}% → {volume:g}")
    value = lot_value(spec, follower)
    notional_lot = None if value is None else value * price_of(symbol, follower, entry)
    if rules.max_leverage is not None and exposure is not None and volume > kept:
        if exposure.unknown or notional_lot is None:
            what = exposure.unknown or symbol
            return kept, steps, f"max_leverage: cannot value {what} in {follower.account.currency}"
        limit = rules.max_leverage * follower.account.equity
        # reaching ``volume`` from what is held changes the notional by (volume - |held|) lots
        # on the same side, and by (volume - |held|) too after a reversal closes the old side
        room = floor_to_step(max(limit - exposure.notional, 0.0) / notional_lot + abs(held), spec)
        if volume > room:
            volume = max(room, kept)
            steps.append(f"max_leverage {rules.max_leverage:g} × equity → {volume:g}")
            if not volume:
                return (
                    0.0,
                    steps,
                    (
                        f"max_leverage {rules.max_leverage:g} × equity = {limit:,.2f} "
                        f"{follower.account.currency} leaves no room for {symbol}: the account "
                        f"holds {exposure.notional:,.2f} of notional"
                    ),
                )
    if rules.min_trade_amount is not None and not held and volume:
        if notional_lot is None:
            return (
                0.0,
                steps,
                f"min_trade_amount: cannot value {symbol} in {follower.account.currency}",
            )
        worth = volume * notional_lot
        if worth < rules.min_trade_amount:
            return (
                0.0,
                steps,
                (
                    f"{symbol} copy worth {worth:,.2f} {follower.account.currency} is below "
                    f"min_trade_amount {rules.min_trade_amount:,.2f}"
                ),
            )
    if not volume:
        return 0.0, steps, f"{symbol}: " + (steps[-1] if steps else "nothing left after the caps")
    if exposure is not None and notional_lot is not None:  # what the later keys have left
        exposure.notional += (volume - abs(held)) * notional_lot
    return volume, steps, ""
