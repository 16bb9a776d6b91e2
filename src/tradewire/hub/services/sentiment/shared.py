"""Sentiment shared by every hub on NATS (docs/scaling.md): each contribution made on one hub,
and the end of each contributor's session there, is told to the others (bus events), which
count it in their own book. Every hub then shows the same crowd, ``min_contributors`` counting
distinct users over all hubs.

Events are for the hubs up now: a hub that joins counts a contribution from its next refresh
(clients refresh before their TTL), and one from a hub that died lapses at its TTL.
"""

from __future__ import annotations

import msgspec

from tradewire.bus.base import Bus
from tradewire.clock import Clock
from tradewire.hub.events import HubEvents, SentimentContributed, SentimentForgotten
from tradewire.hub.services.sentiment.book import Contribution
from tradewire.hub.services.sentiment.service import SentimentService
from tradewire.hub.sharing.follow import read_event


class _Put(msgspec.Struct, frozen=True, array_like=True):
    hub: str
    owner: int  # the owner's number on that hub
    contributor: str
    symbol: str
    long: float
    short: float
    long_n: int
    short_n: int
    long_price: float
    short_price: float
    ttl_s: float


class _Forget(msgspec.Struct, frozen=True, array_like=True):
    hub: str
    owner: int


_put, _forget = msgspec.json.Decoder(_Put), msgspec.json.Decoder(_Forget)


def share_sentiment(bus: Bus, service: SentimentService, clock: Clock, events: HubEvents) -> None:
    def put_here(put: SentimentContributed) -> None:
        c = put.contribution
        ttl = max(0.0, c.expires - clock.monotonic())
        event = _Put(
            bus.name, id(put.owner), put.contributor, put.symbol,
            c.long, c.short, c.long_n, c.short_n, c.long_price, c.short_price, ttl,
        )  # fmt: skip
        bus.broadcast("sentiment_put", msgspec.json.encode(event))

    def forgotten_here(gone: SentimentForgotten) -> None:
        bus.broadcast("sentiment_forget", msgspec.json.encode(_Forget(bus.name, id(gone.owner))))

    def put_elsewhere(payload: bytes) -> None:
        e = read_event(_put, payload, "a sentiment contribution")
        if e is None:
            return
        expires = clock.monotonic() + e.ttl_s
        c = Contribution(e.long, e.short, e.long_n, e.short_n, e.long_price, e.short_price, expires)
        service.put(("hub", e.hub, e.owner), e.contributor, e.symbol, c, made_here=False)

    def forgotten_elsewhere(payload: bytes) -> None:
        gone = read_event(_forget, payload, "a sentiment event")
        if gone is not None:
            service.forget(("hub", gone.hub, gone.owner), made_here=False)

    events.subscribe(SentimentContributed, put_here)
    events.subscribe(SentimentForgotten, forgotten_here)
    bus.on_event("sentiment_put", put_elsewhere)
    bus.on_event("sentiment_forget", forgotten_elsewhere)
