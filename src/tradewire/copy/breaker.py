"""The runaway breaker (pure): stops a symbol whose orders do not move the account as planned.

Reconciling from the broker's actual positions makes a follower idempotent, but it also means a
follower that misreads what it holds (a netting position merged with someone else's trades,
another program trading with the same magic number) sends the same order again every round,
until the margin is gone. The breaker watches each target key (a netting follower's symbol, a
hedging follower's link) and trips when:

* **a fill did not land as planned**: the first read after it shows the follower's own volume
  somewhere other than where that fill should have put it;
* **the orders turn back** while the target has not changed: buying, then selling, towards the
  same target means something else is moving the volume too;
* **too many filled orders** for one unchanged target: more than it needed when it was set (a large
  change takes several orders of the symbol's maximum volume) plus one spare (a stop-loss or a
  manual close may take the volume away once).

A tripped key sends nothing more until a person clears it (``tradewire follow --clear-breaker``);
the follower journals, logs and shows why.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

TOLERANCE = 1e-6  # lots: volumes are rounded to 8 places, steps are at least 0.0001
IDLE_ROUNDS = 100  # rounds a closed key's track is kept (volume reopened under it counts)


@dataclass(slots=True)
class _Track:
    target: float  # signed target volume the orders were for
    allowed: int  # orders it may take
    sent: int = 0
    sides: set[str] = field(default_factory=set)
    idle: int = 0  # rounds in a row its key had no target, held nothing and awaited no fill


@dataclass(slots=True)
class _Expected:
    own: float  # signed volume the fill should have left
    symbol: str
    completed: int  # the symbol's finished-order count once the fill was recorded
    what: str  # the order, for the reason


class RunawayBreaker:
    """Per target key: how its orders went, and the keys stopped with why."""

    def __init__(self, tripped: dict[str, str] | None = None) -> None:
        self.tripped: dict[str, str] = dict(tripped or {})
        self._tracks: dict[str, _Track] = {}
        self._expected: dict[str, _Expected] = {}

    def check(
        self, own: Mapping[str, float], completed: Mapping[str, int]
    ) -> list[tuple[str, str]]:
        """A round read the account: ``own`` is each key's signed volume (absent: none),
        ``completed`` each symbol's finished-order count when the read began. Returns the keys
        this trips, with why."""
        trips = []
        for key, expected in list(self._expected.items()):
            if completed.get(expected.symbol, 0) < expected.completed:
                continue  # this read may predate the fill
            del self._expected[key]
            have = own.get(key, 0.0)
            if abs(have - expected.own) > TOLERANCE:
                trips.append((key, self._trip(key, _landed_elsewhere(key, expected, have))))
        return trips

    def observe(
        self,
        targets: Mapping[str, float],
        frozen: Collection[str] = (),
        held: Mapping[str, float] | None = None,
    ) -> None:
        """A round's targets (signed; absent: 0): a key whose target moved since its orders went
        counts afresh. The account may reach a new target without an order (a pending copy that
        triggered), and a later return to the old target is a new one, not orders turning back.
        ``frozen``: keys whose target only holds what the account has for now (a netting
        position whose deals are behind): their count goes on. ``held``: each key's signed
        volume now; a key closed for IDLE_ROUNDS rounds in a row (no target, nothing held, no
        fill awaited) is forgotten, so a follower's tracks do not grow with every position it
        ever closed, while volume reopened under it soon after still counts against it."""
        for key, track in list(self._tracks.items()):
            if key in frozen:
                continue
            target = targets.get(key)
            if abs((target or 0.0) - track.target) > TOLERANCE:
                del self._tracks[key]
            elif (
                target is None
                and held is not None
                and abs(held.get(key, 0.0)) <= TOLERANCE
                and key not in self._expected
            ):
                track.idle += 1
                if track.idle >= IDLE_ROUNDS:
                    del self._tracks[key]
            else:
                track.idle = 0

    def tracked(self) -> list[str]:
        return list(self._tracks)

    def refusal(self, key: str, target: float, side: str, needed: int) -> str | None:
        """Whether an order of ``side`` may go for ``key`` towards the signed ``target``, which
        takes ``needed`` orders from here (:func:`orders_needed`): None, or why not (and the
        key is tripped, if it was not)."""
        if key in self.tripped:
            return self.tripped[key]
        track = self._tracks.get(key)
        if track is None or abs(track.target - target) > TOLERANCE:
            track = self._tracks[key] = _Track(target, max(1, needed) + 1)
        if track.sides and side not in track.sides:
            return self._trip(
                key,
                f"orders for {key} turned back ({'/'.join(sorted(track.sides))} then {side}) "
                f"while the target stayed {target:+g}: another follower or program is moving "
                "this volume",
            )
        if track.sent >= track.allowed:
            return self._trip(
                key,
                f"{track.sent} orders for {key} did not keep it at the target {target:+g} "
                f"(it needed {track.allowed - 1}): the account is not moving as planned",
            )
        return None

    def sent(self, key: str, side: str) -> None:
        """An order the breaker let through was filled (a refused one is retried with backoff,
        and does not count)."""
        track = self._tracks.get(key)
        if track is not None:
            track.sent += 1
            track.sides.add(side)
            track.idle = 0

    def filled(
        self, key: str, symbol: str, own_before: float, signed_fill: float, completed: int,
        what: str,
    ) -> None:  # fmt: skip
        """An order filled: the first read after ``completed`` orders of ``symbol`` must show
        the key at ``own_before + signed_fill``."""
        self._expected[key] = _Expected(round(own_before + signed_fill, 8), symbol, completed, what)

    def clear(self, key: str) -> bool:
        """A person cleared ``key`` (True if it was tripped): it starts counting afresh."""
        self._tracks.pop(key, None)
        self._expected.pop(key, None)
        return self.tripped.pop(key, None) is not None

    def _trip(self, key: str, reason: str) -> str:
        self.tripped[key] = reason
        self._expected.pop(key, None)
        return reason


def _landed_elsewhere(key: str, expected: _Expected, have: float) -> str:
    return (
        f"after {expected.what} the follower should hold {expected.own:+g} lots of {key} but "
        f"holds {have:+g}: something else trades this account with the same magic number, or "
        "the broker does not report the follower's deals"
    )


def orders_needed(distance: float, volume_max: float | None, orders_now: int) -> int:
    """How many orders a target ``distance`` lots away takes: one per position to close (as
    many as reconcile asks for now), or one per ``volume_max`` lots, whichever is more."""
    by_size = math.ceil(abs(distance) / volume_max - TOLERANCE) if volume_max else 1
    return max(orders_now, by_size, 1)
