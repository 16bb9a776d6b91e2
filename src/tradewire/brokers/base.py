"""The broker seam: what the copier needs from a trading account, and the values it returns.

Every adapter implements :class:`Broker` and passes ``tests/brokers/conformance.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from tradewire.model import (
    Account,
    Deal,
    Fill,
    Mode,
    OrderRequest,
    Position,
    Quote,
    Side,
    SymbolSpec,
)

__all__ = [
    "Account",
    "Broker",
    "Deal",
    "Fill",
    "Mode",
    "OrderRequest",
    "Position",
    "Quote",
    "Side",
    "SymbolSpec",
]


class Broker(Protocol):
    """One trading account."""

    async def account(self) -> Account:
        """Balance, equity, margin, leverage and netting/hedging mode."""
        ...

    async def positions(self) -> list[Position]:
        """Every open position."""
        ...

    async def symbol(self, name: str) -> SymbolSpec | None:
        """The trading rules of ``name``, or ``None`` when the broker does not offer it."""
        ...

    async def quote(self, symbol: str) -> Quote:
        """The current bid/ask. Raises ``OrderRejected("unknown_symbol")``."""
        ...

    async def position_deals(self, position_id: str) -> list[Deal]:
        """Every buy or sell deal of one position, oldest first, from the broker's history
        (MT5: ``HistorySelectByPosition``); ``[]`` when the broker knows none."""
        ...

    async def modify_position(self, position_id: str, sl: float, tp: float) -> None:
        """Set a position's stop-loss and take-profit at the broker (0: none), replacing both
        (MT5: ``TRADE_ACTION_SLTP``). Raises OrderRejected (``position_not_found``,
        ``invalid_stops``)."""
        ...

    async def market_order(self, order: OrderRequest) -> Fill:
        """Execute at market. Raises :class:`~tradewire.exceptions.OrderRejected`."""
        ...

    def changes(self) -> AsyncIterator[None]:
        """Yields each time positions or balance may have changed (coalesced)."""
        ...

    async def close(self) -> None: ...
