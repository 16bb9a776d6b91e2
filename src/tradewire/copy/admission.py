"""Which of a round's orders may start now (pure): the follower's scheduling rules.

* At most one order per symbol in flight, and at most one started per round.
* Never on a stale read: a symbol whose order was in flight when the round began reading the
  broker, or finished while it was reading, waits for the next round (the positions read may
  be from before that fill, and acting on them would duplicate the order).
* Never before its retry time (a rejected order backs off).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from tradewire.copy.reconcile import CopyOrder


@dataclass(frozen=True, slots=True)
class RoundStart:
    """What was true when the round began to read the broker."""

    in_flight: frozenset[str]
    completed: Mapping[str, int]  # symbol -> orders finished so far (any outcome)


def admit(
    orders: Sequence[CopyOrder],
    start: RoundStart,
    in_flight: Set[str],
    completed: Mapping[str, int],
    retry_at: Mapping[str, float],
    now: float,
) -> list[CopyOrder]:
    """The orders to start now, in order (``now`` and ``retry_at`` on the same clock)."""
    admitted: list[CopyOrder] = []
    started: set[str] = set()
    for order in orders:
        symbol = order.symbol
        if symbol in in_flight or symbol in started or symbol in start.in_flight:
            continue
        if completed.get(symbol, 0) != start.completed.get(symbol, 0):
            continue  # finished while the broker was read: that read may predate the fill
        if retry_at.get(symbol, 0.0) > now:
            continue
        started.add(symbol)
        admitted.append(order)
    return admitted


class OrderSlots:
    """The follower's order bookkeeping (pure; the caller's clock): which symbols have an order
    in flight, how many orders each has finished, and when each may retry."""

    def __init__(self) -> None:
        self.in_flight: set[str] = set()
        self.completed: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}

    def round_start(self) -> RoundStart:
        """Take this before reading the broker (stale reads are judged against it)."""
        return RoundStart(frozenset(self.in_flight), dict(self.completed))

    def start(self, orders: Sequence[CopyOrder], start: RoundStart, now: float) -> list[CopyOrder]:
        """The orders that may start now (see :func:`admit`), marked in flight."""
        admitted = admit(orders, start, self.in_flight, self.completed, self.retry_at, now)
        self.in_flight.update(order.symbol for order in admitted)
        return admitted

    def finished(self, symbol: str, *, filled: bool = False, retry_at: float | None = None) -> None:
        """An order of ``symbol`` ended: ``filled`` (its backoff ends), refused (the symbol waits
        until ``retry_at``), or neither (cancelled: nothing else changes)."""
        self.in_flight.discard(symbol)
        self.completed[symbol] = self.completed.get(symbol, 0) + 1
        if filled:
            self.retry_at.pop(symbol, None)
        elif retry_at is not None:
            self.retry_at[symbol] = retry_at
