"""The journal's in-memory figures stay bounded however long a follower runs: p50/p99 and the
slippage over its last RECENT_FILLS fills, the latency histogram over every fill."""

from __future__ import annotations

from tradewire.clients.journal import RECENT_FILLS, Journal, percentile
from tradewire.protocol.frames.reports import LATENCY_EDGES_MS


def test_a_long_run_keeps_recent_fills_and_counts_them_all() -> None:
    journal = Journal()
    for n in range(5_000):
        slow = n >= 5_000 - RECENT_FILLS  # the last fills are slow
        journal.write("fill", n, latency_ms=300.0 if slow else 3.0, slippage_points=1.0)
    assert len(journal.latencies_ms) == RECENT_FILLS == len(journal.slippage_points)
    assert percentile(journal.latencies_ms, 0.5) == 300.0  # the recent ones
    assert sum(journal.latency_hist) == 5_000 == journal.counts["fill"]
    fast = LATENCY_EDGES_MS.index(5)  # 3 ms falls in the bucket up to 5 ms
    assert journal.latency_hist[fast] == 5_000 - RECENT_FILLS
