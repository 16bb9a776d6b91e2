"""Followers' copy quality, as they report it (``follower_report``), for the dashboard: the
latest report of each session, forgotten when the session ends. Followers run on traders'
machines; this is how the hub's operator sees whether they are in sync."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.service import Handler, Session
from tradewire.protocol.codec import encode
from tradewire.protocol.frames import reports as reports_frames
from tradewire.protocol.messages import Ack, FollowerReport

# A copy engine sends one report per channel it copies; more than this many channels from one
# session are refused (quota), so no session can make the hub keep reports without end.
MAX_CHANNELS_PER_SESSION = 256


class ReportService:
    frames = reports_frames.FRAMES

    def __init__(self, auditor: Auditor) -> None:
        self._auditor = auditor
        self._latest: dict[Session, dict[str, FollowerReport]] = {}

    def handlers(self) -> Mapping[str, Handler]:
        return {"follower_report": self.report}

    def session_ended(self, session: Session) -> None:
        self._latest.pop(session, None)

    def report(self, session: Session, frame: FollowerReport) -> None:
        assert session.user is not None
        if not may(session.user, "subscribe", frame.ch):
            self._auditor.forbidden(session, f"you do not follow {frame.ch!r}", frame.id)
            return
        latest = self._latest.setdefault(session, {})
        if frame.ch not in latest and len(latest) >= MAX_CHANNELS_PER_SESSION:
            self._auditor.over_quota(
                session,
                f"follower reports: at most {MAX_CHANNELS_PER_SESSION} channels per session",
                frame.id,
            )
            return
        latest[frame.ch] = frame
        if frame.id is not None:
            session.send(encode(Ack(re=frame.id)))

    def followers(self) -> list[dict[str, Any]]:
        rows = []
        for session, by_channel in self._latest.items():
            assert session.user is not None
            for report in by_channel.values():
                # every field, defaults included (the frame type omits them on the wire)
                row = {f: getattr(report, f) for f in report.__struct_fields__ if f != "id"}
                rows.append({"user": session.user.name, "address": session.address, **row})
        return sorted(rows, key=lambda r: (r["ch"], r["user"]))
