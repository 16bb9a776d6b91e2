"""The hub as a proxy between clients (the article's fourth idea; docs/relay.md).

A session ``listen``s under its user's name (or ``user/label``); others holding the grant
``relay:<user>`` send it messages (``relay``), one-way or as requests that wait for a ``reply``.
Nothing is lost silently: a one-way message is acked only once handed to the addressee, and a
request ends with exactly one of ``relayed``, ``error timeout`` or ``error unreachable`` (the
addressee left, or never was there). Per pair, messages arrive in the order they were sent: one
process, one event loop, one outbound buffer per session.

The MetaTrader 5 bridge rides on this: a terminal listens under its name and the follower's
``terminal:`` broker sends it requests (docs/mt5.md).
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tradewire.clock import Clock
from tradewire.config import RelaySettings
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, RelayCarriedIn, RelayLeft, RelayListening
from tradewire.hub.ratelimit import SessionBuckets
from tradewire.hub.service import Handler, Session
from tradewire.metrics import Metrics
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import relay as relay_frames
from tradewire.protocol.messages import (
    Ack,
    Listen,
    Relay,
    RelayAnswer,
    Relayed,
    RelayIn,
    RequestId,
)
from tradewire.protocol.names import relay_owner


@dataclass(slots=True)
class _Pending:
    requester: Session
    request_id: RequestId
    addressee: Session
    to: str
    timer: asyncio.TimerHandle


class RelayService:
    frames = relay_frames.FRAMES

    def __init__(
        self,
        settings: RelaySettings,
        clock: Clock,
        auditor: Auditor,
        metrics: Metrics,
        events: HubEvents,
        forward: Callable[[Session, str, Relay], bool] | None = None,
    ) -> None:
        """``forward``: with several hubs (hub/services/relay/shared.py), asked to carry a
        message whose addressee listens on another hub (True when it did)."""
        self._settings = settings
        self._events = events  # told of names taken and left here
        self._clock = clock
        self._auditor = auditor
        self._names: dict[str, Session] = {}  # address -> the session listening under it
        self._held: dict[Session, set[str]] = {}  # session -> its addresses
        self._pending: dict[int, _Pending] = {}  # hub request id -> the waiting request
        self._waiting: dict[Session, int] = {}  # requester -> requests it waits for
        self._rids = itertools.count(1)
        self._buckets = SessionBuckets(settings.rate_per_s, settings.burst)
        self._relayed = metrics.counter(
            "tradewire_relay_messages_total", "relay frames by outcome", ("outcome",)
        )
        self._forward = forward

    def handlers(self) -> Mapping[str, Handler]:
        return {"listen": self.listen, "relay": self.relay, "reply": self.answer}

    # ---- listening ------------------------------------------------------------------------------

    def listen(self, session: Session, frame: Listen) -> None:
        assert session.user is not None
        owner = relay_owner(frame.name)
        if owner is None:
            session.send(error_line("bad_frame", f"invalid relay name {frame.name!r}", frame.id))
            return
        if owner != session.user.name:
            self._auditor.forbidden(session, f"may not listen as {frame.name!r}", frame.id)
            return
        held = self._held.setdefault(session, set())
        if frame.name not in held and len(held) >= self._settings.max_names:
            session.send(
                error_line("rate_limited", f"at most {self._settings.max_names} names", frame.id)
            )
            return
        previous = self._names.get(frame.name)
        if previous is not None and previous is not session:
            # The same user again, usually a terminal reconnecting before its old session
            # timed out: the newest wins, and the old one is told.
            self._drop_name(previous, frame.name)
            previous.send(error_line("name_taken", f"{frame.name} is listened to elsewhere"))
            self._auditor.audit(
                "relay_takeover",
                owner,
                session.address,
                f"{frame.name} session={session.session_id}",
            )
        self._names[frame.name] = session
        held.add(frame.name)
        session.send(encode(Ack(re=frame.id)))
        self._events.emit(RelayListening(frame.name))

    def take_name_away(self, name: str) -> None:
        """Another hub's session listens under ``name`` now: ours is told, as in a takeover."""
        previous = self._names.pop(name, None)
        if previous is not None:
            self._drop_name(previous, name)
            previous.send(error_line("name_taken", f"{name} is listened to elsewhere"))

    def _drop_name(self, session: Session, name: str) -> None:
        held = self._held.get(session)
        if held is not None:
            held.discard(name)
        self._fail_requests_to(session, name)

    # ---- messages -------------------------------------------------------------------------------

    def relay(self, session: Session, frame: Relay) -> None:
        user = session.user
        assert user is not None
        problem = self._refusal(session, frame)
        if problem is not None:
            self._relayed.inc(1, problem[0])
            session.send(problem[1])
            return
        if not may(user, "relay", frame.to):
            self._relayed.inc(1, "forbidden")
            self._auditor.forbidden(session, f"no grant relay:{relay_owner(frame.to)}", frame.id)
            return
        addressee = self._names.get(frame.to)
        if (
            addressee is None
            and self._forward is not None
            and self._forward(session, user.name, frame)
        ):
            self._relayed.inc(1, "forwarded")
            return
        self.hand_over(session, user.name, frame, addressee)

    def carried_in(self, carried: RelayCarriedIn) -> None:
        """A message another hub carried here, for a listener here."""
        addressee = self.listener(carried.frame.to)
        self.hand_over(carried.stand_in, carried.sender, carried.frame, addressee)

    def hand_over(
        self, session: Session, sender: str, frame: Relay, addressee: Session | None
    ) -> None:
        """Give an accepted message to its addressee here (``session`` gets every answer: it
        stands for the requester on another hub when the message was forwarded)."""
        if addressee is None:
            self._relayed.inc(1, "unreachable")
            session.send(error_line("unreachable", f"nobody listens as {frame.to}", frame.id))
            return
        if addressee.backlogged:
            self._relayed.inc(1, "busy")
            session.send(
                error_line(
                    "rate_limited", f"{frame.to} is not reading; retry", frame.id, retry_after_s=1
                )
            )
            return
        if not frame.reply:
            addressee.send(encode(RelayIn(sender=sender, to=frame.to, body=frame.body)))
            session.send(encode(Ack(re=frame.id)))
            self._relayed.inc(1, "delivered")
            return
        rid = next(self._rids)
        timeout_s = (
            frame.timeout_ms / 1000 if frame.timeout_ms else self._settings.default_timeout_s
        )
        timer = asyncio.get_running_loop().call_later(timeout_s, self._expire, rid)
        self._pending[rid] = _Pending(session, frame.id, addressee, frame.to, timer)
        self._waiting[session] = self._waiting.get(session, 0) + 1
        addressee.send(encode(RelayIn(sender=sender, to=frame.to, body=frame.body, rid=rid)))
        self._relayed.inc(1, "requested")

    def _refusal(self, session: Session, frame: Relay) -> tuple[str, bytes] | None:
        settings = self._settings
        wait = self._buckets.take(session, self._clock.monotonic())
        if wait > 0:
            return "rate_limited", error_line(
                "rate_limited",
                f"more than {settings.rate_per_s:g} relay frames a second",
                frame.id,
                retry_after_s=math.ceil(wait * 1000) / 1000,
            )
        if relay_owner(frame.to) is None:
            return "bad", error_line("bad_frame", f"invalid relay name {frame.to!r}", frame.id)
        if len(frame.body) > settings.max_body_bytes:
            return "too_large", error_line(
                "frame_too_large",
                f"body of {len(frame.body)} bytes; at most {settings.max_body_bytes}",
                frame.id,
            )
        if frame.reply and self._waiting.get(session, 0) >= settings.max_pending:
            return "rate_limited", error_line(
                "rate_limited",
                f"{settings.max_pending} requests already wait for an answer",
                frame.id,
                retry_after_s=1,
            )
        return None

    def answer(self, session: Session, frame: RelayAnswer) -> None:
        pending = self._pending.get(frame.rid)
        if pending is None or pending.addressee is not session:
            # Timed out, its requester left, or not addressed to this session.
            session.send(error_line("not_found", f"no request {frame.rid} waits", frame.id))
            return
        if len(frame.body) > self._settings.max_body_bytes:
            session.send(
                error_line(
                    "frame_too_large",
                    f"body of {len(frame.body)} bytes; at most {self._settings.max_body_bytes}",
                    frame.id,
                )
            )
            return
        self._finish(frame.rid)
        assert session.user is not None
        pending.requester.send(
            encode(Relayed(sender=pending.to, body=frame.body, re=pending.request_id))
        )
        if frame.id is not None:
            session.send(encode(Ack(re=frame.id)))
        self._relayed.inc(1, "answered")

    # ---- endings --------------------------------------------------------------------------------

    def _finish(self, rid: int) -> _Pending:
        pending = self._pending.pop(rid)
        pending.timer.cancel()
        left = self._waiting[pending.requester] - 1
        if left:
            self._waiting[pending.requester] = left
        else:
            del self._waiting[pending.requester]
        return pending

    def _expire(self, rid: int) -> None:
        if rid not in self._pending:
            return
        pending = self._finish(rid)
        self._relayed.inc(1, "timeout")
        pending.requester.send(
            error_line("timeout", f"{pending.to} did not answer in time", pending.request_id)
        )

    def _fail_requests_to(self, session: Session, name: str | None = None) -> None:
        """Requests that ``session`` will never answer now end as ``unreachable``."""
        for rid, pending in list(self._pending.items()):
            if pending.addressee is session and (name is None or pending.to == name):
                self._finish(rid)
                self._relayed.inc(1, "unreachable")
                pending.requester.send(
                    error_line(
                        "unreachable",
                        f"{pending.to} went away before answering (it may have acted on it)",
                        pending.request_id,
                    )
                )

    def listener(self, name: str) -> Session | None:
        return self._names.get(name)

    def session_ended(self, session: Session) -> None:
        for name in self._held.pop(session, set()):
            if self._names.get(name) is session:
                del self._names[name]
                self._events.emit(RelayLeft(name))
        self._fail_requests_to(session)
        if session in self._waiting:
            for rid, pending in list(self._pending.items()):
                if pending.requester is session:
                    self._finish(rid)  # the late answer is refused as not_found
