"""The TickStore contract (tradewire.store.ticks), for every implementation: a new store runs
these with its own ``opened`` factory, which opens the same (initially empty) database each time
it is called, so that durability across a reopen is checked too."""

from __future__ import annotations

from collections.abc import Callable

from tradewire.protocol.ticks import TickRow
from tradewire.store.ticks import TickStore

Opened = Callable[[], TickStore]


def rows(symbol: str, start_ms: int, n: int) -> list[TickRow]:
    return [(symbol, start_ms + i, 1.1 + i / 1e5, 1.1002 + i / 1e5, None, None) for i in range(n)]


def check_a_batch_is_stored_once_under_its_key(opened: Opened) -> None:
    store = opened()
    first = rows("EURUSD", 1000, 3)
    assert store.append_many([(first, ("alice", "b1"))]) == [(3, False)]
    # The same key again (a resend after a lost ack) stores nothing and reports the first count,
    # even when the resent rows differ; another client may use the same batch id.
    again = store.append_many([(rows("EURUSD", 5000, 2), ("alice", "b1"))])
    other = store.append_many([(rows("EURUSD", 9000, 1), ("bob", "b1"))])
    assert again == [(3, True)] and other == [(1, False)]
    assert list(store.query("EURUSD", 0, 10_000)) == first + rows("EURUSD", 9000, 1)
    store.close()


def check_items_in_one_call_are_answered_in_order(opened: Opened) -> None:
    store = opened()
    got = store.append_many(
        [
            (rows("EURUSD", 1000, 2), ("alice", "x")),
            (rows("GBPUSD", 1000, 1), None),  # no key: never deduplicated
            (rows("EURUSD", 2000, 4), ("alice", "x")),  # a duplicate within the same call
            (rows("GBPUSD", 1000, 1), None),
        ]
    )
    assert got == [(2, False), (1, False), (2, True), (1, False)]
    assert len(list(store.query("GBPUSD", 0, 10_000))) == 2
    store.close()


def check_query_is_by_symbol_half_open_range_time_order_and_limit(opened: Opened) -> None:
    store = opened()
    late, early = rows("EURUSD", 3000, 2), rows("EURUSD", 1000, 2)
    store.append_many([(late, None), (early, None), (rows("USDJPY", 1000, 5), None)])
    assert list(store.query("EURUSD", 0, 10_000)) == early + late
    assert list(store.query("EURUSD", 1001, 3001)) == [early[1], late[0]]  # from <= t < to
    assert list(store.query("EURUSD", 0, 10_000, limit=3)) == (early + late)[:3]
    assert list(store.query("XAUUSD", 0, 10_000)) == []
    store.close()


def check_stored_ticks_and_batch_keys_survive_a_reopen(opened: Opened) -> None:
    store = opened()
    kept = rows("EURUSD", 1000, 2)
    kept[1] = ("EURUSD", 1001, 1.2, None, 1.2, 0.5)  # optional fields round-trip as stored
    store.append_many([(kept, ("alice", "k"))])
    store.close()
    reopened = opened()
    assert list(reopened.query("EURUSD", 0, 10_000)) == kept
    assert reopened.append_many([(kept, ("alice", "k"))]) == [(2, True)]
    reopened.close()


CHECKS = [
    check_a_batch_is_stored_once_under_its_key,
    check_items_in_one_call_are_answered_in_order,
    check_query_is_by_symbol_half_open_range_time_order_and_limit,
    check_stored_ticks_and_batch_keys_survive_a_reopen,
]
