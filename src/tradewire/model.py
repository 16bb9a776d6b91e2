"""Trading values shared by the copy logic and the broker adapters (pure data, no I/O)."""

from __future__ import annotations

from typing import Literal

import msgspec

Side = Literal["buy", "sell"]
Mode = Literal["netting", "hedging"]


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

    @property
    def point(self) -> float:
        return float(10.0**-self.digits)


class Quote(msgspec.Struct, frozen=True):
    symbol: str
    bid: float
    ask: float
    time_ms: int


class AccountInfo(msgspec.Struct, frozen=True):
    login: str
    currency: str
    balance: float
    equity: float
    margin: float
    leverage: int
    mode: Mode

    @property
    def free_margin(self) -> float:
        return self.equity - self.margin


class BrokerPosition(msgspec.Struct, frozen=True):
    """An open position as the broker reports it (``comment`` and ``magic`` carry copy links)."""

    id: str
    symbol: str
    side: Side
    volume: float
    price: float
    time_ms: int
    magic: int = 0
    comment: str = ""
    sl: float = 0.0
    tp: float = 0.0


class OrderRequest(msgspec.Struct, frozen=True):
    """A market order. With ``position_id`` it reduces or closes that position (hedging);
    without, it opens a position (hedging) or moves the symbol's net position (netting)."""

    symbol: str
    side: Side
    volume: float
    position_id: str | None = None
    magic: int = 0
    comment: str = ""


class Fill(msgspec.Struct, frozen=True):
    order_id: str
    symbol: str
    side: Side
    volume: float
    price: float
    time_ms: int
    position_id: str
