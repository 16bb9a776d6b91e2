"""PostgresTickStore passes the tick store conformance suite against a real PostgreSQL, and
keeps a resent batch once when two hubs store it at the same moment."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
