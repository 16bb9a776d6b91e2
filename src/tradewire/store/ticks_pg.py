"""Ticks in PostgreSQL (``[ticks] postgres = "postgresql://…"``, docs/scaling.md): the store
for several hubs and for more ticks than one machine's disk, passing the same conformance suite
as :class:`~tradewire.store.ticks.SqliteTickStore`.

Each :meth:`append_many` is one transaction: the batch keys first (``ON CONFLICT DO NOTHING``,
so two hubs storing one resent batch store it once), then every fresh row in one binary
``COPY``. The
commit returns once PostgreSQL has flushed its WAL (``synchronous_commit = on``): an ack still
means durable. Rows keep their arrival order within a millisecond by an identity column
(in each hub's order: a connection takes its numbers 1,000 at a time).

The table is hash-partitioned by symbol (16 partitions), each with a BRIN index on ``time_ms``
rather than a B-tree on ``(symbol, time_ms, n)``: ticks arrive in time order, so a BRIN range
summary finds a time window as well as the B-tree did, and a symbol's query reads one partition;
maintaining the B-tree on every row halved the rate at which PostgreSQL stored ticks (measured
in docs/scaling.md). A database made before keeps its unpartitioned table and its B-tree.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterator
from typing import Any

import psycopg

from tradewire.exceptions import StoreError
from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow
from tradewire.store.ticks import Append

PARTITIONS = 16
SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (n BIGINT GENERATED ALWAYS AS IDENTITY (CACHE 1000),
    symbol TEXT NOT NULL, time_ms BIGINT NOT NULL, bid DOUBLE PRECISION NOT NULL,
    ask DOUBLE PRECISION, last DOUBLE PRECISION, volume DOUBLE PRECISION)
    PARTITION BY HASH (symbol);
CREATE TABLE IF NOT EXISTS tick_batches (client TEXT NOT NULL, batch_id TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (client, batch_id));
CREATE TABLE IF NOT EXISTS listener_stats (name TEXT PRIMARY KEY, received BIGINT NOT NULL,
    malformed BIGINT NOT NULL, kernel_drops BIGINT NOT NULL, updated_ms BIGINT NOT NULL);
"""
# Only on a partitioned ``ticks``: a table made before partitioning keeps its B-tree.
PARTITIONED = "".join(
    f"CREATE TABLE IF NOT EXISTS ticks_h{k} PARTITION OF ticks "
    f"FOR VALUES WITH (MODULUS {PARTITIONS}, REMAINDER {k});\n"
    for k in range(PARTITIONS)
) + ("CREATE INDEX IF NOT EXISTS ticks_time_brin ON ticks USING brin (time_ms);\n")
COLUMNS = "symbol, time_ms, bid, ask, last, volume"


def copy_binary(ticks: TickColumns) -> bytes:
    """``ticks`` in COPY's binary format (without its header and trailer), made column by
    column: PostgreSQL reads binary doubles faster than their text (measured: 250,000 -> 310,000
    rows/s stored, this machine), and psycopg's ``write_row`` adapts every value of every row
    on its own. NaN (no ask, last or volume) is NULL."""
    n = len(ticks)
    if not n:
        return b""
    names = {name: _FIELD_LEN.pack(len(b := name.encode())) + b for name in ticks.symbols}
    symbol = (
        [names[ticks.symbols[0]]] * n
        if ticks.sym is None
        else [names[name] for name in [ticks.symbols[i] for i in ticks.sym]]
    )
    nulls = [_NULL] * n
    time_ms = [_BIGINT.pack(8, t) for t in ticks.time_ms]
    bid = [_DOUBLE.pack(8, x) for x in ticks.bid]
    return b"".join(
        itertools.chain.from_iterable(
            zip(
                [_SIX] * n,
                symbol,
                time_ms,
                bid,
                _doubles(ticks.ask),
                nulls if ticks.last is None else _doubles(ticks.last),
                nulls if ticks.volume is None else _doubles(ticks.volume),
                strict=True,
            )
        )
    )


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)  # no flags, no extension
COPY_TRAILER = struct.pack(">h", -1)
_SIX = struct.pack(">h", 6)  # fields per row
_FIELD_LEN = struct.Struct(">i")
_NULL = _FIELD_LEN.pack(-1)
_BIGINT = struct.Struct(">iq")
_DOUBLE = struct.Struct(">id")


def _doubles(column: list[float]) -> list[bytes]:
    pack = _DOUBLE.pack
    return [_NULL if x != x else pack(8, x) for x in column]  # NaN: the only x != x


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
                    kind = self._db.execute(
                        "SELECT relkind FROM pg_class WHERE oid = 'ticks'::regclass"
                    ).fetchone()
                    if kind == ("p",):
                        self._db.execute(PARTITIONED)
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL ({self._where}): {_first_line(exc)}") from exc

    def append_many(self, items: list[Append]) -> list[tuple[int, bool]]:
        stored: list[tuple[int, bool]] = []
        fresh: list[bytes] = []
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
                    fresh.append(copy_binary(ticks))
                    stored.append((len(ticks), False))
                if fresh:
                    with cur.copy(f"COPY ticks ({COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
                        copy.write(COPY_HEADER)
                        for block in fresh:
                            copy.write(block)
                        copy.write(COPY_TRAILER)
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
