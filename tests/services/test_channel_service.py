"""The channel service's rules, frame by frame without a hub (fakes.py): access, one publisher
per channel (refused, or taken over and audited), a state delivered only once stored and then
acked with its number, the latest given to a new subscriber, the subscription limit, a grant
withdrawn, and the StateStored event. The bus is the real LocalBus; its persist step is a test
double that commits or fails on the test's word, as the state store would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from tests.conftest import state_frame
from tests.services.fakes import AuditSink, FakeSession
from tradewire.bus.base import Message, Plumbing
from tradewire.bus.local import LocalBus
from tradewire.clock import ManualClock
from tradewire.exceptions import StoreError
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, StateStored
from tradewire.hub.services.channels.registry import ChannelRegistry
from tradewire.hub.services.channels.service import ChannelService, FanOutStamps
from tradewire.metrics import Metrics
from tradewire.model import UserRecord
from tradewire.protocol.messages import PublishState, Sub, Unsub


class Store:
    """The persist step: holds each state until the test commits (or fails) it."""

    def __init__(self) -> None:
        self.waiting: list[tuple[Message, Callable[[object], None]]] = []

    def persist(self, message: Message, stored: Callable[[object], None]) -> None:
        self.waiting.append((message, stored))

    def commit(self, outcome: object = None) -> None:
        for _, stored in self.waiting:
            stored(outcome)
        self.waiting.clear()


class Channels:
    def __init__(self, limit: int = 3) -> None:
        self.clock = ManualClock(1_000.0)
        self.store = Store()
        self.events = HubEvents()
        self.stored: list[StateStored] = []
        self.events.subscribe(StateStored, self.stored.append)
        stamps = FanOutStamps(self.clock)
        bus = LocalBus(self.store.persist, Plumbing(outgoing=stamps.outgoing))
        self.audit = AuditSink()
        self.service = ChannelService(
            bus,
            stamps,
            ChannelRegistry(),
            self.clock,
            Auditor(self.audit),  # type: ignore[arg-type]
            limit,
            Metrics(),
            self.events,
        )

    def publish(self, session: FakeSession, n: int = 1, **extra: Any) -> None:
        frame = msgspec.convert({**state_frame("alpha", n, id=n), **extra}, PublishState)
        self.service.handlers()["state"](session, frame)

    def subscribe(self, session: FakeSession, channel: str, rid: int = 1) -> None:
        self.service.handlers()["sub:ch"](session, Sub(ch=channel, id=rid))


def user(name: str, role: str, *channels: str) -> FakeSession:
    session = FakeSession(name, session_id=f"s-{name}")
    session.user = UserRecord(name, "", role, channels)
    return session


@pytest.fixture
def channels() -> Channels:
    return Channels()


def test_a_state_reaches_subscribers_only_once_stored_then_is_acked(channels: Channels) -> None:
    alice, bob = user("alice", "provider", "alpha"), user("bob", "follower", "alpha")
    channels.subscribe(bob, "alpha")
    assert bob.sent == [{"t": "ack", "re": 1}]
    channels.publish(alice)
    assert bob.sent == [{"t": "ack", "re": 1}] and alice.sent == []  # not stored yet
    assert channels.stored == []
    channels.store.commit()
    state = bob.last()
    assert (state["t"], state["ch"], state["seq"]) == ("state", "alpha", 1)
    assert alice.sent == [{"t": "ack", "re": 1, "seq": 1}]
    assert [(e.session, e.update.seq) for e in channels.stored] == [(alice, 1)]


def test_a_state_that_was_not_stored_is_never_delivered(channels: Channels) -> None:
    alice, bob = user("alice", "provider", "alpha"), user("bob", "follower", "alpha")
    channels.subscribe(bob, "alpha")
    channels.publish(alice)
    channels.store.commit(StoreError("disk full"))
    assert alice.last()["code"] == "internal" and len(bob.sent) == 1
    assert channels.service.bus.latest("alpha") is None and channels.stored == []
    channels.publish(alice, 2)  # the next one is numbered after the lost one
    channels.store.commit()
    assert bob.last()["seq"] == 2 and alice.last() == {"t": "ack", "re": 2, "seq": 2}


def test_publishing_or_subscribing_without_a_grant_is_refused_and_audited(
    channels: Channels,
) -> None:
    mallory = user("mallory", "provider", "beta")
    channels.publish(mallory)
    assert mallory.last()["code"] == "forbidden" and channels.store.waiting == []
    channels.subscribe(mallory, "alpha")
    assert mallory.last()["code"] == "forbidden"
    assert channels.audit.events() == ["forbidden", "forbidden"]


def test_one_publisher_per_channel_unless_taken_over(channels: Channels) -> None:
    alice, eve = user("alice", "provider", "alpha"), user("eve", "provider", "alpha")
    channels.publish(alice)
    channels.store.commit()
    channels.clock.advance(5.0)
    channels.publish(eve, 2)
    refused = eve.last()
    assert refused["code"] == "channel_busy" and "'alice'" in refused["msg"]
    assert refused["since_ms"] == 1_000_000 and channels.store.waiting == []
    channels.publish(eve, 3, takeover=True)
    channels.store.commit()
    assert eve.last() == {"t": "ack", "re": 3, "seq": 2}
    assert channels.audit.events()[-2:] == ["refused", "takeover"]
    channels.publish(alice, 4)  # the replaced publisher is now the one refused
    assert alice.last()["code"] == "channel_busy"


def test_a_publisher_that_leaves_frees_its_channel(channels: Channels) -> None:
    alice, eve = user("alice", "provider", "alpha"), user("eve", "provider", "alpha")
    channels.publish(alice)
    channels.store.commit()
    channels.service.session_ended(alice)
    channels.publish(eve, 2)
    channels.store.commit()
    assert eve.last() == {"t": "ack", "re": 2, "seq": 2}


def test_a_new_subscriber_gets_the_latest_state_after_its_ack(channels: Channels) -> None:
    alice, bob = user("alice", "provider", "alpha"), user("bob", "follower", "alpha")
    for n in (1, 2):
        channels.publish(alice, n)
        channels.store.commit()
    channels.subscribe(bob, "alpha", rid=9)
    assert [m["t"] for m in bob.sent] == ["ack", "state"] and bob.last()["seq"] == 2


def test_the_subscription_limit_refuses_one_and_keeps_the_others() -> None:
    channels = Channels(limit=2)
    bob = user("bob", "follower", "a", "b", "c")
    for rid, name in enumerate(("a", "b", "c"), 1):
        channels.subscribe(bob, name, rid)
    assert bob.last()["code"] == "rate_limited"
    assert channels.service.subscribed(bob) == {"a", "b"}
    channels.service.handlers()["unsub:ch"](bob, Unsub(ch="a", id=4))
    channels.subscribe(bob, "c", 5)
    assert channels.service.subscribed(bob) == {"b", "c"}


def test_a_withdrawn_grant_ends_what_it_allowed(channels: Channels) -> None:
    alice, bob = user("alice", "provider", "alpha"), user("bob", "follower", "alpha")
    channels.subscribe(bob, "alpha")
    channels.publish(alice)
    channels.store.commit()
    channels.service.withdraw(bob, UserRecord("bob", "", "follower", ()))
    assert bob.last()["code"] == "revoked" and channels.service.subscribed(bob) == set()
    channels.service.withdraw(alice, UserRecord("alice", "", "provider", ()))
    assert alice.last()["code"] == "revoked"
    eve = user("eve", "provider", "alpha")  # alice no longer holds the channel
    channels.publish(eve, 2)
    channels.store.commit()
    assert eve.last()["t"] == "ack" and len(bob.sent) == 3  # bob no longer gets states
