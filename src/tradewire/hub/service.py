"""How hub features plug in: each is a *service* that names the frames it handles; one
:class:`Dispatcher` routes every frame of an authenticated session to its service.

A service gets what it needs (store, clock, settings, an auditor) when it is built, never the
hub, and sees sessions only through :class:`Session`. Adding a frame type touches its message
definition and its service; the dispatcher and the connection do not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from tradewire.bus.base import Message
from tradewire.model import UserRecord
from tradewire.protocol.codec import Codec
from tradewire.protocol.frames import core
from tradewire.protocol.frames.base import FrameSet, tag
from tradewire.protocol.messages import Sub, Unsub, sub_kind
from tradewire.protocol.ticks import TickRow


class Session(Protocol):
    """One authenticated client session, as services see it."""

    user: UserRecord | None
    address: str
    session_id: str
    agent: str
    since_ms: int
    end_reason: str  # why it ended, for the audit log

    @property
    def backlogged(self) -> bool:
        """True while the client does not read fast enough (its outbound buffer is full)."""
        ...

    def send(self, line: bytes) -> None:
        """Queue a reply or control frame."""
        ...

    def replying(self, reply: object) -> None:
        """``reply`` (an ``asyncio.Task``) is preparing a reply to this session: while too many
        are, or its output is over its limit, its further frames wait (unread)."""
        ...

    def send_state(self, channel: str, line: bytes) -> None:
        """Deliver a channel state (conflated per channel while the client is slow)."""
        ...

    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        """Deliver live ticks (conflated per symbol while the client is slow)."""
        ...

    def deliver(self, message: Message) -> None:
        """A bus message of a subscribed channel (see :meth:`send_state`)."""
        ...

    def drop_pending(self, channel: str) -> None:
        """Forget a state of ``channel`` held back while the client was slow (unsubscribed)."""
        ...

    def close(self, last_line: bytes | None = None) -> None:
        """Send ``last_line`` (an error or bye), then end the session."""
        ...


Handler = Callable[[Session, Any], None]
SUBSCRIBING = {"sub", "unsub"}  # core frames, routed by what they name (see route)


class Service(Protocol):
    @property
    def frames(self) -> FrameSet:
        """The frames this service's clients send and it answers with (its module in
        protocol/frames/, or its own); the hub's codec is built from every service's."""
        ...

    def handlers(self) -> Mapping[str, Handler]:
        """Route key (see :func:`route`) -> the method that handles such a frame."""
        ...

    def session_ended(self, session: Session) -> None:
        """Forget everything this service holds for ``session``."""
        ...


def route(frame: Any) -> str:
    """The key a frame is dispatched by: its type tag, and for ``sub``/``unsub`` what they
    name (``sub:ch`` goes to channels, ``sub:ticks`` to ticks, ``sub:sentiment``…)."""
    tag: str = frame.__struct_config__.tag
    if isinstance(frame, Sub | Unsub):
        return f"{tag}:{sub_kind(frame)}"
    return tag


class Dispatcher:
    """The one table from route key to handler, built from the services."""

    def __init__(self, services: Iterable[Service]) -> None:
        """Raises ValueError when two services handle one route, a service handles a frame
        it does not declare, or two services declare one frame tag."""
        self.services = list(services)
        self._table: dict[str, Handler] = {}
        for service in self.services:
            declared = {tag(f) for f in service.frames.client} | SUBSCRIBING
            for key, handler in service.handlers().items():
                if key in self._table:
                    raise ValueError(f"two services handle {key!r}")
                if key.split(":")[0] not in declared:
                    raise ValueError(f"{service.frames.name} handles {key!r}, not in its frames")
                self._table[key] = handler
        # The session's decoder: the core frames and every service's own, no others.
        self.codec = Codec([core.FRAMES, *(service.frames for service in self.services)])

    def dispatch(self, session: Session, frame: Any, key: str | None = None) -> bool:
        """Hand ``frame`` to its service (``key``: its route, if the caller has it already);
        False when no service handles it."""
        handler = self._table.get(key or route(frame))
        if handler is None:
            return False
        handler(session, frame)
        return True

    def session_ended(self, session: Session) -> None:
        for service in self.services:
            service.session_ended(session)
