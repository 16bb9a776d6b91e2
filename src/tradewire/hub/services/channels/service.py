"""Signal channels as a hub service (PROTOCOL.md 1.1): ``state``, ``sub``/``unsub`` of a
channel. It owns who subscribes to what and who publishes each channel; the bus numbers, stores
(through the hub's persist hook) and fans out the states, stamped by :class:`FanOutStamps` as
their fan-out begins. The whole route is in hub/compose.py."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import cast

import msgspec

from tradewire.bus.base import Bus, Message
from tradewire.clock import Clock, format_ms, micros, now_ms
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, StateStored
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.channels.registry import Channel, ChannelRegistry
from tradewire.metrics import Metrics
from tradewire.model import UserRecord
from tradewire.protocol.codec import encode, error_line, stamp
from tradewire.protocol.frames import channels as channels_frames
from tradewire.protocol.messages import Ack, PublishState, StateUpdate, Sub, Unsub

log = logging.getLogger(__name__)


class FanOutStamps:
    """The last hop the hub sees: each state is stamped with the moment its fan-out begins
    (the bus's ``outgoing``; docs/latency.md). It remembers the states stamped here, whose
    earlier hops are on this hub's clock."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        # States stamped here and not yet fanned out (a NATS bus may number one several times).
        self.made_here: dict[tuple[str, int], StateUpdate] = {}

    def outgoing(self, message: Message) -> Message:
        """A state as its fan-out begins. A state another hub received keeps only this stamp:
        its others are on that hub's clock. One encoding per state, not per subscriber."""
        update = message.value
        if type(update) is not StateUpdate or update.hops is None:
            return message
        mine = self.made_here.pop((message.subject, message.seq), None) is update
        earlier = update.hops[:2] if mine else [0, 0]
        update = msgspec.structs.replace(update, hops=[*earlier, micros(self._clock.monotonic())])
        return Message(message.subject, message.seq, update, encode(update))


class ChannelService:
    frames = channels_frames.FRAMES

    def __init__(
        self,
        bus: Bus,
        stamps: FanOutStamps,
        channels: ChannelRegistry,
        clock: Clock,
        auditor: Auditor,
        max_subscriptions: int,
        metrics: Metrics,
        events: HubEvents,
    ) -> None:
        self.bus = bus
        self.channels = channels
        self._made_here = stamps.made_here
        self._events = events  # told of each state stored (StateStored)
        self._clock = clock
        self._auditor = auditor
        self._max_subscriptions = max_subscriptions
        self._subscribed: dict[Session, set[str]] = {}
        self._publishing: dict[Session, set[Channel]] = {}  # the reverse of Channel.publisher
        self._states = metrics.counter("tradewire_states_total", "states stored and fanned out")
        self._deliveries = metrics.counter(
            "tradewire_state_deliveries_total", "states handed to subscribers"
        )
        self._fanout = metrics.histogram(
            "tradewire_publish_fanout_seconds", "a state's arrival to its fan-out (stored first)"
        )

    def handlers(self) -> Mapping[str, Handler]:
        return {"state": self.publish, "sub:ch": self.subscribe, "unsub:ch": self.unsubscribe}

    def session_ended(self, session: Session) -> None:
        for channel in self._publishing.pop(session, ()):
            channel.release(session)
        for name in self._subscribed.pop(session, ()):
            self.bus.unsubscribe(name, session)

    def subscribed(self, session: Session) -> set[str]:
        return self._subscribed.get(session, set())

    def published_by(self, session: Session) -> list[str]:
        return sorted(c.name for c in self._publishing.get(session, ()))

    # ---- publishing ----------------------------------------------------------------------------

    def publish(self, session: Session, frame: PublishState) -> None:
        """Stamp, store durably, then fan out and acknowledge (in that order)."""
        assert session.user is not None
        if not may(session.user, "publish", frame.ch):
            self._auditor.forbidden(session, f"you may not publish to {frame.ch!r}", frame.id)
            return
        channel = self.channels.get(frame.ch)
        if not self._claim(session, channel, frame):
            return
        arrived = self._clock.monotonic()
        numbers: list[int] = []  # every seq this publication was stamped with

        def stamped(seq: int) -> tuple[StateUpdate, bytes]:
            update = self._made_here[frame.ch, seq] = stamp(frame, seq, micros(arrived))
            numbers.append(seq)
            return update, encode(update)

        def published(result: Message | Exception) -> None:
            if isinstance(result, Exception):
                for seq in numbers:
                    self._made_here.pop((frame.ch, seq), None)  # never fanned out
                log.error("state of %s not stored: %s", frame.ch, result)
                session.send(
                    error_line("internal", "state not stored; storage unavailable", frame.id)
                )
                return
            self._fanout.observe(self._clock.monotonic() - arrived)
            self._states.inc()
            self._deliveries.inc(self.bus.subscribers(frame.ch))
            session.send(encode(Ack(re=frame.id, seq=result.seq)))
            self._events.emit(StateStored(session, result.value))

        self.bus.publish(frame.ch, stamped, published)

    def _claim(self, session: Session, channel: Channel, frame: PublishState) -> bool:
        """One live publisher per channel (see Channel.claim); False when refused."""
        assert session.user is not None
        key = (session.user.name, frame.account.login)
        previous = channel.publisher_key
        replaced = channel.publisher
        outcome = channel.claim(session, key, frame.takeover, now_ms(self._clock))
        if outcome != "busy" and replaced is not session:
            if replaced is not None:
                self._publishing.get(cast(Session, replaced), set()).discard(channel)
            self._publishing.setdefault(session, set()).add(channel)
        if outcome == "busy":
            since = channel.publisher_since_ms
            self._auditor.audit(
                "refused",
                session.user.name,
                session.address,
                f"channel_busy ch={frame.ch} publisher={previous[0]}",
            )
            msg = (
                f"{frame.ch!r} is published by {previous[0]!r} (account {previous[1]}) since "
                f"{format_ms(since)}; stop that publisher, or take over explicitly "
                '("takeover": true, tradewire provide --takeover)'
            )
            session.send(error_line("channel_busy", msg, frame.id, since_ms=since))
            return False
        if outcome is not None:
            log.warning(
                "%s of channel %s: %s (account %s) replaces %s (account %s)",
                outcome,
                frame.ch,
                *key,
                *previous,
            )
            self._auditor.audit(
                outcome,
                session.user.name,
                session.address,
                f"ch={frame.ch} replaced={previous[0]}/{previous[1]}",
            )
        return True

    # ---- subscribing ---------------------------------------------------------------------------

    def subscribe(self, session: Session, frame: Sub) -> None:
        assert session.user is not None and frame.ch is not None
        if not may(session.user, "subscribe", frame.ch):
            self._auditor.forbidden(session, f"you may not subscribe to {frame.ch!r}", frame.id)
            return
        mine = self._subscribed.setdefault(session, set())
        if frame.ch in mine:
            session.send(encode(Ack(re=frame.id)))
            return
        limit = self._max_subscriptions
        if len(mine) >= limit:
            # The session and its other subscriptions stay: refusing one sub loses nothing.
            msg = f"at most {limit} subscriptions per session"
            session.send(error_line("rate_limited", msg, frame.id))
            return
        latest = self.bus.subscribe(frame.ch, session)
        mine.add(frame.ch)
        session.send(encode(Ack(re=frame.id)))
        if latest is not None:
            session.send_state(frame.ch, latest.line)

    def unsubscribe(self, session: Session, frame: Unsub) -> None:
        assert frame.ch is not None
        self._drop(session, frame.ch)
        session.send(encode(Ack(re=frame.id)))

    def _drop(self, session: Session, name: str) -> None:
        self._subscribed.get(session, set()).discard(name)
        session.drop_pending(name)
        self.bus.unsubscribe(name, session)

    def withdraw(self, session: Session, user: UserRecord) -> None:
        """``user`` (the session's, with new grants) lost some: end what it may no longer do."""
        for name in sorted(self.subscribed(session)):
            if not may(user, "subscribe", name):
                self._drop(session, name)
                session.send(
                    error_line("revoked", f"your grant to {name!r} was withdrawn", ch=name)
                )
                log.info("unsubscribed %s from %s: grant withdrawn", user.name, name)
        for channel in list(self._publishing.get(session, ())):
            if not may(user, "publish", channel.name):
                channel.release(session)
                self._publishing[session].discard(channel)
                msg = f"your grant to {channel.name!r} was withdrawn"
                session.send(error_line("revoked", msg, ch=channel.name))
