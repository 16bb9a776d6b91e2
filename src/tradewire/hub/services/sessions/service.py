"""Access that can be taken back at once, as a hub service: user changes reach live sessions,
and admins list and kick sessions over the wire (``sessions`` / ``kick`` frames).

The admin CLI writes users and grants to the database; every change bumps a revision that the
hub polls each sweep (about once a second) and hands to :meth:`SessionService.apply_user_changes`:

* user deleted or disabled, password or role changed: every session of the user ends with
  ``{"t":"bye","reason":"revoked"}``;
* a channel grant withdrawn: the subscription ends with ``{"t":"error","code":"revoked","ch":…}``
  and a publisher loses the channel; the session goes on with its other grants;
* a topic grant withdrawn: every topic or prefix subscription it no longer covers ends with
  ``{"t":"error","code":"revoked",…}`` naming it, at once (values in flight after it are not
  delivered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping

from tradewire import __version__
from tradewire.hub.acl import may
from tradewire.hub.audit import Auditor
from tradewire.hub.events import HubEvents, Kicked
from tradewire.hub.service import Handler, Session
from tradewire.hub.services.channels.service import ChannelService
from tradewire.hub.services.topics.service import TopicService
from tradewire.metrics import Counter, Histogram, Metrics
from tradewire.model import UserRecord
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.frames import sessions as sessions_frames
from tradewire.protocol.messages import (
    Ack,
    Bye,
    Kick,
    MetricSample,
    SessionInfo,
    SessionList,
    Sessions,
    StatusReply,
    StatusRequest,
)

log = logging.getLogger(__name__)


class SessionService:
    frames = sessions_frames.FRAMES

    def __init__(
        self,
        sessions: Collection[Session],
        channels: ChannelService,
        auditor: Auditor,
        metrics: Metrics | None = None,
        started: float = 0.0,
        topics: TopicService | None = None,
        events: HubEvents | None = None,
    ) -> None:
        self._sessions = sessions  # the hub's live connections (read only here)
        self._channels = channels
        self._topics = topics
        self._auditor = auditor
        self._metrics = metrics or Metrics()
        self._started = started  # monotonic seconds at hub start
        self._events = events or HubEvents()  # told of each kick (other hubs close theirs)

    def handlers(self) -> Mapping[str, Handler]:
        return {"sessions": self.list, "kick": self.kick, "status": self.status}

    def session_ended(self, session: Session) -> None:
        pass

    def apply_user_changes(self, users: Mapping[str, UserRecord | None]) -> None:
        """``users``: the current record of every user with a live session (``None``: gone)."""
        for session in list(self._sessions):
            old = session.user
            if old is None or old.name not in users:
                continue
            new = users[old.name]
            if new is None or new.disabled or new.role != old.role or new.hash != old.hash:
                why = (
                    "deleted"
                    if new is None
                    else "disabled"
                    if new.disabled
                    else "role changed"
                    if new.role != old.role
                    else "password changed"
                )
                log.info("closing session %s of %s: user %s", session.session_id, old.name, why)
                session.close(encode(Bye(reason="revoked")))
                session.end_reason = f"revoked: user {why}"
            elif new.channels != old.channels:
                session.user = new
                self._channels.withdraw(session, new)
                if self._topics is not None:
                    self._topics.withdraw(session, new)

    def list(self, session: Session, frame: Sessions) -> None:
        if not self._is_admin(session, frame.id):
            return
        infos = [
            SessionInfo(
                session=other.session_id,
                user=other.user.name,
                role=other.user.role,
                address=other.address,
                since_ms=other.since_ms,
                agent=other.agent,
                subscribed=sorted(self._channels.subscribed(other)),
                publishing=self._channels.published_by(other),
            )
            for other in self._sessions
            if other.user is not None
        ]
        infos.sort(key=lambda i: (i.user, i.since_ms))
        session.send(encode(SessionList(sessions=infos, re=frame.id)))

    def kick(self, session: Session, frame: Kick) -> None:
        if not self._is_admin(session, frame.id):
            return
        assert session.user is not None
        if (frame.session is None) == (frame.user is None):
            session.send(error_line("bad_frame", 'kick: give "session" or "user"', frame.id))
            return
        closed = self.close_matching(frame.session, frame.user, session.user.name, session)
        what = f"session={frame.session}" if frame.session else f"user={frame.user}"
        self._auditor.audit("kick", session.user.name, session.address, f"{what} closed={closed}")
        session.send(encode(Ack(re=frame.id, n=closed)))
        self._events.emit(Kicked(frame.session, frame.user, session.user.name))

    def close_matching(
        self, session_id: str | None, user: str | None, by: str, spare: object = None
    ) -> int:
        """Close the sessions with ``session_id`` or of ``user`` (a kick by ``by``); returns
        how many."""
        targets = [
            other
            for other in self._sessions
            if other.user is not None
            and other is not spare
            and (other.session_id == session_id or other.user.name == user)
        ]
        for target in targets:
            target.close(encode(Bye(reason="kicked")))
            target.end_reason = f"kicked by {by}"
        return len(targets)

    def status(self, session: Session, frame: StatusRequest) -> None:
        if not self._is_admin(session, frame.id):
            return
        samples: dict[str, list[MetricSample]] = {}
        histograms: dict[str, dict[str, float | None]] = {}
        for metric in self._metrics:
            if isinstance(metric, Histogram):
                histograms[metric.name] = {
                    "count": metric.count,
                    "sum": metric.total,
                    "p50": metric.quantile(0.5),
                    "p99": metric.quantile(0.99),
                }
                continue
            values = metric.values if isinstance(metric, Counter) else metric.read()
            samples[metric.name] = [
                MetricSample(dict(zip(metric.label_names, labels, strict=False)), value)
                for labels, value in sorted(values.items())
            ]
        session.send(
            encode(
                StatusReply(
                    uptime_s=round(time.monotonic() - self._started, 1),
                    version=__version__,
                    metrics=samples,
                    histograms=histograms,
                    re=frame.id,
                )
            )
        )

    def _is_admin(self, session: Session, re: int | str | None) -> bool:
        assert session.user is not None
        if may(session.user, "admin"):
            return True
        self._auditor.forbidden(session, "only admins may list or kick sessions or see status", re)
        return False
