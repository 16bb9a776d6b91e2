"""Tick storage. :class:`TickStore` is the seam (a server database can be added later without
touching ingest); :class:`SqliteTickStore` is the embedded default: ``<data>/ticks.db``, WAL,
``synchronous=FULL`` so every commit is fsynced, indexed by symbol and time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from tradewire.exceptions import StoreError
from tradewire.protocol.ticks import TickRow
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS ticks (symbol TEXT NOT NULL, time_ms INTEGER NOT NULL,
    bid REAL NOT NULL, ask REAL, last REAL, volume REAL);
CREATE INDEX IF NOT EXISTS ticks_symbol_time ON ticks(symbol, time_ms);
CREATE TABLE IF NOT EXISTS batches (client TEXT NOT NULL, batch_id TEXT NOT NULL,
    n INTEGER NOT NULL, PRIMARY KEY (client, batch_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS listener_stats (name TEXT PRIMARY KEY, received INTEGER NOT NULL,
    malformed INTEGER NOT NULL, kernel_drops INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
"""

Append = tuple[list[TickRow], tuple[str, str] | None]  # rows, (client, batch id) for dedupe


class TickStore(Protocol):
    def append_many(self, items: list[Append]) -> list[tuple[int, bool]]:
        """Store every item in one durable transaction. Per item: (row count, duplicate);
        a batch already stored under the same key stores nothing and reports its count."""
        ...

    def query(
        self, symbol: str, from_ms: int, to_ms: int, limit: int | None = None
    ) -> Iterator[TickRow]: ...

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
            for rows, key in items:
                if key is not None:
                    known = db.execute(
                        "SELECT n FROM batches WHERE client=? AND batch_id=?", key
                    ).fetchone()
                    if known is not None:
                        stored.append((int(known[0]), True))
                        continue
                    db.execute("INSERT INTO batches VALUES (?,?,?)", (*key, len(rows)))
                db.executemany("INSERT INTO ticks VALUES (?,?,?,?,?,?)", rows)
                stored.append((len(rows), False))
        return stored

    def query(
        self, symbol: str, from_ms: int, to_ms: int, limit: int | None = None
    ) -> Iterator[TickRow]:
        sql = (
            "SELECT symbol, time_ms, bid, ask, last, volume FROM ticks WHERE symbol=? "
            "AND time_ms>=? AND time_ms<? ORDER BY time_ms, rowid"
        )
        args: tuple[object, ...] = (symbol, from_ms, to_ms)
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        yield from self._db.execute(sql, args)

    def all_rows(self) -> Iterator[TickRow]:
        yield from self._db.execute(
            "SELECT symbol, time_ms, bid, ask, last, volume FROM ticks "
            "ORDER BY symbol, time_ms, rowid"
        )

    def symbol_stats(self) -> list[tuple[str, int, int, int]]:
        """(symbol, count, first time_ms, last time_ms) per symbol."""
        return list(
            self._db.execute(
                "SELECT symbol, count(*), min(time_ms), max(time_ms) "
                "FROM ticks GROUP BY symbol ORDER BY symbol"
            )
        )

    def put_listener_stats(self, rows: list[tuple[str, int, int, int, int]]) -> None:
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO listener_stats VALUES (?,?,?,?,?)", rows)

    def listener_stats(self) -> list[tuple[str, int, int, int, int]]:
        return list(self._db.execute("SELECT * FROM listener_stats ORDER BY name"))

    def integrity(self) -> str:
        return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        self._db.close()
