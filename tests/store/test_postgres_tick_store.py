"""PostgresTickStore passes the tick store conformance suite against a real PostgreSQL, and
keeps a resent batch once when two hubs store it at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from tests.store.tick_conformance import CHECKS, Opened, batch, rows
from tradewire.exceptions import StoreError
from tradewire.store.ticks import TickStore
from tradewire.store.ticks_pg import PostgresTickStore


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_postgres_tick_store_conforms(check: Callable[[Opened], None], postgres: str) -> None:
    def opened() -> TickStore:
        return PostgresTickStore(postgres)

    check(opened)


def test_one_batch_stored_by_several_hubs_at_once_is_stored_once(postgres: str) -> None:
    stores = [PostgresTickStore(postgres) for _ in range(4)]
    ticks = rows("EURUSD", 1000, 50)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: s.append_many([(batch(ticks), ("alice", "b7"))]), stores))
    assert sorted(r[0][1] for r in results) == [False, True, True, True]
    assert list(stores[0].query("EURUSD", 0, 10_000)) == ticks
    for store in stores:
        store.close()


def test_an_unreachable_database_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError, match=r"PostgreSQL \(.*127\.0\.0\.1.*\)") as caught:
        PostgresTickStore("postgresql://tw:s3cret@127.0.0.1:1/ticks")
    assert "s3cret" not in str(caught.value)


def test_a_new_database_is_partitioned_by_symbol_and_a_query_reads_one_partition(
    postgres: str,
) -> None:
    store = PostgresTickStore(postgres)
    store.append_many([(batch(rows(s, 1000, 20)), None) for s in ("EURUSD", "GBPUSD", "XAUUSD")])
    with psycopg.connect(postgres) as db:
        parts = db.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'ticks'::regclass")
        assert parts.fetchone() == (16,)
        plan = "\n".join(
            row[0]
            for row in db.execute(
                "EXPLAIN SELECT * FROM ticks WHERE symbol = 'EURUSD' AND time_ms >= 0"
            )
        )
    assert plan.count("ticks_h") == 1, plan  # pruned to the symbol's partition
    assert list(store.query("GBPUSD", 0, 10_000)) == rows("GBPUSD", 1000, 20)
    store.close()


def test_a_database_made_before_partitioning_keeps_its_table_and_works(postgres: str) -> None:
    with psycopg.connect(postgres, autocommit=True) as db:  # the schema of before
        db.execute(
            "CREATE TABLE ticks (n BIGINT GENERATED ALWAYS AS IDENTITY, symbol TEXT NOT NULL, "
            "time_ms BIGINT NOT NULL, bid DOUBLE PRECISION NOT NULL, ask DOUBLE PRECISION, "
            "last DOUBLE PRECISION, volume DOUBLE PRECISION)"
        )
        db.execute("CREATE INDEX ticks_symbol_time ON ticks (symbol, time_ms, n)")
        db.execute("INSERT INTO ticks (symbol, time_ms, bid) VALUES ('EURUSD', 5, 1.1)")
    store = PostgresTickStore(postgres)
    store.append_many([(batch(rows("EURUSD", 1000, 10)), None)])
    assert [t[1] for t in store.query("EURUSD", 0, 10_000)] == [5, *range(1000, 1010)]
    store.close()
