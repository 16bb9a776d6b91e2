"""The relay across hubs on NATS (docs/scaling.md): a sender on one hub reaches a listener on
another, with the same guarantees as on one hub (docs/relay.md).

* **Who listens where.** The bus keeps ``relay:NAME`` = the hub whose session listens under
  NAME now. The latest to listen wins everywhere: a hub that sees another hub take a name its
  own session holds tells that session ``name_taken``, as a takeover on one hub does.
* **Carrying a message.** The sender's hub checks the grant, the rate and the size, then tells
  the listener's hub (a bus event, in order per pair of hubs). That hub hands it over exactly as
  its own, with a stand-in for the sender whose every answer (the ack, the reply, ``timeout``,
  ``unreachable``) travels back as the one line the sender's session receives.
* **Nothing hangs.** The sender's hub keeps a timer of its own a little longer than the
  request's: if the listener's hub dies, the sender still gets ``unreachable``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import msgspec

from tradewire.bus.base import Bus, Message
from tradewire.config import RelaySettings
from tradewire.hub.events import (
    HubEvents,
    RelayCarriedIn,
    RelayLeft,
    RelayListening,
    RelayTakenElsewhere,
)
from tradewire.hub.service import Handler, Session
from tradewire.hub.sharing.follow import follow_subjects, read_event, release
from tradewire.model import UserRecord
from tradewire.protocol.codec import error_line
from tradewire.protocol.frames.base import FrameSet
from tradewire.protocol.messages import Relay, RequestId
from tradewire.protocol.ticks import TickRow

log = logging.getLogger(__name__)

PREFIX = "relay:"  # bus subjects; ":" never appears in a channel name
GRACE_S = 2.0  # the sender's hub waits this much longer than the listener's hub


class _Carried(msgspec.Struct, frozen=True):
    origin: str  # the sender's hub
    key: int  # the sender's hub's number for this message
    sender: str
    to: str
    body: msgspec.Raw
    reply: bool
    timeout_ms: int | None
    id: RequestId = None


class _Back(msgspec.Struct, frozen=True):
    key: int
    line: bytes


_carried = msgspec.json.Decoder(_Carried)
_back = msgspec.json.Decoder(_Back)


def decode_owner(line: bytes) -> str:
    return str(msgspec.json.decode(line))


@dataclass(slots=True)
class _Waiting:
    session: Session
    request_id: RequestId
    to: str
    timer: asyncio.TimerHandle


class _Sender:
    """The sender on another hub, as the listener's hub sees it: every line goes back there."""

    user: UserRecord | None = None
    agent = "relay"
    since_ms = 0
    end_reason = ""
    backlogged = False

    def __init__(self, bus: Bus, origin: str, key: int) -> None:
        self._bus, self._origin, self._key = bus, origin, key
        self.address = f"hub {origin}"
        self.session_id = f"{origin}/{key}"

    def send(self, line: bytes) -> None:
        self._bus.tell(self._origin, "relay_back", msgspec.json.encode(_Back(self._key, line)))

    def send_state(self, channel: str, line: bytes) -> None:
        pass

    def replying(self, reply: object) -> None:
        pass  # its own hub holds the sender's frames

    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        pass

    def deliver(self, message: Message) -> None:
        pass

    def drop_pending(self, channel: str) -> None:
        pass

    def close(self, last_line: bytes | None = None) -> None:
        pass


