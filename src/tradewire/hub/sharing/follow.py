"""What the modules sharing a hub's state with other hubs over NATS have in common
(``shared_*.py``; docs/scaling.md): following a family of bus subjects, reading an event from
another hub, counting what is in flight per key."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TypeVar

import msgspec

from tradewire.bus.base import Bus, SubjectSeen, Subscriber
from tradewire.hub.events import HubEvents

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K")


def follow_subjects(events: HubEvents, bus: Bus, prefix: str, subscriber: Subscriber) -> None:
    """Subscribe ``subscriber`` to every subject of ``prefix`` another hub publishes, from
    its latest message on (subjects this hub publishes it subscribes to itself)."""

    def seen(event: SubjectSeen) -> None:
        if event.subject.startswith(prefix):
            latest = bus.subscribe(event.subject, subscriber)
            if latest is not None:
                subscriber.deliver(latest)

    events.subscribe(SubjectSeen, seen)


def read_event(decoder: msgspec.json.Decoder[T], payload: bytes, what: str) -> T | None:
    """An event from another hub, or ``None`` (logged): another hub's bug must not stop this
    one."""
    try:
        return decoder.decode(payload)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.warning("%s from another hub dropped: %s", what, exc)
        return None


def release(counts: Counter[K], key: K, amount: int = 1) -> None:
    """``amount`` less of ``key`` in flight (the key goes at zero)."""
    counts[key] -= amount
    if counts[key] <= 0:
        del counts[key]
