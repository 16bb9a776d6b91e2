"""Each channel's history: the moments the hub keeps for a channel's statistics and what-if
replays, and its provider's deals (hub/services/history/, docs/statistics.md). In
``<data>/history.db`` (SQLite, WAL) by default; in PostgreSQL when ``[ticks] postgres`` is set,
where several hubs share it (store/history_sql.py has the SQL of both).

Writes are group-committed on one thread (:class:`GroupCommitter`) and never wait on the event
loop; reads run on the same thread. A channel keeps at most ``max_points`` moments (the oldest
go first) and none older than the retention.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from tradewire.exceptions import StoreError
from tradewire.model import Deal
from tradewire.stats.channel import Point
from tradewire.store import history_sql as sql
from tradewire.store.committer import GroupCommitter
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction

Op = Callable[[Any], object]  # one write, given the connection
Commit = Callable[[list[Op]], list[object]]


class HistoryStore:
    def __init__(self, data_dir: Path, loop: asyncio.AbstractEventLoop, postgres: str = "") -> None:
        self.path = data_dir / "history.db"
        self._data_dir = data_dir
        self._postgres = postgres
        self._dialect = sql.POSTGRES if postgres else sql.SQLITE
        self._conn: Any = None
        self._committer: GroupCommitter[Op, object] = GroupCommitter(
            "history", self._open, loop, max_batch=10_000
        )

    def _open(self) -> tuple[Commit, Callable[[], None]]:
        return self._open_postgres() if self._postgres else self._open_sqlite()

    def _open_sqlite(self) -> tuple[Commit, Callable[[], None]]:
        try:
            private_dir(self._data_dir)
            private_file(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(sql.SQLITE_SCHEMA)
            _add_moment_columns(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._conn = conn

        def commit(ops: list[Op]) -> list[object]:
            with transaction(conn, self.path, "history not stored"):
                return [op(conn) for op in ops]

        return commit, conn.close

    def _open_postgres(self) -> tuple[Commit, Callable[[], None]]:
        import psycopg  # the [scale] extra, as for ticks in PostgreSQL

        from tradewire.store.ticks_pg import redacted

        where = f"PostgreSQL ({redacted(self._postgres)})"
        try:
            conn = psycopg.connect(self._postgres, connect_timeout=10, autocommit=True)
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(7401)")  # one CREATE at once
                conn.execute(sql.POSTGRES_SCHEMA)
        except psycopg.Error as exc:
            raise StoreError(f"{where}: history unavailable: {exc}") from exc
        self._conn = conn

        def commit(ops: list[Op]) -> list[object]:
            try:
                with conn.transaction():
                    return [op(conn) for op in ops]
            except psycopg.Error as exc:
                raise StoreError(f"{where}: history not stored: {exc}") from exc

        return commit, conn.close

    def start(self) -> None:
        self._committer.start()

    def stop(self) -> None:
        self._committer.stop()

    async def flush(self) -> None:
        await self._committer.flush()

    def put(self, channel: str, currency: str, point: Point) -> int:
        """Keep ``point`` of ``channel`` (queued; a failure is logged by the committer);
        returns the bytes it takes, about."""
        positions = orders = None
        if point.positions is not None:
            positions = msgspec.json.encode(point.positions)
            orders = None if point.orders is None else msgspec.json.encode(point.orders)
        row = (channel, point.ts, currency, point.balance, point.equity, point.margin)
        rest = (positions, orders, point.mode, point.leverage)
        insert = self._dialect.q(sql.INSERT_POINT)
        self._committer.put(lambda conn: conn.execute(insert, row + rest), None)
        return sql.ROW_BYTES + len(positions or b"") + len(orders or b"")

    async def put_deals(
        self, channel: str, deals: list[Deal], arrival_ms: int, max_deals: int
    ) -> int:
        """Keep each of ``deals`` once (by ticket); returns how many were new, once committed.
        Raises StoreError.

        Each is placed at the channel's newest moment: the provider sends its deals once the
        state that shows them is acked, and that state's moment is queued before this write.
        Never at the deal's own time, so a deal cannot rewrite the past. Beyond ``max_deals``
        the channel's oldest go.
        """
        rows = [(d.ticket, msgspec.json.encode(d)) for d in deals]
        dialect = self._dialect
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def settle(result: object) -> None:
            if done.done():
                return
            if isinstance(result, StoreError):
                done.set_exception(result)
            else:
                assert isinstance(result, int)
                done.set_result(result)

        self._committer.put(
            lambda conn: sql.put_deals(conn, dialect, channel, rows, arrival_ms, max_deals),
            settle,
        )
        return await done

    async def deals(self, channel: str, until_ms: int | None = None) -> list[tuple[int, Deal]]:
        """The channel's deals placed up to ``until_ms``, each with its place, oldest first."""
        return await self._committer.call(
            lambda: sql.read_deals(self._conn, channel, until_ms, self._dialect)
        )

    def prune(self, channel: str, older_than_ms: int, max_points: int, max_bytes: int) -> None:
        """Delete ``channel``'s moments and deals before ``older_than_ms``, its moments beyond
        the newest ``max_points``, and beyond the newest that take ``max_bytes`` in all."""
        dialect = self._dialect
        self._committer.put(
            lambda conn: sql.prune(conn, dialect, channel, older_than_ms, max_points, max_bytes),
            None,
        )

    async def points(
        self, channel: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> tuple[str, list[Point]]:
        """The channel's currency and its moments in the period, oldest first; the first one
        always carries positions (the last full moment before the period, if it has none)."""
        return await self._committer.call(
            lambda: sql.read_points(self._conn, channel, since_ms, until_ms, self._dialect)
        )


def _add_moment_columns(conn: sqlite3.Connection) -> None:
    """A history.db made before moments kept orders, mode and leverage gets the columns (its
    moments read as a hedging provider at 1:100 that said nothing of pending orders)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(points)")}
    for column, kind in (("orders", "BLOB"), ("mode", "TEXT"), ("leverage", "INTEGER")):
        if column not in have:
            conn.execute(f"ALTER TABLE points ADD COLUMN {column} {kind}")
