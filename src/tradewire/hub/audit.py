"""The hub's audit trail, group-committed with everything else it stores."""

from __future__ import annotations

from tradewire.hub.service import Session
from tradewire.protocol.codec import error_line
from tradewire.protocol.messages import RequestId
from tradewire.store.state import StateStore


class Auditor:
    def __init__(self, store: StateStore) -> None:
        self._store = store

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        self._store.audit(event, user, address, detail)

    def forbidden(self, session: Session, msg: str, re: RequestId) -> None:
        """Refuse one request with ``forbidden``, audited."""
        assert session.user is not None
        self.audit("forbidden", session.user.name, session.address, msg)
        session.send(error_line("forbidden", msg, re))

    def over_quota(self, session: Session, msg: str, re: RequestId) -> None:
        """Refuse one request with ``quota_exceeded``, audited as ``refused``."""
        assert session.user is not None
        self.audit("refused", session.user.name, session.address, msg)
        session.send(error_line("quota_exceeded", msg, re))
