"""What every bus provides (``tests/bus/conformance.py`` checks it).

A subject's messages are numbered by one authority, the bus: ``seq`` is never given twice and
increases by one per publication (a failed one uses up its number, so a ``seq`` never names two
different messages). A message is made durable (``persist``) before any subscriber sees it, then
delivered to every subscriber of its subject in ``seq`` order and kept as the subject's latest.
Each message carries its decoded value and its encoded line, made once: in-process consumers
never re-decode, and fan-out never re-encodes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    seq: int
    value: Any  # the decoded message (for a channel, a StateUpdate)
    line: bytes  # the same, encoded once, newline included


class Subscriber(Protocol):
    def deliver(self, message: Message) -> None:
        """Take a message of a subscribed subject (may conflate it if slow; must not block)."""
        ...


Stamp = Callable[[int], tuple[Any, bytes]]  # seq -> (value, line)
Done = Callable[[Message | Exception], None]
Persist = Callable[[Message, Callable[[object], None]], None]  # store, then call back
Forgotten = Callable[[Exception | None], None]


@dataclass(frozen=True, slots=True)
class SubjectSeen:
    """A subject first seen through another hub (the topic service routes it)."""

    subject: str


@dataclass(frozen=True, slots=True)
class LinkLost:
    """A shared bus is cut off from its servers."""


@dataclass(frozen=True, slots=True)
class LinkBack:
    """A shared bus reaches its servers again."""


BusEvent = SubjectSeen | LinkLost | LinkBack


def _one_by_one(subscribers: Collection[Subscriber], message: Message) -> None:
    for subscriber in list(subscribers):
        subscriber.deliver(message)


def _nobody(_: BusEvent) -> None:
    pass


@dataclass(frozen=True, slots=True)
class Plumbing:
    """How a bus's owner takes part in it, given once when the bus is made (the hub's
    composition root, hub/compose.py): nothing is rewired later."""

    # Makes the line subscribers get from a message as its fan-out begins (the channel
    # service stamps the moment into states, docs/latency.md); kept messages stay as made.
    outgoing: Callable[[Message], Message] | None = None
    # Hands a message to many subscribers (the hub's runs on several threads: fanout.py).
    deliver_many: Callable[[Collection[Subscriber], Message], None] = _one_by_one
    # Told of the bus's own events (the hub's event stream, hub/events.py).
    told: Callable[[BusEvent], None] = _nobody


NO_PLUMBING = Plumbing()  # a bus on its own: one by one, no stamp, nobody told


class Bus(Protocol):
    connected: bool  # False while a shared bus is cut off from its servers
    name: str  # this hub's name on the bus (unique among the hubs sharing it)

    async def start(self, wait_s: float = 10.0) -> None:
        """Connect and read what the bus already holds (before ``restore``)."""
        ...

    async def close(self) -> None: ...

    def publish(self, subject: str, stamp: Stamp, done: Done) -> None:
        """Number, stamp, persist, deliver; then ``done`` (the message, or why it failed:
        nothing was delivered then and the subject's latest is unchanged)."""
        ...

    def subscribe(self, subject: str, subscriber: Subscriber) -> Message | None:
        """Deliver the subject's later messages to ``subscriber``; returns the latest."""
        ...

    def unsubscribe(self, subject: str, subscriber: Subscriber) -> None: ...

    def forget(self, subject: str, done: Forgotten) -> None:
        """Delete the subject's latest message, on every hub (a deleted topic); its
        subscribers stay subscribed. ``done`` gets None, or why the bus could not."""
        ...

    def latest(self, subject: str) -> Message | None: ...

    def subscribers(self, subject: str) -> int:
        """How many subscribers ``subject`` has here."""
        ...

    def broadcast(self, kind: str, payload: bytes) -> None:
        """Tell every other hub of an event (at most once; nothing to do with one hub)."""
        ...

    def tell(self, hub: str, kind: str, payload: bytes) -> None:
        """Send an event to one other hub (at most once; in order per pair of hubs)."""
        ...

    def on_event(self, kind: str, handler: Callable[[bytes], None]) -> None:
        """Call ``handler`` with each ``kind`` event another hub broadcasts or tells this one."""
        ...

    def restore(self, messages: Iterable[Message]) -> None:
        """At start: the latest message of each subject stored by an earlier run (numbering
        continues after it)."""
        ...


class SubjectState:
    """What every bus keeps per subject: the latest message and the subscribers here."""

    __slots__ = ("latest", "subscribers")

    def __init__(self) -> None:
        self.latest: Message | None = None
        self.subscribers: set[Subscriber] = set()


S = TypeVar("S", bound=SubjectState)


class SubjectTable(Generic[S]):
    """The subscriber side every bus shares (a bus subclasses it with its own state)."""

    def __init__(self, make: Callable[[], S], plumbing: Plumbing) -> None:
        self._make = make
        self._subjects: dict[str, S] = {}
        self._outgoing = plumbing.outgoing
        self._deliver_many = plumbing.deliver_many
        self._told = plumbing.told

    def _fan_out(self, state: S, message: Message) -> None:
        """Deliver ``message`` to the subject's subscribers here (the hot path of fan-out)."""
        if self._outgoing is not None:
            message = self._outgoing(message)
        self._deliver_many(state.subscribers, message)

    def _subject(self, name: str) -> S:
        subject = self._subjects.get(name)
        if subject is None:
            subject = self._subjects[name] = self._make()
        return subject

    def subscribe(self, subject: str, subscriber: Subscriber) -> Message | None:
        state = self._subject(subject)
        state.subscribers.add(subscriber)
        return state.latest

    def unsubscribe(self, subject: str, subscriber: Subscriber) -> None:
        state = self._subjects.get(subject)
        if state is not None:
            state.subscribers.discard(subscriber)

    def latest(self, subject: str) -> Message | None:
        state = self._subjects.get(subject)
        return state.latest if state else None

    def subscribers(self, subject: str) -> int:
        state = self._subjects.get(subject)
        return len(state.subscribers) if state else 0
