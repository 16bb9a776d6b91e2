"""The TickStore contract (tradewire.store.ticks), for every implementation: a new store runs
these with its own ``opened`` factory, which opens the same (initially empty) database each time
it is called, so that durability across a reopen is checked too."""

from __future__ import annotations

from collections.abc import Callable

from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow
from tradewire.store.ticks import TickStore

Opened = Callable[[], TickStore]


def batch(ticks: list[TickRow]) -> TickColumns:
    """Rows as the store takes them."""
    return TickColumns.from_rows(ticks)


def rows(symbol: str, start_ms: int, n: int) -> list[TickRow]:
    return [(symbol, start_ms + i, 1.1 + i / 1e5, 1.1002 + i / 1e5, None, None) for i in range(n)]


def check_a_batch_is_stored_once_under_its_key(opened: Opened) -> None:
    store = opened()
    first = rows("EURUSD", 1000, 3)
    assert store.append_many([(batch(first), ("alice", "b1"))]) == [(3, False)]
    # The same key again (a resend after a lost ack) stores nothing and reports the first count,
    # even when the resent rows differ; another client may use the same batch id.
    again = store.append_many([(batch(rows("EURUSD", 5000, 2)), ("alice", "b1"))])
    other = store.append_many([(batch(rows("EURUSD", 9000, 1)), ("bob", "b1"))])
    assert again == [(3, True)] and other == [(1, False)]
    assert list(store.query("EURUSD", 0, 10_000)) == first + rows("EURUSD", 9000, 1)
    store.close()


def check_items_in_one_call_are_answered_in_order(opened: Opened) -> None:
    store = opened()
    got = store.append_many(
        [
            (batch(rows("EURUSD", 1000, 2)), ("alice", "x")),
            (batch(rows("GBPUSD", 1000, 1)), None),  # no key: never deduplicated
            (
                batch(rows("EURUSD", 2000, 4)),
                ("alice", "x"),
            ),  # a duplicate within the same call
            (batch(rows("GBPUSD", 1000, 1)), None),
        ]
    )
    assert got == [(2, False), (1, False), (2, True), (1, False)]
    assert len(list(store.query("GBPUSD", 0, 10_000))) == 2
    store.close()


def check_query_is_by_symbol_half_open_range_time_order_and_limit(opened: Opened) -> None:
    store = opened()
    late, early = rows("EURUSD", 3000, 2), rows("EURUSD", 1000, 2)
    store.append_many(
        [
            (batch(late), None),
            (batch(early), None),
            (batch(rows("USDJPY", 1000, 5)), None),
        ]
    )
    assert list(store.query("EURUSD", 0, 10_000)) == early + late
    assert list(store.query("EURUSD", 1001, 3001)) == [early[1], late[0]]  # from <= t < to
    assert list(store.query("EURUSD", 0, 10_000, limit=3)) == (early + late)[:3]
    assert list(store.query("XAUUSD", 0, 10_000)) == []
    store.close()


def check_stored_ticks_and_batch_keys_survive_a_reopen(opened: Opened) -> None:
    store = opened()
    kept = rows("EURUSD", 1000, 2)
    kept[1] = ("EURUSD", 1001, 1.2, None, 1.2, 0.5)  # optional fields round-trip as stored
    store.append_many([(batch(kept), ("alice", "k"))])
    store.close()
    reopened = opened()
    assert list(reopened.query("EURUSD", 0, 10_000)) == kept
    assert reopened.append_many([(batch(kept), ("alice", "k"))]) == [(2, True)]
    reopened.close()


def check_batches_overlapping_in_time_read_by_time_then_storing_order(opened: Opened) -> None:
    store = opened()
    a = [("EURUSD", t, 1.0 + t / 1e4, 1.1, None, None) for t in (1000, 1002, 1004)]
    b = [("EURUSD", t, 2.0 + t / 1e4, 2.1, None, 7.0) for t in (1003, 1001, 1002)]  # unsorted
    mixed = [a[0], ("GBPUSD", 1001, 1.3, 1.4, 1.35, None)]  # two symbols in one batch
    store.append_many([(batch(a), None), (batch(b), ("feed", "b")), (batch(mixed), None)])
    got = list(store.query("EURUSD", 0, 10_000))
    assert [(r[1], r[2]) for r in got] == [
        (1000, a[0][2]), (1000, a[0][2]), (1001, b[1][2]), (1002, a[1][2]), (1002, b[2][2]),
        (1003, b[0][2]), (1004, a[2][2]),
    ]  # fmt: skip
    assert got[2] == b[1]  # every field as stored
    assert list(store.query("GBPUSD", 0, 10_000)) == [mixed[1]]
    assert list(store.query("EURUSD", 1002, 1004, limit=2)) == [a[1], b[2]]
    store.close()


CHECKS = [
    check_batches_overlapping_in_time_read_by_time_then_storing_order,
    check_a_batch_is_stored_once_under_its_key,
    check_items_in_one_call_are_answered_in_order,
    check_query_is_by_symbol_half_open_range_time_order_and_limit,
    check_stored_ticks_and_batch_keys_survive_a_reopen,
]
