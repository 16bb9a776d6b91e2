"""The in-process bus: one hub, no network. A subject's subscribers are a set; delivery is one
call per subscriber with the same message object (its line was encoded once)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tradewire.bus.base import (
    NO_PLUMBING,
    Done,
    Forgotten,
    Message,
    Persist,
    Plumbing,
    Stamp,
    SubjectState,
    SubjectTable,
)


class _Subject(SubjectState):
    __slots__ = ("seq",)

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0  # the last number given out (stored or not yet)


class LocalBus(SubjectTable[_Subject]):
    def __init__(self, persist: Persist | None = None, plumbing: Plumbing = NO_PLUMBING) -> None:
        """``persist``: makes a message durable and calls back with ``None`` or an exception
        (the hub's group-committed state store); without it messages are delivered at once.
        One hub sees every subject first: ``plumbing.told`` is never called."""
        super().__init__(_Subject, plumbing)
        self._persist = persist
        self.connected = True
        self.name = "local"

    async def start(self, wait_s: float = 10.0) -> None:
        pass

    async def close(self) -> None:
        pass

    def publish(self, subject: str, stamp: Stamp, done: Done) -> None:
        state = self._subject(subject)
        state.seq += 1
        value, line = stamp(state.seq)
        message = Message(subject, state.seq, value, line)
        if self._persist is None:
            self._deliver(state, message, done)
            return
        self._persist(message, self._after_persist(state, message, done))

    def _after_persist(
        self, state: _Subject, message: Message, done: Done
    ) -> Callable[[object], None]:
        def stored(result: object) -> None:
            if isinstance(result, Exception):
                done(result)
            else:
                self._deliver(state, message, done)

        return stored

    def _deliver(self, state: _Subject, message: Message, done: Done) -> None:
        # Group commits finish in order, but be safe: never step back to an older message.
        if state.latest is None or message.seq > state.latest.seq:
            state.latest = message
        self._fan_out(state, message)
        done(message)

    def forget(self, subject: str, done: Forgotten) -> None:
        state = self._subjects.get(subject)
        if state is not None:
            state.latest = None  # seq goes on from where it was: no number names two messages
        done(None)

    def broadcast(self, kind: str, payload: bytes) -> None:
        pass  # no other hub to tell

    def tell(self, hub: str, kind: str, payload: bytes) -> None:
        pass  # no other hub to tell

    def on_event(self, kind: str, handler: Callable[[bytes], None]) -> None:
        pass

    def restore(self, messages: Iterable[Message]) -> None:
        for message in messages:
            state = self._subject(message.subject)
            state.seq = max(state.seq, message.seq)
            state.latest = message
