"""The administrator's view of the hub: live sessions, kicks, and every metric."""

from __future__ import annotations

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId


class Sessions(Frame, frozen=True, tag="sessions"):
    """Admins: list the hub's live sessions (answered with ``session_list``)."""

    id: RequestId = None


class Kick(Frame, frozen=True, tag="kick"):
    """Admins: close the session ``session``, or every session of ``user`` (``bye`` with
    reason ``kicked``). Answered with ``ack`` whose ``n`` is the number closed."""

    session: str | None = None
    user: str | None = None
    id: RequestId = None


class StatusRequest(Frame, frozen=True, tag="status"):
    """Admins: every metric of the hub now (answered with ``status``)."""

    id: RequestId = None


class SessionInfo(msgspec.Struct, frozen=True):
    session: str
    user: str
    role: str
    address: str
    since_ms: int
    agent: str = ""
    subscribed: list[str] = []
    publishing: list[str] = []


class SessionList(Frame, frozen=True, tag="session_list"):
    sessions: list[SessionInfo]
    re: RequestId = None


class MetricSample(msgspec.Struct, frozen=True, omit_defaults=True):
    labels: dict[str, str] = {}
    value: float = 0.0


class StatusReply(Frame, frozen=True, tag="status"):
    """The hub's metrics: counters and gauges as samples; histograms as count, sum, p50, p99
    (upper bounds of the buckets they fall in, seconds)."""

    uptime_s: float
    version: str
    metrics: dict[str, list[MetricSample]]
    histograms: dict[str, dict[str, float | None]]
    re: RequestId = None


FRAMES = FrameSet(
    "sessions",
    client=(Sessions, Kick, StatusRequest),
    server=(SessionList, StatusReply),
)
