"""What stands between a follower's planned orders and its broker: the runaway breaker
(copy/breaker.py), kept in a file next to the journal so that it holds across restarts
(clients/breakers.py), and the limit on stop modifications that do not take.

The follower asks it, every round, which of the reconciled orders may go (:meth:`admit`), tells
it what the account holds (:meth:`check`) and which orders filled; it journals and logs each
trip and each clearing, once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from tradewire.clients.breakers import breakers_path, load_breakers, mtime_ns, save_breakers
from tradewire.clients.journal import Journal
from tradewire.clock import Clock, now_ms
from tradewire.copy.breaker import RunawayBreaker, orders_needed
from tradewire.copy.holdings import signed
from tradewire.copy.reconcile import CopyOrder
from tradewire.copy.targets import FollowerView, Plan

log = logging.getLogger(__name__)
MODIFY_REPEATS = 3  # the same stop modification confirmed this often without effect: stop
Signature = tuple[str, float, float]  # a modification: position, sl, tp


class OrderGuard:
    def __init__(self, journal: Journal, clock: Clock, name: str = "") -> None:
        self.journal, self.clock = journal, clock
        self.who = f"{name}: " if name else ""  # which account, in a log shared by many
        self._file = breakers_path(journal.path) if journal.path else None
        self._seen = 0
        self.breaker = RunawayBreaker(self._read())
        self._modified: dict[Signature, int] = {}  # modifications the broker confirmed

    def _read(self) -> dict[str, str]:
        if self._file is None:
            return {}
        self._seen = mtime_ns(self._file)
        return load_breakers(self._file)

    def check(self, held: Mapping[str, float], completed: Mapping[str, int]) -> None:
        """A round read the account (``held``: each key's signed volume): clear what a person
        cleared in the file, and check that the last fills landed as planned. The file is
        looked at only while a breaker is tripped: a person can clear nothing else, and a
        thousand accounts' rounds each cost a stat otherwise (measured: 2% of the engine)."""
        if self._file is not None and self.breaker.tripped and mtime_ns(self._file) != self._seen:
            on_file = self._read()
            for key in [k for k in self.breaker.tripped if k not in on_file]:
                self.breaker.clear(key)
                self.journal.write("breaker_cleared", now_ms(self.clock), key=key)
                log.warning("%srunaway breaker of %s cleared", self.who, key)
        for key, reason in self.breaker.check(held, completed):
            self._trip(key, reason)

    def admit(
        self,
        orders: list[CopyOrder],
        plan: Plan,
        view: FollowerView,
        held: Mapping[str, float],
        in_flight: set[str],
    ) -> list[CopyOrder]:
        """The orders that may go; a refusal trips its key (once).

        Stop modifications move no volume, so they go on while a key is stopped (its positions
        keep following the provider's stops); the same one asked again after the broker said
        it was done means the broker is not applying it, and stops after MODIFY_REPEATS."""
        self._observe(plan, view, held)
        per_key: dict[str, int] = {}
        for order in orders:
            per_key[order.key] = per_key.get(order.key, 0) + 1
        allowed = []
        for order in orders:
            if order.symbol in in_flight:
                continue  # not started this round anyway: counts nothing
            if order.action in ("move", "cancel"):  # no new exposure
                allowed.append(order)
            elif order.action == "modify":
                if self._modification_may_go(order):
                    allowed.append(order)
            elif order.action == "place":  # twice for one provider order at most, then stop
                if self._may_go(order, order.volume, 1):
                    allowed.append(order)
            else:
                want = plan.target.get(order.key)
                target = signed(want.side, want.volume) if want is not None else 0.0
                spec = view.specs.get(order.symbol)
                needed = orders_needed(
                    target - held.get(order.key, 0.0),
                    spec.volume_max if spec else None,
                    per_key[order.key],
                )
                if self._may_go(order, target, needed):
                    allowed.append(order)
        return allowed

    def _observe(self, plan: Plan, view: FollowerView, held: Mapping[str, float]) -> None:
        """Tell the breaker this round's targets: volume by key, placements by their link."""
        targets = {key: signed(t.side, t.volume) for key, t in plan.target.items()}
        frozen = {s for s, h in (view.holdings or {}).items() if not h.settled}
        if plan.orders is None:  # pending orders left alone: their counts go on
            frozen.update(key for key in self.breaker.tracked() if key.startswith("o"))
        else:
            targets.update({f"o{link}": o.volume for link, o in plan.orders.items()})
        self.breaker.observe(targets, frozen, held)

    def _may_go(self, order: CopyOrder, target: float, needed: int) -> bool:
        was_tripped = order.key in self.breaker.tripped
        reason = self.breaker.refusal(order.key, target, order.side, needed)
        if reason is not None and not was_tripped:
            self._trip(order.key, reason)
        return reason is None

    def _modification_may_go(self, order: CopyOrder) -> bool:
        signature = (order.position_id or "", order.sl, order.tp)
        done = self._modified.get(signature, 0)
        if done == MODIFY_REPEATS:
            self._modified[signature] += 1  # alerted once
            message = (
                f"the broker confirmed {done} times that position {order.position_id}'s stops "
                f"are sl {order.sl:g} tp {order.tp:g}, but they are not: not asking again"
            )
            self.alert(order.symbol, message)
        return done < MODIFY_REPEATS

    def filled(
        self, order: CopyOrder, own_before: float, signed_fill: float, completed: int, what: str
    ) -> None:
        """A volume order (or a placement) filled: count it, and expect it in the next read."""
        self.breaker.sent(order.key, order.side)  # refused orders back off instead
        self.breaker.filled(order.key, order.symbol, own_before, signed_fill, completed, what)

    def placed(self, order: CopyOrder) -> None:
        self.breaker.sent(order.key, order.side)

    def modified(self, order: CopyOrder) -> None:
        if len(self._modified) > 10_000:  # positions come and go: keep it bounded
            self._modified.clear()
        signature = (order.position_id or "", order.sl, order.tp)
        self._modified[signature] = self._modified.get(signature, 0) + 1

    def alert(self, symbol: str, message: str) -> None:
        """Something a person must know now (a position without the stop it should have)."""
        log.warning("%sALERT %s: %s", self.who, symbol, message)
        self.journal.write("alert", now_ms(self.clock), symbol=symbol, reason=message)

    def _trip(self, key: str, reason: str) -> None:
        log.error("%srunaway breaker: %s stops trading: %s", self.who, key, reason)
        self.journal.write("breaker", now_ms(self.clock), key=key, reason=reason)
        if self._file is not None:
            save_breakers(self._file, self.breaker.tripped)
            self._seen = mtime_ns(self._file)
