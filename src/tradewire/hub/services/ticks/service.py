"""Tick ingest in the hub: native ``ticks`` frames (acked once durable, deduplicated by user
and frame id), the text listeners, and live tick subscriptions (PROTOCOL.md 1.2)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from tradewire.clock import Clock, now_ms
from tradewire.exceptions import StoreError
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, TicksStored
from tradewire.hub.service import Handler, Session
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import ticks as ticks_frames
from tradewire.protocol.messages import Ack, PublishTicks, Sub, TicksUpdate, Unsub
from tradewire.protocol.names import is_symbol
from tradewire.protocol.tick_columns import TickColumns, native_ticks
from tradewire.protocol.ticks import TickRow
from tradewire.store.tick_writer import Stored, TickWriter
from tradewire.store.ticks import TickStore

log = logging.getLogger(__name__)

ALL = "*"


class TickSubscriber(Protocol):
    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        """Deliver an encoded ticks frame (``rows`` is what it holds, for conflation)."""
        ...

    def send(self, line: bytes) -> None: ...


class ListenerCounters:
    """What a text listener saw: datagrams/lines received and malformed ones."""

    def __init__(self, name: str, kernel_drops: Callable[[], int] | None = None) -> None:
        self.name = name
        self.received = 0
        self.malformed = 0
        self.reasons: dict[str, int] = {}
        self._kernel_drops = kernel_drops

    def bad(self, reason: str) -> None:
        self.malformed += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    @property
    def kernel_drops(self) -> int:
        return self._kernel_drops() if self._kernel_drops else 0


class TickService:
    """A hub service: native ``ticks`` frames, ``sub``/``unsub`` of live ticks. Owns the tick
    writer, the listeners' counters and who subscribes to which symbols."""

    frames = ticks_frames.FRAMES

    def __init__(
        self,
        open_store: Callable[[], TickStore],
        clock: Clock,
        auditor: Auditor,
        max_subscriptions: int,
        other_subscriptions: Callable[[Session], int],
        events: HubEvents,
    ) -> None:
        self._open_store = open_store
        self._events = events
        self.clock = clock
        self._auditor = auditor
        self._max_subscriptions = max_subscriptions
        self._other_subscriptions = other_subscriptions  # the session's channel subscriptions
        self.writer: TickWriter | None = None
        self.listeners: list[ListenerCounters] = []
        self._by_symbol: dict[str, set[TickSubscriber]] = {}
        self._symbols: dict[Session, set[str]] = {}

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "ticks": self.publish,
            "sub:ticks": self.subscribe_frame,
            "unsub:ticks": self.unsubscribe_frame,
        }

    def session_ended(self, session: Session) -> None:
        if self._symbols.pop(session, None):
            self.unsubscribe(session)

    def symbols(self, session: Session) -> set[str]:
        return self._symbols.get(session, set())

    def publish(self, session: Session, frame: PublishTicks) -> None:
        assert session.user is not None
        if not may(session.user, "send_ticks"):
            self._auditor.forbidden(session, "only providers and admins may send ticks", frame.id)
            return
        self.submit_native(session, session.user.name, frame)

    def subscribe_frame(self, session: Session, frame: Sub) -> None:
        symbols = frame.ticks or []
        bad = [s for s in symbols if s != ALL and not is_symbol(s)]
        if bad or not symbols:
            session.send(error_line("bad_frame", f'ticks: symbols or "*", not {bad[:3]}', frame.id))
            return
        mine = self._symbols.setdefault(session, set())
        wanted = set(symbols) - mine
        limit = self._max_subscriptions
        if self._other_subscriptions(session) + len(mine) + len(wanted) > limit:
            msg = f"at most {limit} subscriptions per session"
            session.send(error_line("rate_limited", msg, frame.id))
            return
        mine |= wanted
        self.subscribe(session, sorted(wanted))
        session.send(encode(Ack(re=frame.id)))

    def unsubscribe_frame(self, session: Session, frame: Unsub) -> None:
        symbols = frame.ticks or []
        self._symbols.get(session, set()).difference_update(symbols)
        self.unsubscribe(session, symbols)
        session.send(encode(Ack(re=frame.id)))

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writer = TickWriter(self._open_store, loop, self._publish)
        self.writer.start()

    async def flush(self) -> None:
        """Wait until every tick queued so far is committed (readiness, shutdown)."""
        if self.writer is not None:
            await self.writer.flush()

    def stop(self) -> None:
        if self.writer is not None:
            self.writer.stop()

    # ---- native frames -----------------------------------------------------------------------

    def submit_native(self, sender: TickSubscriber, user: str, frame: PublishTicks) -> None:
        """Validate the whole frame, store it durably, then ack (or refuse it whole)."""
        checked = native_ticks(frame, now_ms(self.clock))
        if isinstance(checked, str):
            sender.send(error_line("invalid_ticks", checked, frame.id))
            return
        key = (user, str(frame.id)) if frame.id is not None else None

        def stored(result: Stored | StoreError) -> None:
            if isinstance(result, StoreError):
                sender.send(
                    error_line("internal", "ticks not stored; storage unavailable", frame.id)
                )
            else:
                sender.send(encode(Ack(re=frame.id, n=result[0])))

        assert self.writer is not None
        self.writer.put(checked, key, stored)

    # ---- live subscriptions ------------------------------------------------------------------

    def subscribe(self, subscriber: TickSubscriber, symbols: list[str]) -> None:
        for symbol in symbols:
            self._by_symbol.setdefault(symbol, set()).add(subscriber)

    def unsubscribe(self, subscriber: TickSubscriber, symbols: list[str] | None = None) -> None:
        for symbol in list(self._by_symbol) if symbols is None else symbols:
            members = self._by_symbol.get(symbol)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self._by_symbol[symbol]

    def _publish(self, batches: list[TickColumns]) -> None:
        """Newly stored ticks go to the hub's event stream and every live subscriber of their
        symbols (as rows, made only when someone wants them)."""
        told = self._events.wanted(TicksStored)
        if not told and not self._by_symbol:
            return
        rows = [row for batch in batches for row in batch.rows()]
        if told:
            self._events.emit(TicksStored(rows))
        self.fan_out(rows)

    def fan_out(self, rows: list[TickRow]) -> None:
        """Rows to every live subscriber whose symbols they match (stored here or, with NATS,
        by another hub)."""
        if not self._by_symbol:
            return
        everyone = self._by_symbol.get(ALL, set())
        if everyone:
            line = encode(TicksUpdate(rows=[list(r) for r in rows]))
            for subscriber in everyone:
                subscriber.send_ticks(line, rows)
        picked: dict[TickSubscriber, list[TickRow]] = {}
        for row in rows:
            for subscriber in self._by_symbol.get(row[0], ()):
                if subscriber not in everyone:
                    picked.setdefault(subscriber, []).append(row)
        for subscriber, mine in picked.items():
            subscriber.send_ticks(encode(TicksUpdate(rows=[list(r) for r in mine])), mine)
