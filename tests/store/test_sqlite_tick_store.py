"""SqliteTickStore passes the tick store conformance suite."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store.tick_conformance import CHECKS, Opened, batch
from tradewire.store.ticks import SqliteTickStore, TickStore


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_sqlite_tick_store_conforms(check: Callable[[Opened], None], tmp_path: Path) -> None:
    def opened() -> TickStore:
        return SqliteTickStore(tmp_path / "data")

    check(opened)


def test_ticks_stored_a_row_each_by_an_earlier_version_are_read_along(tmp_path: Path) -> None:
    """Before chunks, every tick was a row of ``ticks``: such a ticks.db keeps working."""
    store = SqliteTickStore(tmp_path)
    old = [("EURUSD", 1000, 1.0, 1.1, None, None), ("EURUSD", 1003, 1.3, 1.4, None, None)]
    with sqlite3.connect(tmp_path / "ticks.db") as conn:  # as the earlier version wrote them
        conn.executemany("INSERT INTO ticks VALUES (?,?,?,?,?,?)", old)
    new = [("EURUSD", 1002, 2.0, 2.1, None, None), ("XAUUSD", 999, 2300.0, 2300.5, None, 1.0)]
    store.append_many([(batch(new), None)])
    assert list(store.query("EURUSD", 0, 2000)) == [old[0], new[0], old[1]]
    assert store.symbol_stats() == [("EURUSD", 3, 1000, 1003), ("XAUUSD", 1, 999, 999)]
    assert store.count() == 4
    assert list(store.all_rows()) == [old[0], new[0], old[1], new[1]]
    store.close()


def test_a_batch_takes_one_row_per_symbol(tmp_path: Path) -> None:
    store = SqliteTickStore(tmp_path)
    ticks = [(s, 1000 + i, 1.0, 1.1, None, None) for i in range(3000) for s in ("A", "B")]
    store.append_many([(batch(ticks), None)])
    with sqlite3.connect(tmp_path / "ticks.db") as conn:
        assert conn.execute("SELECT symbol, n FROM tick_chunks").fetchall() == [
            ("A", 3000),
            ("B", 3000),
        ]
    assert [r[1] for r in store.query("B", 0, 10_000)] == list(range(1000, 4000))
    store.close()
