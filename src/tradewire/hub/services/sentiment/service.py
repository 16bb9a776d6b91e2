"""Market sentiment as a hub service (the article's first further idea; docs/sentiment.md).

Clients contribute their positions per symbol (``sentiment_put``; providers' published states
too, with ``[sentiment] from_states``); subscribers (``sub`` with ``sentiment``) get a snapshot,
then what changed every ``interval_s``. A symbol is shown only with ``min_contributors``
distinct users, so no single account can be read back; a contribution lapses at its session's
end or its TTL.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping

from tradewire.clock import Clock, now_ms
from tradewire.config import SentimentSettings
from tradewire.hub.audit import Auditor
from tradewire.hub.events import (
    HubEvents,
    SentimentChanged,
    SentimentContributed,
    SentimentForgotten,
)
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.sentiment.book import Contribution, SentimentBook, from_positions
from tradewire.metrics import Metrics
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import sentiment as sentiment_frames
from tradewire.protocol.messages import (
    Ack,
    SentimentPut,
    SentimentRow,
    SentimentUpdate,
    StateUpdate,
    Sub,
    Unsub,
)
from tradewire.protocol.names import is_symbol

ALL = "*"
Owner = object  # a session, or a connection of the article listener


class SentimentService:
    frames = sentiment_frames.FRAMES

    def __init__(
        self,
        settings: SentimentSettings,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        events: HubEvents,
    ) -> None:
        self.settings = settings
        self._events = events
        self._clock = clock
        self._auditor = auditor
        self.book = SentimentBook(settings.min_contributors)
        self._owned: dict[Owner, set[tuple[str, str]]] = {}  # owner -> (contributor, symbol)
        self._subscribers: dict[Session, set[str]] = {}  # symbols, or {"*"}
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._puts = metrics.counter("tradewire_sentiment_puts_total", "contributions accepted")
        metrics.gauge(
            "tradewire_sentiment_symbols", "symbols with contributions", self._count_symbols
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "sentiment_put": self.put_frame,
            "sub:sentiment": self.subscribe,
            "unsub:sentiment": self.unsubscribe,
        }

    def session_ended(self, session: Session) -> None:
        self._subscribers.pop(session, None)
        self.forget(session)

    # ---- contributions ---------------------------------------------------------------------

    def put_frame(self, session: Session, frame: SentimentPut) -> None:
        assert session.user is not None
        wait = self._buckets.take(session, self._clock.monotonic())
        if wait > 0:
            session.send(
                error_line(
                    "rate_limited",
                    f"more than {self.settings.rate_per_s:g} sentiment_put a second",
                    frame.id,
                    retry_after_s=math.ceil(wait * 1000) / 1000,
                )
            )
            return
        problem = _problem(frame)
        user = session.user.name
        held = self.book.symbols_of(user)
        if problem is None and frame.symbol not in held and len(held) >= self.settings.max_symbols:
            problem = f"at most {self.settings.max_symbols} symbols per user"
        if problem is not None:
            session.send(error_line("bad_frame", problem, frame.id))
            return
        ttl = frame.ttl_s or self.settings.ttl_s
        contribution = Contribution(
            frame.long,
            frame.short,
            frame.long_n if frame.long_n is not None else int(frame.long > 0),
            frame.short_n if frame.short_n is not None else int(frame.short > 0),
            frame.long_price,
            frame.short_price,
            self._clock.monotonic() + ttl,
        )
        self.put(session, user, frame.symbol, contribution)
        session.send(encode(Ack(re=frame.id)))

    def put(
        self,
        owner: Owner,
        contributor: str,
        symbol: str,
        contribution: Contribution,
        made_here: bool = True,
    ) -> None:
        """``made_here``: False for a contribution another hub told of (not told again)."""
        self.book.put(contributor, symbol, contribution)
        self._owned.setdefault(owner, set()).add((contributor, symbol))
        self._puts.inc()
        if made_here:
            self._events.emit(SentimentContributed(owner, contributor, symbol, contribution))

    def forget(self, owner: Owner, made_here: bool = True) -> None:
        """Everything ``owner`` contributed lapses (a logout, a closed article connection)."""
        owned = self._owned.pop(owner, ())
        for contributor, symbol in owned:
            self.book.drop(contributor, [symbol])
        if owned and made_here:
            self._events.emit(SentimentForgotten(owner))

    def observe_state(self, session: Session, update: StateUpdate) -> None:
        """With ``from_states``: a provider's published positions replace its contributions."""
        if not self.settings.from_states or session.user is None:
            return
        user = f"{session.user.name}@{update.ch}"  # one contributor per account and channel
        fresh = from_positions(update.positions, self._clock.monotonic() + self.settings.ttl_s)
        self.book.drop(user, [s for s in self.book.symbols_of(user) if s not in fresh])
        for symbol, contribution in list(fresh.items())[: self.settings.max_symbols]:
            self.put(session, user, symbol, contribution)

    # ---- subscribers -----------------------------------------------------------------------

    def subscribe(self, session: Session, frame: Sub) -> None:
        symbols = set(frame.sentiment or ())
        bad = [s for s in symbols if s != ALL and not is_symbol(s)]
        if bad or not symbols:
            session.send(error_line("bad_frame", f"not a symbol: {bad[:3]}", frame.id))
            return
        wanted = self._subscribers.setdefault(session, set())
        if len(wanted | symbols) > self.settings.max_symbols:
            session.send(error_line("rate_limited", "too many sentiment symbols", frame.id))
            return
        wanted |= symbols
        session.send(encode(Ack(re=frame.id)))
        rows = [r for r in self.book.visible() if ALL in symbols or r.symbol in symbols]
        session.send(encode(SentimentUpdate(rows=rows, ts=now_ms(self._clock))))

    def unsubscribe(self, session: Session, frame: Unsub) -> None:
        wanted = self._subscribers.get(session, set())
        wanted -= set(frame.sentiment or ())
        if not wanted:
            self._subscribers.pop(session, None)
        session.send(encode(Ack(re=frame.id)))

    def visible(self) -> list[SentimentRow]:
        """Every symbol's aggregate that enough contributors make public (the dashboard)."""
        return self.book.visible()

    def publish_changes(self) -> None:
        self.book.expire(self._clock.monotonic())
        rows = self.book.changes()
        if not rows:
            return
        stamp = now_ms(self._clock)
        for session, wanted in list(self._subscribers.items()):
            mine = rows if ALL in wanted else [r for r in rows if r.symbol in wanted]
            if not mine:
                continue
            if not session.backlogged:
                session.send(encode(SentimentUpdate(rows=mine, ts=stamp)))
                continue
            for row in mine:  # a slow reader keeps only the newest figures per symbol
                line = encode(SentimentUpdate(rows=[row], ts=stamp))
                session.send_state(f"sentiment:{row.symbol}", line)
        self._events.emit(SentimentChanged(rows))

    async def run(self) -> None:
        """The long-lived publisher of what changed, every interval (supervised by the hub)."""
        while True:
            await asyncio.sleep(self.settings.interval_s)
            self.publish_changes()

    def _count_symbols(self) -> dict[tuple[str, ...], float]:
        return {(): float(len(self.book.visible()))}


def _problem(frame: SentimentPut) -> str | None:
    if not is_symbol(frame.symbol):
        return f"invalid symbol {frame.symbol!r}"
    values = (frame.long, frame.short, frame.long_price, frame.short_price)
    if not all(math.isfinite(v) for v in values):
        return "volumes and prices must be finite"
    return None
