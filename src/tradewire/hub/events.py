"""The hub's events: one typed stream that services tell and others subscribe to.

A service says what happened (``events.emit(TicksStored(rows))``) and never whom it concerns;
who listens is decided in one place, the composition root (hub/compose.py), so that reading it
answers "what else happens when ...?". The bus's own events (``SubjectSeen``, ``LinkLost``,
``LinkBack``, bus/base.py) arrive on the same stream.

Handlers run in the emitter's call, on the event loop, in the order they subscribed; they must
not block. An event nobody subscribed to costs one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tradewire.hub.service import Session
from tradewire.hub.services.sentiment.book import Contribution
from tradewire.model import BanRecord
from tradewire.protocol.messages import Relay, SentimentRow, StateUpdate
from tradewire.protocol.ticks import TickRow

E = TypeVar("E")


class HubEvents:
    def __init__(self) -> None:
        self._handlers: dict[type[Any], list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], handler: Callable[[E], None]) -> None:
        """Call ``handler`` with every later event of type ``kind``."""
        self._handlers.setdefault(kind, []).append(handler)

    def wanted(self, kind: type[Any]) -> bool:
        """Whether anyone listens to ``kind`` (an emitter may then skip building the event)."""
        return kind in self._handlers

    def emit(self, event: object) -> None:
        for handler in self._handlers.get(type(event), ()):
            handler(event)


@dataclass(frozen=True, slots=True)
class StateStored:
    """A provider's state was numbered, stored and acknowledged (the channel service)."""

    session: Session
    update: StateUpdate


@dataclass(frozen=True, slots=True)
class TicksStored:
    """Tick rows were stored durably here (the tick service; never repeated for rows another
    hub stored)."""

    rows: list[TickRow]


@dataclass(frozen=True, slots=True)
class LoginFailed:
    """A login from ``address`` failed here (the authenticator)."""

    address: str


@dataclass(frozen=True, slots=True)
class Banned:
    """An address was banned here for failed logins (the authenticator)."""

    ban: BanRecord


@dataclass(frozen=True, slots=True)
class RelayListening:
    """A session here began to listen on relay name ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class RelayLeft:
    """Nobody here listens on relay name ``name`` any more."""

    name: str


@dataclass(frozen=True, slots=True)
class RelayTakenElsewhere:
    """A session on another hub now listens on relay name ``name`` (ours is told, as in a
    takeover)."""

    name: str


@dataclass(frozen=True, slots=True)
class RelayCarriedIn:
    """A relay message from a sender on another hub, for a listener here; ``stand_in`` stands
    for the sender and gets every answer."""

    stand_in: Session
    sender: str
    frame: Relay


@dataclass(frozen=True, slots=True)
class Kicked:
    """An admin here kicked session ``session``, or every session of ``user``."""

    session: str | None
    user: str | None
    by: str


@dataclass(frozen=True, slots=True)
class SentimentContributed:
    """A contribution made here (not one another hub told of). ``owner``: a session, or a
    connection of the article listener, whose contributions lapse together."""

    owner: object
    contributor: str
    symbol: str
    contribution: Contribution


@dataclass(frozen=True, slots=True)
class SentimentForgotten:
    """Everything ``owner`` contributed here lapsed."""

    owner: object


@dataclass(frozen=True, slots=True)
class SentimentChanged:
    """The aggregate changed: the rows now shown (the article's sentiment listener sends them)."""

    rows: list[SentimentRow]
