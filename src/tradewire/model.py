"""The one domain model: trading values used on the wire, by the copy logic and by the broker
adapters alike (pure data, no I/O). Field names are the wire's (PROTOCOL.md 1.1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec

Side = Literal["buy", "sell"]
OrderType = Literal[
    "buy_limit", "sell_limit", "buy_stop", "sell_stop", "buy_stop_limit", "sell_stop_limit"
]
Mode = Literal["netting", "hedging"]
# What a deal did to its position (MT5's DEAL_ENTRY_*): opened or added to it, reduced or
# closed it, reversed it (netting), or closed it by an opposite one.
DealEntry = Literal["in", "out", "inout", "out_by"]
# Every integer a client sends fits in SQLite's INTEGER (signed 64 bits), or the frame is refused.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
# A stop-loss or take-profit: 0 is none, anything else a finite price (inf, from 1e400 on the
# wire, and negatives are refused with the frame, so no crafted state can mean "no stop").
Level = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class SymbolSpec(msgspec.Struct, frozen=True):
    """Trading rules of one symbol on one broker."""

    name: str
    contract_size: float
    digits: int
    volume_min: float
    volume_step: float
    volume_max: float
    base: str  # base currency, or the index/metal code
    quote: str  # profit currency
    # SYMBOL_TRADE_STOPS_LEVEL: how many points from the price a stop-loss, take-profit or
    # pending order must be at least (0: no limit beyond the spread)
    stops_level: int = 0

    @property
    def point(self) -> float:
        return float(10.0**-self.digits)


class Quote(msgspec.Struct, frozen=True):
    symbol: str
    bid: float
    ask: float
    time_ms: int


class Account(msgspec.Struct, frozen=True, omit_defaults=True):
    """An account's summary: part of every published state, and what a broker reports."""

    login: str
    currency: str
    balance: float
    equity: float
    leverage: Int64
    mode: Mode
    margin: float = 0.0  # used margin (brokers report it; the wire may leave it out)

    @property
    def free_margin(self) -> float:
        return self.equity - self.margin


class Position(msgspec.Struct, frozen=True, omit_defaults=True):
    """One open position (``comment`` and ``magic`` carry a follower's copy links)."""

    id: str
    symbol: str
    side: Side
    volume: float
    price: float
    time: Int64  # opened, Unix ms
    sl: Level = 0.0
    tp: Level = 0.0
    magic: Int64 = 0
    comment: str = ""


class PendingOrder(msgspec.Struct, frozen=True, omit_defaults=True):
    """An order waiting at the broker for its price (MT5's pending order). When it triggers it
    opens a position whose identifier is this order's ``id`` (MQL5: a position's identifier is
    the ticket of the order that opened it), with its ``sl``/``tp``, ``magic`` and ``comment``.

    ``price``: where a limit buys or sells, or where a stop triggers; ``stop_limit``: for the
    stop-limit types, the limit order's price once ``price`` is reached. ``expiration``: Unix ms
    at which the broker removes it, 0 for good-till-cancelled. ``id`` is empty when placing."""

    id: str
    symbol: str
    type: OrderType
    volume: float
    price: float
    time: Int64 = 0  # placed, Unix ms
    stop_limit: Level = 0.0
    sl: Level = 0.0
    tp: Level = 0.0
    expiration: Int64 = 0
    magic: Int64 = 0
    comment: str = ""

    @property
    def side(self) -> Side:
        return "buy" if self.type.startswith("buy") else "sell"


class OrderRequest(msgspec.Struct, frozen=True):
    """A market order. With ``position_id`` it reduces or closes that position (hedging);
    without, it opens a position (hedging) or moves the symbol's net position (netting)."""

    symbol: str
    side: Side
    volume: float
    position_id: str | None = None
    magic: int = 0
    comment: str = ""
    sl: float = 0.0  # set on the position it opens or moves (netting), 0: none
    tp: float = 0.0


class Deal(msgspec.Struct, frozen=True, omit_defaults=True):
    """One execution in the account's history (MT5's deal): every fill of an order is one.

    ``position_id`` is the position it opened, changed or closed; in MT5 that is the ticket of
    the order that opened the position, and a netting position keeps it through a reversal
    (MQL5 reference, POSITION_IDENTIFIER). ``magic`` is the magic number of the order that made
    the deal, which is how a netting follower tells its own volume from a manual trade's."""

    ticket: str
    position_id: str
    symbol: str
    side: Side
    volume: float
    price: float
    time: Int64  # Unix ms
    magic: Int64 = 0
    profit: float = 0.0
    comment: str = ""  # the order's (a copied pending order's link stays on its deal)
    entry: DealEntry = "in"
    commission: float = 0.0  # charged on this deal (negative), in the account currency
    swap: float = 0.0  # the position's swap, booked on the deal that closes it


class Fill(msgspec.Struct, frozen=True):
    order_id: str
    symbol: str
    side: Side
    volume: float
    price: float
    time_ms: int
    position_id: str


# The hub's records of who may come in, as every store returns them (store/state.py) and every
# service reads them: a user with its role, grants and whether it is disabled, and a ban.


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    hash: str  # the password hash (store/passwords.py), never the password
    role: str
    channels: tuple[str, ...]  # grants: channels, relay:NAME, topic:PATTERN
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class BanRecord:
    address: str  # the banned source (an address, or a /64 for IPv6)
    until_ms: int
    offenses: int
