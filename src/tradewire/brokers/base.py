"""The broker seam: what the copier needs from a trading account, and the values it returns.

Every adapter implements :class:`Broker` and passes ``tests/brokers/conformance.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from tradewire.model import (
    Account,
    Deal,
    Fill,
    Mode,
    OrderRequest,
    PendingOrder,
    Position,
    Quote,
    Side,
    SymbolSpec,
)

__all__ = [
    "Account",
    "Broker",
    "Deal",
    "DealHistory",
    "Fill",
    "Mode",
    "OrderRequest",
    "PendingOrder",
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

    async def orders(self) -> list[PendingOrder]:
        """Every pending order."""
        ...

    async def place_order(self, order: PendingOrder) -> str:
        """Place a pending order (its ``id`` is ignored); returns the broker's ticket, which
        becomes the identifier of the position it opens when it triggers. Raises
        OrderRejected (``invalid_price``, ``invalid_stops``, ``invalid_expiration``, ...)."""
        ...

    async def modify_order(
        self,
        order_id: str,
        price: float,
        sl: float,
        tp: float,
        expiration: int = 0,
        stop_limit: float = 0.0,
    ) -> None:
        """Move a pending order (MT5: ``TRADE_ACTION_MODIFY``); its volume cannot change.
        Raises OrderRejected (``order_not_found``, ...)."""
        ...

    async def cancel_order(self, order_id: str) -> None:
        """Remove a pending order (MT5: ``TRADE_ACTION_REMOVE``). Raises
        OrderRejected(``order_not_found``)."""
        ...

    async def market_order(self, order: OrderRequest) -> Fill:
        """Execute at market. Raises :class:`~tradewire.exceptions.OrderRejected`."""
        ...

    def changes(self) -> AsyncIterator[None]:
        """Yields each time positions or balance may have changed (coalesced)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class DealHistory(Protocol):
    """A broker that can list its account's deal history (the paper and MT5 adapters): a
    provider sends its closed deals to the hub with it, for the channel's statistics."""

    async def deals_since(self, since_ms: int) -> list[Deal]:
        """Every trade deal from ``since_ms`` (Unix ms) on, oldest first, with its entry,
        profit, commission and swap (balance operations are not deals here)."""
        ...


@runtime_checkable
class HeldInMemory(Protocol):
    """A broker whose account, positions and pending orders are kept in memory (the paper
    adapter): a follower round reads all three at once, without three awaits on tasks of their
    own (gathered, they cost a copy engine of a thousand accounts more than the reading)."""

    def held_now(self) -> tuple[Account, list[Position], list[PendingOrder]]:
        """The account, its positions and its pending orders, as last read or written."""
        ...
