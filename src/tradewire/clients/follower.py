"""The follower: turns a channel's provider state into orders on its own broker account.

Every round reads the broker's actual positions, computes ``plan`` and ``reconcile`` (pure),
and sends at most one order per symbol at a time. Nothing is remembered about what was sent:
after a reconnect, a restart or a rejection the next round asks only for what is still
missing, so no sequence of those can duplicate an order. Rejected orders are retried with
backoff, against the newest state. Rounds run when a state arrives, when an order completes,
when the broker reports a change, when a retry is due, and every ``resync_s``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import msgspec

from tradewire.brokers.base import Broker
from tradewire.clients.account_view import read_view
from tradewire.clients.backoff import Backoff
from tradewire.clients.follower_status import status_of
from tradewire.clients.hops import hop_ms, on_local_clock
from tradewire.clients.journal import Journal
from tradewire.clients.order_guard import OrderGuard
from tradewire.clients.ownership import DealLedger
from tradewire.clients.risk_guard import RiskGuard
from tradewire.clients.triggers import TriggerWatch, triggers_path
from tradewire.clock import Clock, SystemClock, micros, now_ms
from tradewire.copy import (
    CopyOrder,
    CopyRules,
    FollowerView,
    Plan,
    ProviderState,
    plan,
    reconcile,
)
from tradewire.copy.admission import OrderSlots
from tradewire.copy.breaker import RunawayBreaker
from tradewire.copy.holdings import Holding, signed
from tradewire.copy.pending import reconcile_orders
from tradewire.copy.plan import held, managed
from tradewire.copy.protect import stop_changes
from tradewire.copy.quality import Reached, change_price, reached, slippage_points
from tradewire.exceptions import BrokerError, OrderRejected
from tradewire.model import OrderRequest, PendingOrder
from tradewire.protocol.messages import StateUpdate

log = logging.getLogger(__name__)


def arrival(
    update: StateUpdate, clock: Clock, offset_us: int | None
) -> tuple[ProviderState, list[int]]:
    """A state as it arrives: what planning reads, and the hop stamps so far on our clock
    (detected, hub received, hub out, arrived here)."""
    arrived = micros(clock.monotonic())
    stamps = on_local_clock(update.hops or [0, 0, 0], offset_us)
    state = ProviderState(update.account, update.positions, update.ts, update.seq, update.orders)
    return state, [*stamps[:3], arrived]


class Follower:
    """Copies one channel onto one broker account."""

    def __init__(
        self,
        broker: Broker,
        channel: str,
        rules: CopyRules,
        *,
        journal: Journal | None = None,
        clock: Clock | None = None,
        resync_s: float = 5.0,
        retry_initial_s: float = 0.2,
        retry_max_s: float = 10.0,
        name: str = "",
    ) -> None:
        self.broker = broker
        self.channel = channel
        self.rules = rules
        self.journal = journal or Journal()
        self.clock: Clock = clock or SystemClock()
        self.resync_s = resync_s
        self.state: ProviderState | None = None
        self.last_plan: Plan | None = None
        self.last_view: FollowerView | None = None
        self.stops_set = 0  # orders that placed stops, and stop modifications
        self.held: dict[str, tuple[str, float]] = {}  # link key -> (symbol, signed volume)
        self.holdings: dict[str, Holding] = {}  # netting: own and foreign volume per symbol
        self._ledger = DealLedger(broker, rules.magic)
        path = triggers_path(self.journal.path) if self.journal.path else None
        self._triggers = TriggerWatch(broker, rules.magic, path)  # copies that filled first
        self.guard = OrderGuard(self.journal, self.clock, name)  # the runaway breaker and more
        self.risk = RiskGuard(self.journal, self.clock, self.guard.who)  # drawdown limits
        self.pending_orders: list[CopyOrder] = []
        self.slots = OrderSlots()
        self._retry_initial, self._retry_max = retry_initial_s, retry_max_s
        self._backoff: dict[str, Backoff] = {}
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_skips: list[tuple[str, str]] = []
        self._reached: dict[str, Reached] = {}  # per key: the provider's side when last held
        self.rounds = 0
        self.started_ms = now_ms(self.clock)  # states older than this are caught up with
        self.stopped = False  # stop_equity was reached: close everything copied, then stop
        # The hub's clock minus ours (HubClient.clock_offset_us), for the hop stamps.
        self.hub_clock_offset: Callable[[], int | None] = lambda: None
        self._arrivals: dict[int, list[int]] = {}  # seq -> the first four hop stamps, ours

    # ---- inputs ---------------------------------------------------------------------------------

    def on_state(self, update: StateUpdate) -> None:
        """HubClient callback: a new state of the channel arrived."""
        if update.ch in self.channels:
            self.accept(*arrival(update, self.clock, self.hub_clock_offset()), update.ch)

    @property
    def channels(self) -> list[str]:
        """The channels this follower copies."""
        return [self.channel]

    def accept(self, state: ProviderState, stamps: list[int], channel: str = "") -> None:
        """A new state of the channel, with its first four hop stamps on our clock (the copy
        engine makes both once for every account on the channel)."""
        self.state = state
        if len(self._arrivals) >= 64:  # orders of older states are long planned
            del self._arrivals[next(iter(self._arrivals))]
        self._arrivals[state.seq] = stamps
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    # ---- the loop -------------------------------------------------------------------------------

    async def run(self) -> None:
        """Copy until cancelled."""
        watcher = asyncio.ensure_future(self._watch_broker())
        loop = asyncio.get_running_loop()
        try:
            while True:
                # A timer that wakes the round, not asyncio.timeout or wait_for around the wait:
                # on Python 3.11 wait_for can swallow a cancellation that lands as the wait
                # completes, and a timeout context per round cost a thousand accounts more.
                resync = loop.call_later(self.resync_s, self._wake.set)
                try:
                    await self._wake.wait()
                finally:
                    resync.cancel()
                self._wake.clear()
                try:
                    await self.sync_once()
                except BrokerError as exc:
                    log.warning("%sfollower round failed: %s", self.guard.who, exc)
                    continue
                if self.stopped and not self.pending_orders and not self.slots.in_flight:
                    self.journal.write(
                        "stopped",
                        now_ms(self.clock),
                        reason="stop_equity reached; every copied position is closed",
                    )
                    return
        finally:
            watcher.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(watcher, *self._tasks, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the orders this round started (a what-if replay drives rounds itself)."""
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _watch_broker(self) -> None:
        async for _ in self.broker.changes():
            self._wake.set()

    async def view(self) -> FollowerView:
        """Read the follower account as planning needs it (clients/account_view.py)."""
        return await read_view(self.broker, self.rules, self.state, self._ledger, self._triggers)

    async def sync_once(self) -> list[CopyOrder]:
        """One round: plan, reconcile, start the orders that may start. Returns all orders."""
        if self.state is None:
            return []  # no signal yet: never act on our own
        self.rounds += 1
        state = self.state
        start = self.slots.round_start()
        view = self._with_sizes(await self.view())
        stamp = now_ms(self.clock)
        result = self._plan(state, view, stamp)
        planned = micros(self.clock.monotonic())
        if result.stopped or self.stopped:  # sticky: a recovery does not reopen anything
            self.stopped = True
            result = Plan({}, result.skips if result.stopped else [], stopped=True)
        orders = self._reconcile(result, view)
        self.last_plan, self.last_view, self.pending_orders = result, view, orders
        self.held = held(view, self.rules)
        self._reached = self._holding_targets(result)
        self.holdings = view.holdings or {}
        self._journal_skips(result, stamp, state.seq)
        own = {key: volume for key, (_, volume) in self.held.items()}
        self.guard.check(own, start.completed)
        admitted = self.guard.admit(orders, result, view, own, self.slots.in_flight)
        now = self.clock.monotonic()
        for order in self.slots.start(admitted, start, now):
            own_before = self.held.get(order.key, ("", 0.0))[1]
            task = asyncio.get_running_loop().create_task(
                self._execute(order, state, result, planned, own_before)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return orders

    def _with_sizes(self, view: FollowerView) -> FollowerView:
        """Netting, sizing by risk: what each held target was sized to (FollowerView.sized),
        from the targets this follower reached (a restart sizes again, once, from the stop)."""
        if self.rules.sizing != "risk" or view.account.mode != "netting":
            return view
        sized = {key: (r[1], r[3]) for key, r in self._reached.items()}
        return msgspec.structs.replace(view, sized=sized)

    def _plan(self, state: ProviderState, view: FollowerView, stamp: int) -> Plan:
        """This round's target (clients/portfolio.py plans several channels instead)."""
        state, rules = self.risk.apply(view.account, state, self.rules)  # a limit may halt it
        return plan(state, view, rules, stamp)

    def _holding_targets(self, result: Plan) -> dict[str, Reached]:
        """Per key, the target the account last held (the base of its next increase's
        slippage, copy/quality.py): updated where it holds the target now."""
        out = {}
        for key, target in result.target.items():
            have = self.held.get(key, ("", 0.0))[1]
            if abs(have - signed(target.side, target.volume)) < 1e-9:
                out[key] = reached(target)
            elif key in self._reached:
                out[key] = self._reached[key]
        return out

    def _reconcile(self, result: Plan, view: FollowerView) -> list[CopyOrder]:
        """Volume orders, then the stop modifications of keys that have none this round."""
        own = None
        if view.account.mode == "netting" and view.holdings is not None:
            own = {s: h.own for s, h in view.holdings.items()}
        ours = managed(view.positions, self.rules)
        mode, magic = view.account.mode, self.rules.magic
        orders = reconcile(result.target, ours, mode, view.specs, magic, own, view.quotes)
        mine: set[str] = (
            {s for s, v in (own or {}).items() if abs(v) > 1e-9}
            if own is not None
            else {p.symbol if mode == "netting" else p.id for p in ours}
        )
        busy = {o.key for o in orders}
        changes = stop_changes(
            result.target, view.positions, mode, mine, view.specs, view.quotes, busy, magic
        )
        pending = reconcile_orders(result.orders, view.orders, view.specs)
        # Cancels go before opens on a symbol: a linked pending order that triggered while its
        # cancel was on the way is the position, and must not be joined by a second one.
        cancelling = {a.symbol for a in pending if a.action == "cancel"}
        opening = ("open", "increase", "reverse")
        orders = [o for o in orders if not (o.action in opening and o.symbol in cancelling)]
        cancels = [a for a in pending if a.action == "cancel"]
        others = [a for a in pending if a.action != "cancel"]
        return [*cancels, *orders, *changes, *others]

    async def _execute(
        self,
        order: CopyOrder,
        state: ProviderState,
        result: Plan,
        planned: int,
        own_before: float = 0.0,
    ) -> None:
        if order.action == "modify":
            await self._modify(order, state)
            return
        if order.pending is not None:
            await self._pending(order, order.pending, state)
            return
        symbol = order.symbol
        request = OrderRequest(
            symbol,
            order.side,
            order.volume,
            order.position_id,
            order.magic,
            order.comment,
            order.sl,
            order.tp,
        )
        details = _details(order, state)
        filled, retry_at = False, None
        submitted = micros(self.clock.monotonic())
        try:
            fill = await self.broker.market_order(request)
        except OrderRejected as exc:
            retry_at = self._refused(order, details, exc)
        except BrokerError as exc:
            retry_at = self._failed(details, exc)
        else:
            filled = True
            self.guard.filled(
                order,
                own_before,
                signed(fill.side, fill.volume),
                self.slots.completed.get(symbol, 0) + 1,
                f"{order.action} {order.side} {fill.volume:g} (order {fill.order_id})",
            )
            stamps = [*self._arrivals.get(state.seq, [0] * 4), planned, submitted]
            hops = hop_ms([*stamps, micros(self.clock.monotonic())])
            self._backoff.pop(symbol, None)
            target = result.target.get(order.key)
            slippage = None
            if target is not None and order.action in ("open", "increase", "reverse"):
                reference = change_price(order.action, self._reached.get(order.key), target)
                spec = await self.broker.symbol(symbol)
                if spec is not None and reference is not None:
                    slippage = slippage_points(order.side, fill.price, reference, spec.point)
            now_held = own_before + signed(fill.side, fill.volume)
            if target is not None and abs(now_held - signed(target.side, target.volume)) < 1e-9:
                self._reached[order.key] = reached(target)
            if order.sl or order.tp:
                self.stops_set += 1
            self.journal.write(
                "fill",
                fill.time_ms,
                **details,
                price=fill.price,
                order_id=fill.order_id,
                # A state from before this follower started (the channel's last state, sent on
                # joining) is catching up, not copying: its age is no copy latency.
                **(
                    {"latency_ms": fill.time_ms - state.ts, "hops_ms": hops}
                    if state.ts >= self.started_ms
                    else {"latency_ms": None, "catch_up": True}
                ),
                slippage_points=slippage,
            )
        finally:
            self.slots.finished(symbol, filled=filled, retry_at=retry_at)
            self._wake.set()

    async def _modify(self, order: CopyOrder, state: ProviderState) -> None:
        """Move a held position's stops (the provider's changed, or the fill price set them)."""
        details = _details(order, state)
        done, retry_at = False, None
        try:
            await self.broker.modify_position(order.position_id or "", order.sl, order.tp)
        except OrderRejected as exc:
            retry_at = self._refused(order, details, exc)
            self.guard.alert(
                order.symbol,
                f"stops of {order.symbol} position {order.position_id} not set "
                f"({exc.reason}: {exc.detail}); asking again with backoff",
            )
        except BrokerError as exc:
            retry_at = self._failed(details, exc)
        else:
            done = True
            self.guard.modified(order)
            self._backoff.pop(order.symbol, None)
            self.stops_set += 1
            stamp = now_ms(self.clock)
            # from the provider's change (its state's ts) to the stops moved at our broker
            self.journal.write("modify", stamp, **details, latency_ms=stamp - state.ts)
        finally:
            self.slots.finished(order.symbol, filled=done, retry_at=retry_at)
            self._wake.set()

    async def _pending(self, action: CopyOrder, order: PendingOrder, state: ProviderState) -> None:
        """Place, move or cancel one linked pending order."""
        details = _details(action, state)
        details.update(type=order.type, price=order.price, expiration=order.expiration)
        done, retry_at = False, None
        try:
            if action.action == "place":
                details["order_id"] = await self.broker.place_order(order)
                self.guard.placed(action)
            elif action.action == "move":
                details["order_id"] = order.id
                await self.broker.modify_order(
                    order.id, order.price, order.sl, order.tp, order.expiration, order.stop_limit
                )
            else:
                details["order_id"] = order.id
                await self.broker.cancel_order(order.id)
        except OrderRejected as exc:
            if action.action == "cancel" and exc.reason == "order_not_found":
                done = True  # it triggered or expired meanwhile: the next round reads which
                self.journal.write("cancel", now_ms(self.clock), **details, detail=exc.detail)
            else:
                retry_at = self._refused(action, details, exc)
        except BrokerError as exc:
            retry_at = self._failed(details, exc)
        else:
            done = True
            self._backoff.pop(action.symbol, None)
            self.journal.write(action.action, now_ms(self.clock), **details)
        finally:
            self.slots.finished(action.symbol, filled=done, retry_at=retry_at)
            self._wake.set()

    def _refused(self, order: CopyOrder, details: dict[str, Any], exc: OrderRejected) -> float:
        """Journal a refusal and schedule the retry; returns when the symbol may retry."""
        backoff = self._backoff.setdefault(
            order.symbol, Backoff(self._retry_initial, self._retry_max)
        )
        delay = backoff.next_delay()
        self.journal.write(
            "reject",
            now_ms(self.clock),
            **details,
            reason=exc.reason,
            detail=exc.detail,
            retry_in_s=round(delay, 3),
        )
        asyncio.get_running_loop().call_later(delay, self._wake.set)
        return self.clock.monotonic() + delay

    def _failed(self, details: dict[str, Any], exc: BrokerError) -> float:
        self.journal.write("error", now_ms(self.clock), **details, detail=str(exc))
        asyncio.get_running_loop().call_later(self._retry_initial, self._wake.set)
        return self.clock.monotonic() + self._retry_initial

    def _journal_skips(self, result: Plan, stamp: int, seq: int) -> None:
        # A skip is written when it starts, not every round: the same kind of skip whose
        # reason only carries a moving figure (a stale signal's age, a price) is the same one.
        skips = [(s.symbol, s.kind or s.reason) for s in result.skips]
        if skips != self._last_skips:
            notes: dict[str, str] | None = None
            for skip, key in zip(result.skips, skips, strict=True):
                if key not in self._last_skips:
                    notes = self.explain() if notes is None else notes  # once, when needed
                    formula = next((t for t in notes.values() if t.endswith(skip.reason)), None)
                    extra = {"explain": formula} if formula else {}
                    self.journal.write(
                        "skip", stamp, symbol=skip.symbol, reason=skip.reason, seq=seq, **extra
                    )
            self._last_skips = skips
        if result.stopped:
            log.warning("%sstop_equity reached: closing every copied position", self.guard.who)

    async def drift(self) -> list[CopyOrder]:
        """The orders the account still needs for the current state (read now, none sent)."""
        if self.state is None:
            return []
        view = self._with_sizes(await self.view())
        return self._reconcile(self._plan(self.state, view, now_ms(self.clock)), view)

    def explain(self) -> dict[str, str]:
        """Why each target is what it is (copy/explain.py): the last round planned again,
        with notes (only when asked: the engine plans a thousand accounts a round)."""
        notes: dict[str, str] = {}
        if self.state is not None and self.last_view is not None:
            state, rules = self.risk.adjusted(self.state, self.rules)  # as it was planned
            plan(state, self.last_view, rules, now_ms(self.clock), notes)
        for n, reason in enumerate(self.risk.halts()):
            notes[f"risk{n + 1}"] = f"halted: {reason}"
        return notes

    def halts(self) -> list[str]:
        """What holds copying back now besides the breakers: each halted risk limit."""
        return self.risk.halts()

    def in_sync(self) -> bool:
        """True when the last round found nothing to do and nothing is in flight."""
        return self.last_plan is not None and not self.pending_orders and not self.slots.in_flight

    @property
    def in_flight(self) -> set[str]:
        """Symbols with an order under way."""
        return self.slots.in_flight

    @property
    def breaker(self) -> RunawayBreaker:
        return self.guard.breaker

    def status(self) -> dict[str, Any]:
        """A JSON-ready snapshot for ``tradewire follow --status`` and the live view."""
        return status_of(self)


def _details(order: CopyOrder, state: ProviderState) -> dict[str, Any]:
    """What the journal says of an order."""
    details: dict[str, Any] = {
        "key": order.key,
        "action": order.action,
        "symbol": order.symbol,
        "side": order.side,
        "volume": order.volume,
        "position_id": order.position_id,
        "seq": state.seq,
    }
    if order.sl or order.tp or order.action == "modify":
        details.update(sl=order.sl, tp=order.tp)
    if order.note:
        details["note"] = order.note
    return details
