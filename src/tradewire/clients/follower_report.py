"""What a follower tells the hub about its copy quality (``follower_report``, every few
seconds, for the operator's dashboard). The copy engine sends one for all its accounts."""

from __future__ import annotations

from collections.abc import Sequence

from tradewire.clients.follower import Follower
from tradewire.clients.journal import percentile
from tradewire.protocol.messages import LATENCY_EDGES_MS, FollowerReport


def report(follower: Follower) -> FollowerReport:
    return combined_report(follower.channel, [follower])


def combined_report(channel: str, followers: Sequence[Follower]) -> FollowerReport:
    """The quality of ``followers`` together: counts and the latency histogram summed over
    every fill, percentiles and the slippage over each one's recent fills (clients/journal.py)."""
    journals = [f.journal for f in followers]
    latencies = [v for j in journals for v in j.latencies_ms]
    slips = [v for j in journals for v in j.slippage_points]
    hist = [0] * (len(LATENCY_EDGES_MS) + 1)
    for journal in journals:
        for bucket, count in enumerate(journal.latency_hist):
            hist[bucket] += count
    seqs = [f.state.seq for f in followers if f.state is not None]
    return FollowerReport(
        ch=channel,
        in_sync=all(f.in_sync() for f in followers),
        seq=min(seqs) if seqs else None,
        fills=sum(j.counts["fill"] for j in journals),
        rejects=sum(j.counts["reject"] for j in journals),
        skips=sum(j.counts["skip"] for j in journals),
        errors=sum(j.counts["error"] for j in journals),
        latency_p50_ms=percentile(latencies, 0.5),
        latency_p99_ms=percentile(latencies, 0.99),
        slippage_mean_pts=round(sum(slips) / len(slips), 2) if slips else None,
        latency_hist=hist,
        alert="; ".join(a for f in followers if (a := alert_of(f)))[:300],
    )


def alert_of(follower: Follower) -> str:
    """What stops ``follower`` copying now, in a line ("" when nothing does)."""
    who = follower.guard.who  # "carol/alpha: " in an engine, "" alone
    why = [
        *(["stopped: stop_equity reached"] if follower.stopped else []),
        *(f"halted: {reason}" for reason in follower.halts()),
        *(f"{key} stopped (breaker)" for key in sorted(follower.breaker.tripped)),
    ]
    return who + ", ".join(why) if why else ""
