"""Tick storage. :class:`TickStore` is the seam (ticks_pg.py is the server database);
:class:`SqliteTickStore` is the embedded default: ``<data>/ticks.db``, WAL,
``synchronous=FULL`` so every commit is fsynced.

The SQLite store keeps ticks in chunks, a row per symbol of each stored batch holding the
batch's columns as packed arrays (tick_chunks.py): an index entry and a few blobs per batch
instead of a B-tree insert per tick is what lets it keep up with native ingest. Ticks stored by
earlier versions, a row each in ``ticks``, stay where they are and are read along."""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from tradewire.exceptions import StoreError
from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction
from tradewire.store.tick_chunks import CHUNK_COLUMNS, CHUNK_INSERT, chunks, merged

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (symbol TEXT NOT NULL, time_ms INTEGER NOT NULL,
    bid REAL NOT NULL, ask REAL, last REAL, volume REAL);
CREATE INDEX IF NOT EXISTS ticks_symbol_time ON ticks(symbol, time_ms);
CREATE TABLE IF NOT EXISTS tick_chunks (symbol TEXT NOT NULL, first_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL, n INTEGER NOT NULL, time_ms BLOB NOT NULL, bid BLOB NOT NULL,
    ask BLOB NOT NULL, last BLOB, volume BLOB);
CREATE INDEX IF NOT EXISTS tick_chunks_symbol ON tick_chunks(symbol, first_ms);
CREATE TABLE IF NOT EXISTS batches (client TEXT NOT NULL, batch_id TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (client, batch_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listener_stats (name TEXT PRIMARY KEY, received INTEGER NOT NULL,
    malformed INTEGER NOT NULL, kernel_drops INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
"""

Append = tuple[TickColumns, tuple[str, str] | None]  # ticks, (client, batch id) for dedupe


class TickStore(Protocol):
    def append_many(self, items: list[Append]) -> list[tuple[int, bool]]:
        """Store every item in one durable transaction. Per item: (row count, duplicate);
        a batch already stored under the same key stores nothing and reports its count."""
        ...

    def query(
        self, symbol: str, from_ms: int, to_ms: int, limit: int | None = None
    ) -> Iterator[TickRow]: ...

    def all_rows(self) -> Iterator[TickRow]:
        """Every tick, by symbol and time (exports)."""
        ...

    def symbol_stats(self) -> list[tuple[str, int, int, int]]:
        """(symbol, count, first ms, last ms) of every symbol stored."""
        ...

    def put_listener_stats(self, rows: list[tuple[str, int, int, int, int]]) -> None:
        """The tick listeners' counters, kept for ``tradewire ticks stats``."""
        ...

    def listener_stats(self) -> list[tuple[str, int, int, int, int]]: ...

    def close(self) -> None: ...


class SqliteTickStore:
    """Ticks in SQLite. One instance per thread (SQLite connections are per thread)."""

    def __init__(self, data_dir: Path, readonly: bool = False) -> None:
        self.path = data_dir / "ticks.db"
        try:
            if readonly:
                if not self.path.exists():
                    raise StoreError(f"no tick database at {self.path} (wrong --data?)")
                self._db = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                private_dir(data_dir)
                private_file(self.path)
                self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")  # fsync at every group commit
                self._db.executescript(SCHEMA)
            self._db.execute("PRAGMA busy_timeout=5000")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc

    def append_many(self, items: list[Append]) -> list[tuple[int, bool]]:
        db = self._db
        stored: list[tuple[int, bool]] = []
        with transaction(db, self.path, "ticks not stored"):
            for ticks, key in items:
                if key is not None:
                    known = db.execute(
                        "SELECT n FROM batches WHERE client=? AND batch_id=?", key
                    ).fetchone()
                    if known is not None:
                        stored.append((int(known[0]), True))
                        continue
                    db.execute("INSERT INTO batches VALUES (?,?,?)", (*key, len(ticks)))
                db.executemany(CHUNK_INSERT, chunks(ticks))
                stored.append((len(ticks), False))
        return stored

    def query(
        self, symbol: str, from_ms: int, to_ms: int, limit: int | None = None
    ) -> Iterator[TickRow]:
        """The ticks of ``symbol`` in ``[from_ms, to_ms)`` by time, ties in storing order."""
        legacy = self._db.execute(
            "SELECT symbol, time_ms, bid, ask, last, volume FROM ticks WHERE symbol=? "
            "AND time_ms>=? AND time_ms<? ORDER BY time_ms, rowid",
            (symbol, from_ms, to_ms),
        )
        chunked = self._db.execute(
            f"SELECT {CHUNK_COLUMNS} FROM tick_chunks WHERE symbol=? AND first_ms<? "
            "AND last_ms>=? ORDER BY first_ms, rowid",
            (symbol, to_ms, from_ms),
        )
        rows = heapq.merge(legacy, merged(symbol, chunked, from_ms, to_ms), key=lambda r: r[1])
        yield from rows if limit is None else itertools.islice(rows, limit)

    def all_rows(self) -> Iterator[TickRow]:
        for symbol, *_ in self.symbol_stats():
            yield from self.query(symbol, -(2**62), 2**62)

    def symbol_stats(self) -> list[tuple[str, int, int, int]]:
        """(symbol, count, first time_ms, last time_ms) per symbol."""
        stats: dict[str, tuple[str, int, int, int]] = {}
        kinds = [("ticks", "count(*)", "time_ms", "time_ms"),
                 ("tick_chunks", "sum(n)", "first_ms", "last_ms")]  # fmt: skip
        for table, count, first, last in kinds:
            for symbol, n, low, high in self._db.execute(
                f"SELECT symbol, {count}, min({first}), max({last}) FROM {table} GROUP BY symbol"
            ):
                if symbol in stats:
                    _, n0, low0, high0 = stats[symbol]
                    n, low, high = n + n0, min(low, low0), max(high, high0)
                stats[symbol] = (symbol, int(n), int(low), int(high))
        return [stats[symbol] for symbol in sorted(stats)]

    def count(self) -> int:
        """Every tick stored."""
        return sum(n for _, n, _, _ in self.symbol_stats())

    def put_listener_stats(self, rows: list[tuple[str, int, int, int, int]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO listener_stats VALUES (?,?,?,?,?)", rows)

    def listener_stats(self) -> list[tuple[str, int, int, int, int]]:
        return list(self._db.execute("SELECT * FROM listener_stats ORDER BY name"))

    def integrity(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._db.close()
