"""Per-hop latency from stamps (docs/latency.md): pure arithmetic, tested exactly."""

from __future__ import annotations

from tradewire.clients.hops import hop_ms, hop_table, on_local_clock


def test_hops_between_the_seven_moments_in_milliseconds() -> None:
    stamps = [1_000, 1_400, 1_650, 2_000, 3_000, 3_100, 5_100]  # microseconds
    assert hop_ms(stamps) == {
        "to_hub": 0.4,
        "store": 0.25,
        "to_follower": 0.35,
        "plan": 1.0,
        "submit": 0.1,
        "fill": 2.0,
        "total": 4.1,
    }


def test_an_unknown_stamp_leaves_out_only_its_hops() -> None:
    # an EA provider sends no detection stamp; a state from another hub has no hub stamps
    assert hop_ms([0, 1_400, 1_650, 2_000, 3_000, 3_100, 5_100]).keys() == {
        "store", "to_follower", "plan", "submit", "fill"
    }  # fmt: skip
    assert hop_ms([0, 0, 1_650, 2_000, 3_000, 3_100, 5_100]).keys() == {
        "to_follower", "plan", "submit", "fill"
    }  # fmt: skip


def test_hub_stamps_move_onto_the_local_clock_by_the_offset() -> None:
    assert on_local_clock([5_000, 0, 7_000], 1_000) == [4_000, 0, 6_000]  # 0 stays unknown
    assert on_local_clock([5_000, 6_000, 7_000], None) == [0, 0, 0]  # offset not measured


def test_hop_table_over_journal_fills() -> None:
    fills = [
        {"event": "fill", "hops_ms": {"fill": float(v), "total": 2.0 * v}} for v in range(1, 101)
    ]
    fills.append({"event": "reject", "hops_ms": {"fill": 1e9}})  # not a fill: ignored
    fills.append({"event": "fill"})  # an old journal line without hops: ignored
    table = hop_table(fills)
    assert table["fill"] == {"n": 100, "p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}
    assert table["total"]["max_ms"] == 200.0
    assert table["to_hub"] == {"n": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
