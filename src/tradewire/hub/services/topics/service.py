"""Topics as a hub service (the article's "sending out indicator calculations from the server
to subscribers"; docs/topics.md): named topics carrying any JSON value.

Each topic is a bus subject ``topic:NAME``: the bus numbers its values (``seq``), stores the
last one durably (the hub's persist hook) before anyone sees it, and keeps it for new
subscribers. Subscriptions name topics or prefixes (``ind.EURUSD.*``); the service routes each
value to the sessions whose names or prefixes match, each conflated per topic while slow.

Matching is indexed, so no frame costs in proportion to every topic times every subscription
(10,000 topics and a sub of 100 prefixes once stalled the loop for 491 ms): a value finds its
sessions through the prefixes of its own name (at most 64 look-ups), and a subscription its
retained values through the sorted topic names (a range per prefix). ``sub``/``unsub`` of
topics are rate-limited per session.

Each user holds at most ``max_topics_per_user`` topics; ``topic_del`` deletes one, and the
upkeep deletes topics without a new value for ``expire_days`` (hub/services/topics/owners.py).
"""

from __future__ import annotations

import bisect
import logging
import math
from collections.abc import Callable, Iterable, Mapping

import msgspec

from tradewire.bus.base import Bus, Message
from tradewire.clock import Clock, now_ms
from tradewire.config import TopicSettings
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.topics.owners import TopicOwners
from tradewire.metrics import Metrics
from tradewire.model import UserRecord
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import topics as topics_frames
from tradewire.protocol.messages import Ack, Sub, TopicDel, TopicPub, TopicUpdate, Unsub
from tradewire.protocol.names import is_topic, is_topic_pattern
from tradewire.store.state import StateStore

log = logging.getLogger(__name__)
PREFIX = "topic:"  # bus subjects; ":" never appears in a channel name


