"""Pure account arithmetic for the paper broker: applying a fill, profit, margin, currencies.

The account currency is USD. Amounts in another currency are converted at the mid of the
USD cross (``USDJPY`` for JPY, ``EURUSD`` for EUR); index and metal notionals are converted
through their quote currency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

from tradewire.brokers.base import Mode, OrderRequest, Position, Side, SymbolSpec
from tradewire.brokers.symbols import CATALOGUE
from tradewire.exceptions import OrderRejected
from tradewire.model import DealEntry

Mid = Callable[[str], float | None]  # catalogue symbol -> mid price now
VOLUME_EPS = 1e-9


def to_usd(amount: float, currency: str, mid: Mid) -> float:
    """Convert ``amount`` of ``currency`` to USD at current mids."""
    if currency == "USD" or amount == 0:
        return amount
    if f"{currency}USD" in CATALOGUE and (rate := mid(f"{currency}USD")):
        return amount * rate
    if f"USD{currency}" in CATALOGUE and (rate := mid(f"USD{currency}")):
        return amount / rate
    raise OrderRejected("no_conversion", f"cannot convert {currency} to USD")


def profit(pos: Position, spec: SymbolSpec, close_price: float, volume: float, mid: Mid) -> float:
    """Profit in USD of closing ``volume`` of ``pos`` at ``close_price``."""
    sign = 1.0 if pos.side == "buy" else -1.0
    return to_usd(sign * (close_price - pos.price) * volume * spec.contract_size, spec.quote, mid)


def margin(spec: SymbolSpec, volume: float, price: float, leverage: int, mid: Mid) -> float:
    """Margin in USD for ``volume`` lots at ``price``."""
    notional_quote = volume * spec.contract_size * price
    if spec.base == "USD":
        return volume * spec.contract_size / leverage
    return to_usd(notional_quote, spec.quote, mid) / leverage


def check_volume(spec: SymbolSpec, volume: float) -> None:
    """Raise ``OrderRejected`` for a volume off the step or out of range."""
    steps = volume / spec.volume_step
    if abs(steps - round(steps)) > 1e-6:
        raise OrderRejected("volume_step", f"{volume} is not a multiple of {spec.volume_step}")
    if volume < spec.volume_min - VOLUME_EPS or volume > spec.volume_max + VOLUME_EPS:
        raise OrderRejected(
            "volume_range", f"{volume} outside {spec.volume_min}..{spec.volume_max}"
        )


@dataclass(frozen=True)
class Applied:
    """The result of one fill: the positions after it and the profit it realised."""

    positions: list[Position]
    realized: float
    position_id: str
    entry: DealEntry = "in"  # what the fill did to the position (MT5's DEAL_ENTRY_*)


def apply_fill(
    mode: Mode,
    positions: list[Position],
    order: OrderRequest,
    spec: SymbolSpec,
    price: float,
    time_ms: int,
    new_id: Callable[[], str],
    mid: Mid,
) -> Applied:
    """Positions after filling ``order`` at ``price``. Raises ``OrderRejected``."""
    if order.position_id is not None:
        return _reduce(positions, order, spec, price, mid)
    current = None
    if mode == "netting":
        current = next((p for p in positions if p.symbol == order.symbol), None)
    if current is None:  # hedging opens a position per order; netting when it has none
        opened = Position(
            new_id(),
            order.symbol,
            order.side,
            order.volume,
            price,
            time_ms,
            sl=order.sl,
            tp=order.tp,
            magic=order.magic,
            comment=order.comment,
        )
        return Applied([*positions, opened], 0.0, opened.id)
    others = [p for p in positions if p is not current]
    if current.side == order.side:
        total = current.volume + order.volume
        average = (current.price * current.volume + price * order.volume) / total
        stops = {"sl": order.sl, "tp": order.tp} if order.sl or order.tp else {}
        grown = replace_pos(
            current, volume=_round(total), price=round(average, spec.digits + 2), **stops
        )
        return Applied([*others, grown], 0.0, current.id)
    closing = min(order.volume, current.volume)
    realized = profit(current, spec, price, closing, mid)
    rest = _round(current.volume - order.volume)
    if rest > VOLUME_EPS:
        return Applied([*others, replace_pos(current, volume=rest)], realized, current.id, "out")
    if rest < -VOLUME_EPS:  # reversal: the remainder opens the other way
        # It keeps the position's identifier, as MT5 does ("position turnover doesn't change
        # its identifier"), so the position's deals tell who put what into it.
        flipped = Position(
            current.id,
            order.symbol,
            order.side,
            -rest,
            price,
            time_ms,
            sl=order.sl,
            tp=order.tp,
            magic=order.magic,
            comment=order.comment,
        )
        return Applied([*others, flipped], realized, flipped.id, "inout")
    return Applied(others, realized, current.id, "out")


def _reduce(
    positions: list[Position], order: OrderRequest, spec: SymbolSpec, price: float, mid: Mid
) -> Applied:
    current = next((p for p in positions if p.id == order.position_id), None)
    if current is None or current.symbol != order.symbol:
        raise OrderRejected("position_not_found", f"no {order.symbol} position {order.position_id}")
    if current.side == order.side:
        raise OrderRejected("invalid_side", "closing a position takes the opposite side")
    if order.volume > current.volume + VOLUME_EPS:
        raise OrderRejected(
            "volume_range", f"closing {order.volume} of a {current.volume} position"
        )
    realized = profit(current, spec, price, order.volume, mid)
    others = [p for p in positions if p is not current]
    rest = _round(current.volume - order.volume)
    if rest > VOLUME_EPS:
        return Applied([*others, replace_pos(current, volume=rest)], realized, current.id, "out")
    return Applied(others, realized, current.id, "out")


def replace_pos(pos: Position, **changes: object) -> Position:
    return msgspec.structs.replace(pos, **changes)


def _round(volume: float) -> float:
    return round(volume, 8)


def fill_price(side: Side, bid: float, ask: float) -> float:
    """Buys fill at the ask, sells at the bid."""
    return ask if side == "buy" else bid
