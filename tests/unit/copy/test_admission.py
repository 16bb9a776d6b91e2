"""The follower's scheduling rules as a table: which orders of a round may start now."""

from __future__ import annotations

import pytest

from tradewire.copy.admission import RoundStart, admit
from tradewire.copy.reconcile import CopyOrder


def order(symbol: str, key: str | None = None) -> CopyOrder:
    return CopyOrder(key or symbol, "open", symbol, "buy", 0.1)


IDLE = RoundStart(frozenset(), {})
ORDERS = [order("EURUSD"), order("EURUSD", "EURUSD#2"), order("GBPUSD"), order("XAUUSD")]

CASES = [
    # (why, start, in_flight, completed, retry_at, now, symbols admitted)
    ("nothing going on: one per symbol", IDLE, set(), {}, {}, 10.0,
     ["EURUSD", "GBPUSD", "XAUUSD"]),
    ("an order in flight holds its symbol", IDLE, {"GBPUSD"}, {}, {}, 10.0,
     ["EURUSD", "XAUUSD"]),
    ("in flight when the round began reading: stale read",
     RoundStart(frozenset({"XAUUSD"}), {}), set(), {"XAUUSD": 1}, {}, 10.0,
     ["EURUSD", "GBPUSD"]),
    ("finished while the broker was read: stale read",
     RoundStart(frozenset(), {"EURUSD": 2}), set(), {"EURUSD": 3}, {}, 10.0,
     ["GBPUSD", "XAUUSD"]),
    ("finished before the round: fine", RoundStart(frozenset(), {"EURUSD": 3}), set(),
     {"EURUSD": 3}, {}, 10.0, ["EURUSD", "GBPUSD", "XAUUSD"]),
    ("backing off until its retry time", IDLE, set(), {}, {"GBPUSD": 10.5}, 10.0,
     ["EURUSD", "XAUUSD"]),
    ("the retry time has come", IDLE, set(), {}, {"GBPUSD": 10.0}, 10.0,
     ["EURUSD", "GBPUSD", "XAUUSD"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("why", "start", "in_flight", "completed", "retry_at", "now", "expected"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_admission(
    why: str,
    start: RoundStart,
    in_flight: set[str],
    completed: dict[str, int],
    retry_at: dict[str, float],
    now: float,
    expected: list[str],
) -> None:
    admitted = admit(ORDERS, start, in_flight, completed, retry_at, now)
    assert [o.symbol for o in admitted] == expected
    assert admitted[0].key == "EURUSD" or "EURUSD" not in expected  # the first of a symbol


def test_order_slots_through_a_fill_a_rejection_and_a_cancellation() -> None:
    from tradewire.copy.admission import OrderSlots

    slots = OrderSlots()
    start = slots.round_start()
    assert [o.key for o in slots.start(ORDERS, start, now=0)] == ["EURUSD", "GBPUSD", "XAUUSD"]
    assert slots.start(ORDERS, slots.round_start(), now=0) == []  # all three in flight
    slots.finished("EURUSD", filled=True)
    slots.finished("GBPUSD", retry_at=5.0)  # rejected: back off until t=5
    slots.finished("XAUUSD")  # cancelled: no backoff either way
    start = slots.round_start()
    assert [o.symbol for o in slots.start(ORDERS, start, now=1.0)] == ["EURUSD", "XAUUSD"]
    slots.finished("EURUSD", filled=True)
    slots.finished("XAUUSD", filled=True)
    later = slots.round_start()
    assert [o.symbol for o in slots.start(ORDERS, later, now=5.0)] == [
        "EURUSD", "GBPUSD", "XAUUSD"
    ]  # fmt: skip
    slots.finished("GBPUSD", filled=True)
    assert "GBPUSD" not in slots.retry_at
