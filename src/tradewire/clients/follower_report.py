"""What a follower tells the hub about its copy quality (``follower_report``, every few
seconds, for the operator's dashboard)."""

from __future__ import annotations

import bisect

from tradewire.clients.follower import Follower
from tradewire.clients.journal import percentile
from tradewire.protocol.messages import LATENCY_EDGES_MS, FollowerReport


def report(follower: Follower) -> FollowerReport:
    journal = follower.journal
    latencies, slips = journal.latencies_ms, journal.slippage_points
    hist = [0] * (len(LATENCY_EDGES_MS) + 1)
    for latency in latencies:
        hist[bisect.bisect_left(LATENCY_EDGES_MS, latency)] += 1
    return FollowerReport(
        ch=follower.channel,
        in_sync=follower.in_sync(),
        seq=follower.state.seq if follower.state else None,
        fills=journal.counts["fill"],
        rejects=journal.counts["reject"],
        skips=journal.counts["skip"],
        errors=journal.counts["error"],
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p99_ms=percentile(latencies, 0.99),
        slippage_mean_pts=round(sum(slips) / len(slips), 2) if slips else None,
        latency_hist=hist,
    )
