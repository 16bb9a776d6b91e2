"""Followers' copy-quality reports, for the dashboard."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId

LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)  # then "more"


Small = Annotated[int, msgspec.Meta(ge=0, le=2**53)]


Millis = Annotated[float, msgspec.Meta(ge=0, le=1e9)] | None


class FollowerReport(Frame, frozen=True, tag="follower_report"):
    """A follower's copy quality, for the dashboard (sent every few seconds; kept while its
    session lives). ``latency_hist``: fills per latency bucket of ``LATENCY_EDGES_MS``."""

    ch: str
    in_sync: bool
    seq: Small | None = None
    fills: Small = 0
    rejects: Small = 0
    skips: Small = 0
    errors: Small = 0
    latency_p50_ms: Millis = None
    latency_p99_ms: Millis = None
    slippage_mean_pts: Annotated[float, msgspec.Meta(ge=-1e9, le=1e9)] | None = None
    latency_hist: Annotated[list[Small], msgspec.Meta(max_length=len(LATENCY_EDGES_MS) + 1)] = []
    # what stops copying now, for the operator (a risk halt, a runaway breaker, stop_equity)
    alert: Annotated[str, msgspec.Meta(max_length=300)] = ""
    id: RequestId = None


FRAMES = FrameSet(
    "reports",
    client=(FollowerReport,),
    server=(),
)
