"""Kicks reach every hub on NATS (docs/scaling.md): ``tradewire session kick`` through one hub
closes the session, or every session of the user, on all of them. The ack counts the sessions
closed by the hub that took the kick; each other hub audits its own."""

from __future__ import annotations

import msgspec

from tradewire.bus.base import Bus
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, Kicked
from tradewire.hub.services.sessions.service import SessionService
from tradewire.hub.sharing.follow import read_event


class _Kick(msgspec.Struct, frozen=True):
    by: str
    session: str | None = None
    user: str | None = None


_kick = msgspec.json.Decoder(_Kick)


def share_kicks(bus: Bus, sessions: SessionService, auditor: Auditor, events: HubEvents) -> None:
    def kicked_here(kick: Kicked) -> None:
        bus.broadcast("kick", msgspec.json.encode(_Kick(kick.by, kick.session, kick.user)))

    def kicked_elsewhere(payload: bytes) -> None:
        kick = read_event(_kick, payload, "a kick")
        if kick is None:
            return
        closed = sessions.close_matching(kick.session, kick.user, kick.by)
        what = f"session={kick.session}" if kick.session else f"user={kick.user}"
        auditor.audit("kick", kick.by, None, f"{what} closed={closed} (from another hub)")

    events.subscribe(Kicked, kicked_here)
    bus.on_event("kick", kicked_elsewhere)
