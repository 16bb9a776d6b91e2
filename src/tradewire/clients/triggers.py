"""Which of the provider's waiting pending orders the follower's copies have already filled.

While the provider's order ``X`` waits, a follower whose copy of it triggered first holds the
result as a stand-in position (copy/pending.py): it must neither close that volume nor place
the copy again. Seeing the link of ``X`` in the comment of a position or of an own deal of an
open netting position is not enough, because the result may be gone by the next read:

* on a netting account the copy may have closed what the follower held (a provider's limit
  order that takes profit on a short): the position, and its deals, leave the open book;
* the copy's own stop-loss or take-profit may have closed it.

The order then left the follower's book without the follower cancelling it. So when a linked
order disappears while the provider's ``X`` still waits, the deal history says whether it
filled: the deals of the position it opened (in MT5 the order's ticket) and, on a netting
account, of the position it merged into. What is found is remembered until the provider's
``X`` is gone, in a file beside the journal (``follow-bob.triggered.json``), so a restart in
between does not place the copy again.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tradewire.brokers.base import Broker
from tradewire.clients.breakers import load_map, save_map
from tradewire.copy.pending import order_link
from tradewire.copy.targets import ProviderState
from tradewire.model import PendingOrder, Position

_HINT = "deleting it may place again the copies of the provider's orders it names"


def triggers_path(journal: Path) -> Path:
    return journal.with_suffix(".triggered.json")


class TriggerWatch:
    """The provider orders (by id) whose follower copy filled, while they wait."""

    def __init__(self, broker: Broker, magic: int, path: Path | None = None) -> None:
        self.broker, self.magic, self.path = broker, magic, path
        # provider order id -> the follower's order ticket that filled for it ("" if only seen
        # in a comment)
        self.filled: dict[str, str] = load_map(path, _HINT) if path is not None else {}
        self._book: dict[str, tuple[str, str]] = {}  # last read: our ticket -> (link, symbol)
        self._positions: dict[str, str] = {}  # last read: symbol -> position id (netting)

    async def update(
        self,
        state: ProviderState | None,
        orders: Sequence[PendingOrder],
        positions: Sequence[Position],
        comments: Sequence[str],
    ) -> frozenset[str]:
        """A round read the account: ``orders`` are the follower's own pending orders,
        ``comments`` those of its positions and own deals. Returns the waiting provider
        orders whose copy filled."""
        if state is None or state.orders is None:  # says nothing about orders: keep memory
            self._remember(orders, positions)
            return frozenset()
        waiting = {o.id for o in state.orders}
        found = dict(self.filled)
        for comment in comments:
            link = order_link(comment)
            if link in waiting and link not in found:
                found[link] = ""
        book = {o.id for o in orders}
        for ticket, (link, symbol) in self._book.items():
            gone = ticket not in book and link in waiting and link not in found
            if gone and await self._filled(ticket, link, symbol):
                found[link] = ticket
        found = {link: ticket for link, ticket in found.items() if link in waiting}
        if found != self.filled:
            self.filled = found
            if self.path is not None:
                save_map(self.path, found)
        self._remember(orders, positions)
        return frozenset(found)

    async def _filled(self, ticket: str, link: str, symbol: str) -> bool:
        """Whether the follower's order ``ticket`` (copying ``link``) left the book filled."""
        places = [ticket]
        merged = self._positions.get(symbol)
        if merged is not None and merged != ticket:
            places.append(merged)
        for position_id in places:
            for deal in await self.broker.position_deals(position_id):
                if deal.magic == self.magic and order_link(deal.comment) == link:
                    return True
        return False

    def _remember(self, orders: Sequence[PendingOrder], positions: Sequence[Position]) -> None:
        self._book = {
            o.id: (link, o.symbol) for o in orders if (link := order_link(o.comment)) is not None
        }
        self._positions = {p.symbol: p.id for p in positions}
