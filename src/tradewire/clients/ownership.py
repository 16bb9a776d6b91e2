"""A netting follower's reading of its own volume from the broker's deal history, cached.

The deals of a position change only when the position does, so they are read again only for a
position whose volume, side or price moved since the last read (one read per change, not per
round: the copy engine runs a thousand accounts).
"""

from __future__ import annotations

from collections.abc import Sequence

from tradewire.brokers.base import Broker
from tradewire.copy.holdings import Holding, netting_holdings
from tradewire.model import Deal, Position

_Shape = tuple[str, float, float]  # side, volume, price: what a new deal changes


class DealLedger:
    """Holdings of one netting account, from its positions and their deals."""

    def __init__(self, broker: Broker, magic: int) -> None:
        self.broker = broker
        self.magic = magic
        self._cache: dict[str, tuple[_Shape, list[Deal]]] = {}
        # the comments of the follower's own deals in the positions read last (their links)
        self.comments: set[str] = set()

    async def holdings(self, positions: Sequence[Position]) -> dict[str, Holding]:
        deals: dict[str, list[Deal]] = {}
        for p in positions:
            shape = (p.side, p.volume, p.price)
            cached = self._cache.get(p.id)
            if cached is None or cached[0] != shape:
                history = await self.broker.position_deals(p.id)
                result = netting_holdings([p], {p.id: history}, self.magic)[p.symbol]
                if result.settled:  # a history still behind the position is read again
                    cached = self._cache[p.id] = (shape, history)
                else:
                    cached = (shape, history)
            deals[p.id] = cached[1]
        live = {p.id for p in positions}
        for gone in self._cache.keys() - live:
            del self._cache[gone]
        self.comments = {
            d.comment for history in deals.values() for d in history if d.magic == self.magic
        }
        return netting_holdings(positions, deals, self.magic)
