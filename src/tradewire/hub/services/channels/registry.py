"""Who publishes each signal channel (PROTOCOL.md 1.1): one live publisher per channel.

The channel's messages themselves (sequence numbers, the latest state, subscribers, fan-out)
are the bus's (:mod:`tradewire.bus`); this is the part that stays with the hub's channel service.
"""

from __future__ import annotations


class Channel:
    """One channel's live publisher."""

    __slots__ = ("name", "publisher", "publisher_key", "publisher_since_ms")

    def __init__(self, name: str) -> None:
        self.name = name
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


class ChannelRegistry:
    """Every channel that has had a publisher, by name."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] = {}

    def get(self, name: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            channel = self._channels[name] = Channel(name)
        return channel

    def __len__(self) -> int:
        return len(self._channels)

    def all(self) -> list[Channel]:
        return [self._channels[name] for name in sorted(self._channels)]
