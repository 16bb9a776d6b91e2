"""What a service sees of the hub, without a hub: a session that records what it is sent, and
an audit sink. Services take their collaborators when built (hub/service.py), so a test builds
one directly and drives it frame by frame, in the style of httpx's MockTransport; the real-hub
tests over TCP remain the outer ring."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgspec

from tradewire.bus.base import Message
from tradewire.model import UserRecord
from tradewire.protocol.ticks import TickRow


@dataclass(eq=False)  # sessions are told apart by identity, as the hub's are
class FakeSession:
    """One authenticated session: what a service sends it is kept, decoded, in ``sent``."""

    name: str
    role: str = "user"
    address: str = "127.0.0.1"
    session_id: str = "s1"
    agent: str = "test"
    since_ms: int = 0
    end_reason: str = ""
    backlogged: bool = False
    sent: list[dict[str, Any]] = field(default_factory=list)
    replies: list[asyncio.Task[None]] = field(default_factory=list)
    closed: bool = False

    def __post_init__(self) -> None:
        self.user: UserRecord | None = UserRecord(self.name, "", self.role, ("*",))

    def send(self, line: bytes) -> None:
        self.sent.append(msgspec.json.decode(line))

    def replying(self, reply: object) -> None:
        assert isinstance(reply, asyncio.Task)
        self.replies.append(reply)

    def send_state(self, channel: str, line: bytes) -> None:
        self.send(line)

    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        self.send(line)

    def deliver(self, message: Message) -> None:
        self.send(message.line)

    def drop_pending(self, channel: str) -> None:
        pass

    def close(self, last_line: bytes | None = None) -> None:
        self.closed = True

    def last(self) -> dict[str, Any]:
        return self.sent[-1]

    async def settled(self) -> None:
        """Every reply being prepared has been sent."""
        await asyncio.gather(*self.replies)


@dataclass
class AuditSink:
    """The state store as the auditor uses it: the audit rows, kept."""

    rows: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        self.rows.append((event, user, address, detail))

    def events(self) -> list[str]:
        return [row[0] for row in self.rows]
