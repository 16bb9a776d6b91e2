"""The hub's audit trail, group-committed with everything else it stores."""

from __future__ import annotations

from tradewire.clock import Clock, now_ms
from tradewire.hub.service import Session
from tradewire.protocol.codec import error_line
from tradewire.protocol.messages import RequestId
from tradewire.store.db import StateDB
from tradewire.store.writer import BatchWriter


class Auditor:
    def __init__(self, writer: BatchWriter, clock: Clock) -> None:
        self._writer = writer
        self._clock = clock

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        self._writer.submit(StateDB.audit_op(now_ms(self._clock), event, user, address, detail))

    def forbidden(self, session: Session, msg: str, re: RequestId) -> None:
        """Refuse one request with ``forbidden``, audited."""
        assert session.user is not None
        self.audit("forbidden", session.user.name, session.address, msg)
        session.send(error_line("forbidden", msg, re))