class SharedRelay:
    """A hub service with no frames of its own: it links this hub's relay to the others."""

    frames = FrameSet("shared relay")

    def __init__(self, bus: Bus, settings: RelaySettings, events: HubEvents) -> None:
        """Made before the relay, which it is handed as ``forward``; it reaches the relay
        only through events (RelayTakenElsewhere, RelayCarriedIn)."""
        self._bus, self._settings, self._events = bus, settings, events
        self._owners: dict[str, str] = {}  # name -> hub listening under it ("" for nobody)
        self._announcing: Counter[str] = Counter()  # names this hub claims, not yet back
        self._waiting: dict[int, _Waiting] = {}
        self._per_session: Counter[Session] = Counter()
        self._keys = itertools.count(1)
        events.subscribe(RelayListening, lambda taken: self._announce(taken.name, claim=True))
        events.subscribe(RelayLeft, lambda left: self._announce(left.name, claim=False))
        follow_subjects(events, bus, PREFIX, self)
        bus.on_event("relay", self._carry)
        bus.on_event("relay_back", self._answered)

    def handlers(self) -> Mapping[str, Handler]:
        return {}

    # ---- who listens where ----------------------------------------------------------------------

    def _announce(self, name: str, claim: bool) -> None:
        subject = PREFIX + name
        self._bus.subscribe(subject, self)
        me = self._bus.name
        if claim:
            self._announcing[name] += 1

        def stamped(_seq: int) -> tuple[str, bytes]:
            # Leaving gives the name up only if it is still ours (another hub may have it now).
            current = self._owners.get(name, "")
            owner = me if claim else ("" if current == me else current)
            return owner, msgspec.json.encode(owner) + b"\n"

        def done(result: Message | Exception) -> None:
            if claim:
                release(self._announcing, name)
            if isinstance(result, Exception):
                log.warning("relay name %s not announced to the other hubs: %s", name, result)

        self._bus.publish(subject, stamped, done)

    def deliver(self, message: Message) -> None:
        name, owner = message.subject[len(PREFIX) :], message.value
        self._owners[name] = owner
        if owner not in ("", self._bus.name) and name not in self._announcing:
            self._events.emit(RelayTakenElsewhere(name))  # a session on another hub listens now

    # ---- carrying -------------------------------------------------------------------------------

    def forward(self, session: Session, sender: str, frame: Relay) -> bool:
        """Carry ``frame`` to the hub whose session listens as its addressee; False when
        that is this hub or nobody (the relay delivers, or refuses, here)."""
        owner = self._owners.get(frame.to, "")
        if owner in ("", self._bus.name):
            return False
        if self._per_session.get(session, 0) >= self._settings.max_pending:
            session.send(
                error_line(
                    "rate_limited",
                    f"{self._settings.max_pending} messages already wait for another hub",
                    frame.id,
                    retry_after_s=1,
                )
            )
            return True
        key = next(self._keys)
        timeout_s = (frame.timeout_ms / 1000) if frame.timeout_ms else None
        wait = (timeout_s or self._settings.default_timeout_s) + GRACE_S
        timer = asyncio.get_running_loop().call_later(wait, self._lost, key)
        self._waiting[key] = _Waiting(session, frame.id, frame.to, timer)
        self._per_session[session] += 1
        carried = _Carried(
            self._bus.name,
            key,
            sender,
            frame.to,
            frame.body,
            frame.reply,
            frame.timeout_ms,
            frame.id,
        )
        self._bus.tell(owner, "relay", msgspec.json.encode(carried))
        return True

    def _carry(self, payload: bytes) -> None:
        """A message from a sender on another hub, for a listener here."""
        carried = read_event(_carried, payload, "a relay message")
        if carried is None:
            return
        frame = Relay(
            to=carried.to,
            body=carried.body,
            id=carried.id,
            reply=carried.reply,
            timeout_ms=carried.timeout_ms,
        )
        stand_in = _Sender(self._bus, carried.origin, carried.key)
        self._events.emit(RelayCarriedIn(stand_in, carried.sender, frame))

    def _answered(self, payload: bytes) -> None:
        """The one answer to a message this hub carried elsewhere."""
        back = read_event(_back, payload, "a relay answer")
        if back is None:
            return
        waiting = self._end(back.key)
        if waiting is not None:
            waiting.session.send(back.line)

    def _lost(self, key: int) -> None:
        waiting = self._end(key)
        if waiting is not None:
            waiting.session.send(
                error_line(
                    "unreachable",
                    f"the hub where {waiting.to} listens did not answer (it may have acted on it)",
                    waiting.request_id,
                )
            )

    def _end(self, key: int) -> _Waiting | None:
        waiting = self._waiting.pop(key, None)
        if waiting is None:
            return None  # answered already, timed out, or its sender left
        waiting.timer.cancel()
        release(self._per_session, waiting.session)
        return waiting

    def session_ended(self, session: Session) -> None:
        for key in [k for k, w in self._waiting.items() if w.session is session]:
            self._end(key)
