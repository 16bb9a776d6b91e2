"""Per-hop latency of a copied order (docs/latency.md).

Seven moments are stamped on the way from a provider's change to a follower's fill, each by the
process it happens in, on that process's monotonic clock in microseconds:

    detected (provider) -> received (hub) -> out (hub: stored, fan-out begins)
    -> arrived (follower) -> planned -> submitted -> filled (follower)

The provider and the follower each measure, at login, the offset of the hub's clock to their
own (none at all when they run on the hub's host and boot: they read the same clock), so the
hub's stamps and the provider's are placed on the follower's clock before hops are taken. A
stamp of 0 is unknown (an EA that sends none, a state from another hub); its hops are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from tradewire.clients.journal import percentile

MEANING = {  # each hop between the seven moments, then the whole
    "to_hub": "provider saw the change -> hub received it",
    "store": "hub received -> stored, fan-out begins",
    "to_follower": "fan-out begins -> follower received",
    "plan": "follower received -> orders planned",
    "submit": "planned -> order sent to the broker",
    "fill": "sent -> filled",
    "total": "provider saw the change -> filled",
}
ALL_HOPS = tuple(MEANING)
HOPS = ALL_HOPS[:-1]


def hop_ms(stamps: Sequence[int]) -> dict[str, float]:
    """The hops between the seven moments (microsecond stamps, one clock), in milliseconds; a
    hop with an unknown end is left out. ``total`` is detected -> filled."""
    hops = {
        name: round((later - earlier) / 1000, 3)
        for name, earlier, later in zip(HOPS, stamps, stamps[1:], strict=False)
        if earlier and later
    }
    if stamps[0] and stamps[-1]:
        hops["total"] = round((stamps[-1] - stamps[0]) / 1000, 3)
    return hops


def on_local_clock(hub_stamps: Sequence[int], offset_us: int | None) -> list[int]:
    """Hub-clock stamps placed on this process's clock (``offset_us``: hub minus local); all
    unknown when the offset is."""
    if offset_us is None:
        return [0] * len(hub_stamps)
    return [stamp - offset_us if stamp else 0 for stamp in hub_stamps]


def hop_table(fills: Iterable[dict[str, Any]]) -> dict[str, dict[str, float | int | None]]:
    """p50, p99, max and count of every hop over journal ``fill`` entries (their ``hops_ms``)."""
    values: dict[str, list[float]] = {name: [] for name in ALL_HOPS}
    for entry in fills:
        hops = entry.get("hops_ms")
        if entry.get("event") != "fill" or not isinstance(hops, dict):
            continue
        for name, value in hops.items():
            if name in values and isinstance(value, int | float):
                values[name].append(float(value))
    return {
        name: {
            "n": len(got),
            "p50_ms": percentile(got, 0.5),
            "p99_ms": percentile(got, 0.99),
            "max_ms": max(got) if got else None,
        }
        for name, got in values.items()
    }