class TopicService:
    frames = topics_frames.FRAMES

    def __init__(
        self,
        settings: TopicSettings,
        bus: Bus,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        store: StateStore,
    ) -> None:
        self.settings = settings
        self._bus = bus
        self._store = store
        self.owners = TopicOwners(settings.max_topics_per_user)
        self._clock = clock
        self._auditor = auditor
        self.known: set[str] = set()  # topic names with a value (restored at start)
        self._sorted: list[str] = []  # the known topics, sorted: prefix ranges by bisection
        self._exact: dict[str, set[Session]] = {}
        self._by_prefix: dict[str, set[Session]] = {}  # prefix (without "*") -> sessions
        self._prefixes: dict[Session, set[str]] = {}  # session -> prefixes (without "*")
        self._patterns: dict[Session, set[str]] = {}  # session -> everything it named
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._sub_buckets = SessionBuckets(settings.subscribe_rate_per_s, settings.subscribe_burst)
        self._published = metrics.counter("tradewire_topic_values_total", "topic values stored")
        self._deliveries = metrics.counter(
            "tradewire_topic_deliveries_total", "topic values handed to subscribers"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {
            "topic_pub": self.publish_frame,
            "topic_del": self.delete_frame,
            "sub:topics": self.subscribe,
            "unsub:topics": self.unsubscribe,
        }

    def restore(self, subjects: Iterable[str], owners: dict[str, str] | None = None) -> None:
        """At start: topics stored by an earlier run (bus subjects), and their creators."""
        for subject in subjects:
            if subject.startswith(PREFIX):
                self._route(subject[len(PREFIX) :])
        self.owners.load({t: o for t, o in (owners or {}).items() if t in self.known})

    def withdraw(self, session: Session, user: UserRecord) -> None:
        """The session's grants changed: end each subscription they no longer cover."""
        for pattern in sorted(self._patterns.get(session, set())):
            if may(user, "subscribe_topic", pattern):
                continue
            self._patterns[session].discard(pattern)
            self._drop(session, pattern)
            msg = f"your grant for topic {pattern!r} was withdrawn: subscription ended"
            session.send(error_line("revoked", msg))
            log.info("topic subscription %s of %s revoked", pattern, user.name)

    def session_ended(self, session: Session) -> None:
        for pattern in self._patterns.pop(session, set()):
            self._drop(session, pattern)

    # ---- publishing ----------------------------------------------------------------------------

    def publish_frame(self, session: Session, frame: TopicPub) -> None:
        assert session.user is not None
        if not is_topic(frame.topic):
            session.send(error_line("bad_frame", f"invalid topic {frame.topic!r}", frame.id))
            return
        if not may(session.user, "publish_topic", frame.topic):
            self._auditor.forbidden(session, f"you may not publish to {frame.topic!r}", frame.id)
            return
        problem = self._refusal(session, frame)
        if problem is not None:
            session.send(problem)
            return
        if frame.topic not in self.known:
            over = self.owners.refusal(session.user, frame.topic)
            if over is not None:
                self._auditor.audit("refused", session.user.name, session.address, over)
                session.send(error_line("quota_exceeded", over, frame.id))
                return
            if self.owners.claim(frame.topic, session.user.name):
                self._store.put_topic_owner(frame.topic, session.user.name)

        def done(result: Message | Exception) -> None:
            if isinstance(result, Exception):
                session.send(error_line("internal", "value not stored", frame.id))
            else:
                session.send(encode(Ack(re=frame.id, seq=result.seq)))

        self.publish(frame.topic, frame.value, done)

    def publish(
        self, topic: str, value: msgspec.Raw, done: Callable[[Message | Exception], None]
    ) -> None:
        """Store and fan out ``value`` (for sessions and for the hub's own publishers)."""
        self._route(topic)

        def stamped(seq: int) -> tuple[TopicUpdate, bytes]:
            update = TopicUpdate(topic=topic, seq=seq, ts=now_ms(self._clock), value=value)
            return update, encode(update)

        self._bus.publish(PREFIX + topic, stamped, done)

    def delete_frame(self, session: Session, frame: TopicDel) -> None:
        assert session.user is not None
        if not is_topic(frame.topic):
            session.send(error_line("bad_frame", f"invalid topic {frame.topic!r}", frame.id))
            return
        if not self.owners.may_delete(session.user, frame.topic):
            msg = f"topic {frame.topic!r} is not yours to delete"
            self._auditor.forbidden(session, msg, frame.id)
            return
        if frame.topic not in self.known:
            session.send(error_line("not_found", f"no topic {frame.topic!r}", frame.id))
            return
        self._auditor.audit("topic_deleted", session.user.name, session.address, frame.topic)

        def done(result: Exception | None) -> None:
            if result is not None:
                session.send(error_line("internal", f"not deleted: {result}", frame.id))
            else:
                session.send(encode(Ack(re=frame.id)))

        self.delete(frame.topic, done)

    def delete(self, topic: str, done: Callable[[Exception | None], None]) -> None:
        """Forget ``topic``: its kept value on the bus and in the store, its creator's claim.
        Its subscribers stay subscribed and get its next value, if one comes."""
        if topic in self.known:
            self.known.discard(topic)
            del self._sorted[bisect.bisect_left(self._sorted, topic)]
            self._bus.unsubscribe(PREFIX + topic, self)
        self.owners.release(topic)
        self._store.delete_topic(PREFIX + topic, topic)
        self._bus.forget(PREFIX + topic, done)

    def expire(self, now: int) -> int:
        """Delete the topics whose latest value is older than ``expire_days``; how many."""
        cutoff = now - int(self.settings.expire_days * 86_400_000)
        stale = []
        for topic in self._sorted:
            latest = self._bus.latest(PREFIX + topic)
            value = latest.value if latest is not None else None
            if isinstance(value, TopicUpdate) and value.ts < cutoff:
                stale.append(topic)
        for topic in stale:
            self.delete(topic, _logged(topic))
        return len(stale)

    def _refusal(self, session: Session, frame: TopicPub) -> bytes | None:
        settings = self.settings
        wait = self._buckets.take(session, self._clock.monotonic())
        if wait > 0:
            return error_line(
                "rate_limited",
                f"more than {settings.rate_per_s:g} topic_pub a second",
                frame.id,
                retry_after_s=math.ceil(wait * 1000) / 1000,
            )
        if len(frame.value) > settings.max_value_bytes:
            return error_line(
                "frame_too_large",
                f"value of {len(frame.value)} bytes; at most {settings.max_value_bytes}",
                frame.id,
            )
        if frame.topic not in self.known and len(self.known) >= settings.max_topics:
            return error_line(
                "rate_limited", f"the hub keeps at most {settings.max_topics} topics", frame.id
            )
        return None

    def _route(self, topic: str) -> None:
        """The first value of a topic: this service delivers the topic's messages."""
        if topic not in self.known:
            self.known.add(topic)
            bisect.insort(self._sorted, topic)
            self._bus.subscribe(PREFIX + topic, self)

    def _topics_of(self, pattern: str) -> Iterable[str]:
        """The known topics ``pattern`` (a name, or a prefix ending in ``*``) covers."""
        if not pattern.endswith("*"):
            return (pattern,) if pattern in self.known else ()
        prefix = pattern[:-1]
        start = bisect.bisect_left(self._sorted, prefix)
        end = start
        while end < len(self._sorted) and self._sorted[end].startswith(prefix):
            end += 1
        return self._sorted[start:end]

    def deliver(self, message: Message) -> None:
        """Bus callback: a stored value goes to every session whose name or prefix matches."""
        topic = message.subject[len(PREFIX) :]
        sessions = set(self._exact.get(topic, ()))
        for end in range(len(topic) + 1):  # every prefix of the name, "" included
            members = self._by_prefix.get(topic[:end])
            if members:
                sessions.update(members)
        for session in sessions:
            session.deliver(message)
        self._published.inc()
        self._deliveries.inc(len(sessions))

    # ---- subscribing ---------------------------------------------------------------------------

    def _too_fast(self, session: Session, re: object) -> bool:
        wait = self._sub_buckets.take(session, self._clock.monotonic())
        if wait <= 0:
            return False
        rate = self.settings.subscribe_rate_per_s
        session.send(
            error_line(
                "rate_limited",
                f"more than {rate:g} topic sub/unsub a second",
                re,  # type: ignore[arg-type]
                retry_after_s=math.ceil(wait * 1000) / 1000,
            )
        )
        return True

    def subscribe(self, session: Session, frame: Sub) -> None:
        assert session.user is not None
        if self._too_fast(session, frame.id):
            return
        patterns = list(dict.fromkeys(frame.topics or ()))
        bad = [p for p in patterns if not is_topic_pattern(p)]
        if bad or not patterns:
            session.send(error_line("bad_frame", f"invalid topic or prefix: {bad[:3]}", frame.id))
            return
        for pattern in patterns:
            if not may(session.user, "subscribe_topic", pattern):
                self._auditor.forbidden(session, f"no grant covers topic {pattern!r}", frame.id)
                return
        mine = self._patterns.setdefault(session, set())
        if len(mine | set(patterns)) > self.settings.max_subscriptions:
            session.send(
                error_line(
                    "rate_limited",
                    f"at most {self.settings.max_subscriptions} topics and prefixes",
                    frame.id,
                )
            )
            return
        session.send(encode(Ack(re=frame.id)))
        for pattern in patterns:
            if pattern in mine:
                continue
            mine.add(pattern)
            if pattern.endswith("*"):
                self._prefixes.setdefault(session, set()).add(pattern[:-1])
                self._by_prefix.setdefault(pattern[:-1], set()).add(session)
            else:
                self._exact.setdefault(pattern, set()).add(session)
            for topic in self._topics_of(pattern):  # the retained values, at once
                if (latest := self._bus.latest(PREFIX + topic)) is not None:
                    session.deliver(latest)

    def unsubscribe(self, session: Session, frame: Unsub) -> None:
        if self._too_fast(session, frame.id):
            return
        mine = self._patterns.get(session, set())
        dropped = [p for p in dict.fromkeys(frame.topics or ()) if p in mine]
        for pattern in dropped:
            mine.discard(pattern)
            self._drop(session, pattern)
        for pattern in dropped:  # a value held back for a slow reader is not wanted now
            for topic in self._topics_of(pattern):
                if not self._wants(session, topic):
                    session.drop_pending(PREFIX + topic)
        session.send(encode(Ack(re=frame.id)))

    def _wants(self, session: Session, topic: str) -> bool:
        return any(_matches(p, topic) for p in self._patterns.get(session, ()))

    def _drop(self, session: Session, pattern: str) -> None:
        if pattern.endswith("*"):
            prefixes = self._prefixes.get(session)
            if prefixes is not None:
                prefixes.discard(pattern[:-1])
                if not prefixes:
                    del self._prefixes[session]
            members = self._by_prefix.get(pattern[:-1])
            if members is not None:
                members.discard(session)
                if not members:
                    del self._by_prefix[pattern[:-1]]
        else:
            members = self._exact.get(pattern)
            if members is not None:
                members.discard(session)
                if not members:
                    del self._exact[pattern]


def _matches(pattern: str, topic: str) -> bool:
    return topic.startswith(pattern[:-1]) if pattern.endswith("*") else topic == pattern


def _logged(topic: str) -> Callable[[Exception | None], None]:
    def done(result: Exception | None) -> None:
        if result is not None:
            log.warning("expired topic %s not deleted from the bus: %s", topic, result)

    return done
