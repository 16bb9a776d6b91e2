"""Ticks in PostgreSQL (``[ticks] postgres = "postgresql://…"``, docs/scaling.md): the store
for several hubs and for more ticks than one machine's disk, passing the same conformance suite
as :class:`~tradewire.store.ticks.SqliteTickStore`.

Each :meth:`append_many` is one transaction: the batch keys first (``ON CONFLICT DO NOTHING``,
so two hubs storing one resent batch store it once), then every fresh row in one ``COPY``. The
commit returns once PostgreSQL has flushed its WAL (``synchronous_commit = on``): an ack still
means durable. Rows keep their arrival order within a millisecond by an identity column.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from tradewire.exceptions import StoreError
from tradewire.protocol.ticks import TickRow
from tradewire.store.ticks import Append

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (n BIGINT GENERATED ALWAYS AS IDENTITY, symbol TEXT NOT NULL,
    time_ms BIGINT NOT NULL, bid DOUBLE PRECISION NOT NULL, ask DOUBLE PRECISION,
    last DOUBLE PRECISION, volume DOUBLE PRECISION);
CREATE INDEX IF NOT EXISTS ticks_symbol_time ON ticks (symbol, time_ms, n);
CREATE TABLE IF NOT EXISTS tick_batches (client TEXT NOT NULL, batch_id TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (client, batch_id));
CREATE TABLE IF NOT EXISTS listener_stats (name TEXT PRIMARY KEY, received BIGINT NOT NULL,
    malformed BIGINT NOT NULL, kernel_drops BIGINT NOT NULL, updated_ms BIGINT NOT NULL);
"""
COLUMNS = "symbol, time_ms, bid, ask, last, volume"


def redacted(dsn: str) -> str:
    """``dsn`` without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        return "(an unreadable PostgreSQL URL)"
    info.pop("password", None)
    return " ".join(f"{key}={value}" for key, value in info.items() if value is not None)


class PostgresTickStore:
    """One connection; one instance per thread, like the SQLite store."""

    def __init__(self, dsn: str, readonly: bool = False) -> None:
        self._where = redacted(dsn)
        try:
            self._db = psycopg.connect(dsn, connect_timeout=10, autocommit=True)
            with self._db.transaction():
                self._db.execute("SET synchronous_commit = on")
                if readonly:
                    self._db.execute("SET default_transaction_read_only = on")
                else:
                    self._db.execute("SELECT pg_advisory_xact_lock(7400)")  # one CREATE at once
                    self._db.execute(SCHEMA)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL ({self._where}): {_first_line(exc)}") from exc

    def append_many(self, items: list[Append]) -> list[tuple[int, bool]]:
        stored: list[tuple[int, bool]] = []
        fresh: list[TickRow] = []
        try:
            with self._db.transaction(), self._db.cursor() as cur:
                for ticks, key in items:
                    if key is not None:
                        cur.execute(
                            "INSERT INTO tick_batches VALUES (%s, %s, %s) "
                            "ON CONFLICT DO NOTHING RETURNING n",
                            (*key, len(ticks)),
                        )
                        if cur.fetchone() is None:
                            cur.execute(
                                "SELECT n FROM tick_batches WHERE client=%s AND batch_id=%s", key
                            )
                            known = cur.fetchone()
                            assert known is not None
                            stored.append((int(known[0]), True))
                            continue
                    fresh.extend(ticks.rows())
                    stored.append((len(ticks), False))
                if fresh:
                    with cur.copy(f"COPY ticks ({COLUMNS}) FROM STDIN") as copy:
                        for row in fresh:
                            copy.write_row(row)
        except psycopg.Error as exc:
            raise StoreError(f"ticks not stored in PostgreSQL: {_first_line(exc)}") from exc
        return stored

    def query(
        self, symbol: str, from_ms: int, to_ms: int, limit: int | None = None
    ) -> Iterator[TickRow]:
        sql = (
            f"SELECT {COLUMNS} FROM ticks WHERE symbol=%s AND time_ms>=%s AND time_ms<%s "
            "ORDER BY time_ms, n"
        )
        args: tuple[Any, ...] = (symbol, from_ms, to_ms)
        if limit is not None:
            sql += " LIMIT %s"
            args += (limit,)
        yield from self._rows(sql, args)

    def all_rows(self) -> Iterator[TickRow]:
        yield from self._rows(f"SELECT {COLUMNS} FROM ticks ORDER BY symbol, time_ms, n", ())

    def _rows(self, sql: str, args: tuple[Any, ...]) -> Iterator[TickRow]:
        # A server-side cursor: an export of millions of rows never sits in memory at once.
        try:
            with self._db.transaction(), self._db.cursor(name="tw_rows") as cur:
                cur.itersize = 10_000
                cur.execute(sql, args)
                yield from cur
        except psycopg.Error as exc:
            raise StoreError(f"cannot read ticks from PostgreSQL: {_first_line(exc)}") from exc

    def symbol_stats(self) -> list[tuple[str, int, int, int]]:
        with self._db.transaction():
            return list(
                self._db.execute(
                    "SELECT symbol, count(*), min(time_ms), max(time_ms) FROM ticks "
                    "GROUP BY symbol ORDER BY symbol"
                )
            )

    def put_listener_stats(self, rows: list[tuple[str, int, int, int, int]]) -> None:
        with self._db.transaction(), self._db.cursor() as cur:
            cur.executemany(
                "INSERT INTO listener_stats VALUES (%s,%s,%s,%s,%s) ON CONFLICT (name) DO UPDATE "
                "SET received=EXCLUDED.received, malformed=EXCLUDED.malformed, "
                "kernel_drops=EXCLUDED.kernel_drops, updated_ms=EXCLUDED.updated_ms",
                rows,
            )

    def listener_stats(self) -> list[tuple[str, int, int, int, int]]:
        with self._db.transaction():
            return list(self._db.execute("SELECT * FROM listener_stats ORDER BY name"))

    def close(self) -> None:
        self._db.close()


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
