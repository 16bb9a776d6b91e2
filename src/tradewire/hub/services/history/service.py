"""Each channel's history, and its statistics on request (issue 27; docs/statistics.md).

The service hears every state the hub stored (``StateStored``, hub/events.py) and keeps a moment
of the channel when its positions, pending orders or balance change, and its equity at least
every ``history.sample_s`` while the provider publishes. ``channel_stats`` answers with the
figures of stats/channel.py over a period, to the channel's followers and providers and to
admins; they are computed off the event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from tradewire.clock import Clock, now_ms
from tradewire.config import HistorySettings
from tradewire.exceptions import StoreError
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.events import StateStored
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.history.simulations import SimulationRefused, Simulations
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import history as history_frames
from tradewire.protocol.frames.base import RequestId
from tradewire.protocol.frames.core import Ack
from tradewire.protocol.frames.history import (
    ChannelStats,
    ChannelStatsRequest,
    PutDeals,
    SimulateRequest,
)
from tradewire.stats.channel import Point, channel_stats
from tradewire.store.history import HistoryStore

PRUNE_EVERY = 1000  # moments kept per channel between prunings, at most
MAX_COMPUTING = 2  # figures computed at once (each reads a channel's history into memory)
DAY_MS = 86_400_000


@dataclass(frozen=True)
class _Kept:
    ts: int
    what: tuple[object, ...]  # what a change of makes a full moment


class HistoryService:
    frames = history_frames.FRAMES

    def __init__(
        self,
        settings: HistorySettings,
        store: HistoryStore,
        clock: Clock,
        auditor: Auditor,
        spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]],
        simulations: Simulations | None = None,
    ) -> None:
        self._settings = settings
        self.simulations = simulations
        self._store = store
        self._clock = clock
        self._auditor = auditor
        self._spawn = spawn
        self._last: dict[str, _Kept] = {}
        self._since_prune: Counter[str] = Counter()  # moments kept since the last pruning
        self._bytes_since_prune: Counter[str] = Counter()
        # Prune often enough that a channel never holds more than its limits and a tenth.
        self._prune_points = min(PRUNE_EVERY, max(1, settings.max_points_per_channel // 10))
        self._prune_bytes = settings.max_bytes_per_channel // 10
        # Figures are computed off the loop, at most this many at once, whoever asks.
        self._computing = asyncio.Semaphore(MAX_COMPUTING)
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._deal_buckets = SessionBuckets(settings.deals_rate_per_s, settings.deals_burst)

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "channel_stats": self.stats,
            "deals": self.put_deals,
            "channel_simulate": self.simulate,
        }

    def session_ended(self, session: Session) -> None:
        pass  # nothing held per session (its rate bucket goes with it)

    # ---- keeping --------------------------------------------------------------------------------

    def record(self, stored: StateStored) -> None:
        """A state the hub stored: kept as a full moment when what it holds changed, as an
        equity sample when the last kept moment is ``sample_s`` old, else not at all."""
        if not self._settings.enabled:
            return
        state = stored.update
        held = tuple(
            (p.id, p.symbol, p.side, p.volume, p.price, p.sl, p.tp) for p in state.positions
        )
        pending = tuple((o.id, o.volume, o.price) for o in state.orders or ())
        what = (state.account.balance, held, pending)
        # The hub's time, not the state's: a provider cannot backdate or spread its record.
        now = now_ms(self._clock)
        last = self._last.get(state.ch)
        if last is not None:  # two states in one millisecond: each moment its own time
            now = max(now, last.ts + 1)
        if last is not None and what == last.what:
            if now - last.ts < self._settings.sample_s * 1000:
                return
            positions = None
        else:
            positions = tuple(state.positions)
        account = state.account
        orders = None if positions is None or state.orders is None else tuple(state.orders)
        point = Point(
            now,
            account.balance,
            account.equity,
            positions,
            account.margin,
            orders,
            account.mode,
            int(account.leverage),
        )
        size = self._store.put(state.ch, account.currency, point)
        self._last[state.ch] = _Kept(now, what)
        self._since_prune[state.ch] += 1
        self._bytes_since_prune[state.ch] += size
        if (
            self._since_prune[state.ch] >= self._prune_points
            or self._bytes_since_prune[state.ch] >= self._prune_bytes
        ):
            self._since_prune[state.ch] = self._bytes_since_prune[state.ch] = 0
            settings = self._settings
            oldest = now - int(settings.keep_days * DAY_MS)
            self._store.prune(
                state.ch, oldest, settings.max_points_per_channel, settings.max_bytes_per_channel
            )

    def put_deals(self, session: Session, frame: PutDeals) -> None:
        """A provider's deals: kept once each, acked with how many were new."""
        user = session.user
        assert user is not None
        if not may(user, "publish", frame.ch):
            self._auditor.forbidden(session, f"you may not publish on {frame.ch!r}", frame.id)
            return
        if not self._settings.enabled:
            session.send(encode(Ack(re=frame.id, n=0)))  # nothing is kept, by configuration
            return
        wait = self._deal_buckets.take(session, self._clock.monotonic())
        if wait > 0:
            retry = max(1, math.ceil(wait))
            session.send(
                error_line("rate_limited", "too many deals frames", frame.id, retry_after_s=retry)
            )
            return
        session.replying(self._spawn(self._keep_deals(session, frame)))

    async def _keep_deals(self, session: Session, frame: PutDeals) -> None:
        try:
            new = await self._store.put_deals(
                frame.ch,
                frame.deals,
                now_ms(self._clock),
                self._settings.max_deals_per_channel,
            )
        except StoreError:
            session.send(error_line("internal", "history store unavailable", frame.id))
            return
        session.send(encode(Ack(re=frame.id, n=new)))

    # ---- answering ------------------------------------------------------------------------------

    def stats(self, session: Session, frame: ChannelStatsRequest) -> None:
        if self._may_read(session, frame.ch, frame.id, "channel_stats"):
            session.replying(self._spawn(self._answer(session, frame)))

    def simulate(self, session: Session, frame: SimulateRequest) -> None:
        if not self._may_read(session, frame.ch, frame.id, "channel_simulate"):
            return
        if self.simulations is None or not self.simulations.reserve():
            msg = "a simulation is running (one at a time); try again shortly"
            session.send(error_line("rate_limited", msg, frame.id, retry_after_s=5))
            return
        task = self._spawn(self._simulate(session, frame))
        simulations = self.simulations
        task.add_done_callback(lambda _: simulations.release())
        session.replying(task)

    def _may_read(self, session: Session, channel: str, re: RequestId, what: str) -> bool:
        """May ``session`` read the channel's history now (audited and answered if not)."""
        user = session.user
        assert user is not None
        if not (may(user, "subscribe", channel) or may(user, "publish", channel)):
            self._auditor.forbidden(session, f"you may not read {channel!r}", re)
            return False
        wait = self._buckets.take(session, self._clock.monotonic())
        if wait > 0:
            retry = max(1, math.ceil(wait))
            session.send(
                error_line("rate_limited", f"too many {what} requests", re, retry_after_s=retry)
            )
            return False
        return True

    async def _simulate(self, session: Session, frame: SimulateRequest) -> None:
        assert self.simulations is not None
        try:
            result = await self.simulations.run(frame)
        except SimulationRefused as exc:
            session.send(error_line(exc.code, str(exc), frame.id))
            return
        session.send(encode(msgspec.structs.replace(result, re=frame.id)))

    async def figures(
        self, channel: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> ChannelStats | None:
        """The channel's figures over the period, or None when nothing of it is kept there
        (computed off the event loop). Raises StoreError."""
        async with self._computing:
            currency, points = await self._store.points(channel, since_ms, until_ms)
            if not points:
                return None
            deals = await self._store.deals(channel, points[-1].ts)
            return await asyncio.to_thread(channel_stats, channel, currency, points, deals)

    async def _answer(self, session: Session, frame: ChannelStatsRequest) -> None:
        try:
            figures = await self.figures(frame.ch, frame.since_ms, frame.until_ms)
        except StoreError:
            session.send(error_line("internal", "history store unavailable", frame.id))
            return
        if figures is None:
            msg = f"no history of {frame.ch!r} in that period (kept from its first state on)"
            session.send(error_line("not_found", msg, frame.id))
            return
        session.send(encode(msgspec.structs.replace(figures, re=frame.id)))
