"""Signal channels (PROTOCOL.md 1.1): latest state, sequence numbers, subscribers, fan-out.

Each state is encoded once, when it is stamped, and that one ``bytes`` object is handed to every
subscriber: fan-out costs one ``transport.write`` per subscriber and no per-subscriber encoding.
"""

from __future__ import annotations

from typing import Protocol

from tradewire.store.db import StoredState


class Subscriber(Protocol):
    def send_state(self, channel: str, line: bytes) -> None:
        """Deliver an encoded state line (the subscriber may conflate it if it is slow)."""
        ...


class Channel:
    """One channel: the last sequence number given out, the last state stored, and its one
    live publisher."""

    __slots__ = (
        "latest",
        "name",
        "publisher",
        "publisher_key",
        "publisher_since_ms",
        "seq",
        "subscribers",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.seq = 0  # last sequence number stamped (stored or not yet)
        self.latest: bytes | None = None  # last state durably stored, encoded, with newline
        self.subscribers: set[Subscriber] = set()
        self.publisher: object | None = None  # the session publishing, while it lives
        self.publisher_key: tuple[str, str] = ("", "")  # its (user, account login)
        self.publisher_since_ms = 0

    def claim(
        self, session: object, key: tuple[str, str], takeover: bool, now_ms: int
    ) -> str | None:
        """May ``session`` publish here? ``"busy"`` if not; otherwise it is the publisher from
        now on, and the answer says how: ``None`` (it was, or nobody was), ``"reconnect"`` or
        ``"takeover"`` (it replaced another live session).

        The same user with the same account login always takes over: that is a reconnect
        (the old connection may not have timed out yet) and publishes the same account.
        """
        if self.publisher is None or self.publisher is session:
            outcome = None
        elif key == self.publisher_key:
            outcome = "reconnect"
        elif takeover:
            outcome = "takeover"
        else:
            return "busy"
        if self.publisher is not session:
            self.publisher, self.publisher_key, self.publisher_since_ms = session, key, now_ms
        return outcome

    def release(self, session: object) -> None:
        """``session`` is gone or may no longer publish here."""
        if self.publisher is session:
            self.publisher = None

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def commit(self, line: bytes) -> None:
        """A stamped state is durable: remember it and send it to every subscriber."""
        self.latest = line
        for subscriber in self.subscribers:
            subscriber.send_state(self.name, line)


class ChannelRegistry:
    """All channels of this hub, by name."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def get(self, name: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(name)
        return channel

    def load(self, states: list[StoredState]) -> None:
        """Restore the states stored by an earlier run: numbering continues after them."""
        for state in states:
            channel = self.get(state.channel)
            channel.seq = state.seq
            channel.latest = state.frame

    def subscribe(self, name: str, subscriber: Subscriber) -> Channel:
        channel = self.get(name)
        channel.subscribers.add(subscriber)
        return channel

    def unsubscribe(self, name: str, subscriber: Subscriber) -> None:
        channel = self._channels.get(name)
        if channel is not None:
            channel.subscribers.discard(subscriber)

    def __len__(self) -> int:
        return len(self._channels)

    def published_by(self, session: object) -> list[Channel]:
        return [c for c in self._channels.values() if c.publisher is session]
