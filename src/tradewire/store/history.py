"""Each channel's history on disk (``<data>/history.db``, WAL): the moments the hub keeps for
a channel's statistics (hub/services/history/, docs/statistics.md).

Writes are group-committed on one thread (:class:`GroupCommitter`) and never wait on the event
loop; reads run on the same thread. A channel keeps at most ``max_points`` moments (the oldest
go first) and none older than the retention.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import msgspec

from tradewire.exceptions import StoreError
from tradewire.model import Deal, PendingOrder, Position
from tradewire.stats.channel import Point
from tradewire.store.committer import GroupCommitter
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction

T = TypeVar("T")
Op = Callable[[sqlite3.Connection], object]

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, channel TEXT NOT NULL,
    ts INTEGER NOT NULL, currency TEXT NOT NULL, balance REAL NOT NULL, equity REAL NOT NULL,
    margin REAL NOT NULL, positions BLOB, orders BLOB, mode TEXT, leverage INTEGER);
CREATE INDEX IF NOT EXISTS points_by_channel ON points (channel, ts);
CREATE TABLE IF NOT EXISTS deals (id INTEGER PRIMARY KEY, channel TEXT NOT NULL,
    ticket TEXT NOT NULL, at INTEGER NOT NULL, deal BLOB NOT NULL, UNIQUE (channel, ticket));
CREATE INDEX IF NOT EXISTS deals_by_time ON deals (channel, at);
"""
_positions = msgspec.json.Decoder(tuple[Position, ...])
_orders = msgspec.json.Decoder(tuple[PendingOrder, ...])
_deal = msgspec.json.Decoder(Deal)
ROW_BYTES = 64  # a moment's own columns, about, beside its positions


class HistoryStore:
    def __init__(self, data_dir: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.path = data_dir / "history.db"
        self._data_dir = data_dir
        self._conn: sqlite3.Connection | None = None
        self._committer: GroupCommitter[Op, object] = GroupCommitter(
            "history", self._open, loop, max_batch=10_000
        )

    def _open(self) -> tuple[Callable[[list[Op]], list[object]], Callable[[], None]]:
        try:
            private_dir(self._data_dir)
            private_file(self.path)
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)
            _add_moment_columns(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._conn = conn

        def commit(ops: list[Op]) -> list[object]:
            with transaction(conn, self.path, "history not stored"):
                return [op(conn) for op in ops]

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
        row_rest = (positions, orders, point.mode, point.leverage)

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO points (channel, ts, currency, balance, equity, margin, positions,"
                " orders, mode, leverage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row + row_rest,
            )

        self._committer.put(op, None)
        return ROW_BYTES + len(positions or b"") + len(orders or b"")

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

        def op(conn: sqlite3.Connection) -> int:
            (last,) = conn.execute(
                "SELECT MAX(ts) FROM points WHERE channel=?", (channel,)
            ).fetchone()
            at = arrival_ms if last is None else last
            new = 0
            for ticket, blob in rows:
                new += conn.execute(
                    "INSERT OR IGNORE INTO deals (channel, ticket, at, deal) VALUES (?, ?, ?, ?)",
                    (channel, ticket, at, blob),
                ).rowcount
            conn.execute(
                "DELETE FROM deals WHERE channel=? AND id <= (SELECT id FROM deals"
                " WHERE channel=? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (channel, channel, max_deals),
            )
            return new

        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def settle(result: object) -> None:
            if done.done():
                return
            if isinstance(result, StoreError):
                done.set_exception(result)
            else:
                assert isinstance(result, int)
                done.set_result(result)

        self._committer.put(op, settle)
        return await done

    async def deals(self, channel: str, until_ms: int | None = None) -> list[tuple[int, Deal]]:
        """The channel's deals placed up to ``until_ms``, each with its place, oldest first."""

        def read() -> list[tuple[int, Deal]]:
            assert self._conn is not None
            return read_deals(self._conn, channel, until_ms)

        return await self._committer.call(read)

    def prune(self, channel: str, older_than_ms: int, max_points: int, max_bytes: int) -> None:
        """Delete ``channel``'s moments before ``older_than_ms``, beyond the newest
        ``max_points``, and beyond the newest that take ``max_bytes`` in all."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM points WHERE channel=? AND ts<?", (channel, older_than_ms))
            conn.execute("DELETE FROM deals WHERE channel=? AND at<?", (channel, older_than_ms))
            conn.execute(
                "DELETE FROM points WHERE channel=? AND id <= (SELECT id FROM points"
                " WHERE channel=? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                (channel, channel, max_points),
            )
            over = conn.execute(
                "SELECT id FROM (SELECT id, SUM(? + COALESCE(length(positions), 0))"
                " OVER (ORDER BY id DESC) AS total FROM points WHERE channel=?)"
                " WHERE total > ? ORDER BY id DESC LIMIT 1",
                (ROW_BYTES, channel, max_bytes),
            ).fetchone()
            if over is not None:
                conn.execute("DELETE FROM points WHERE channel=? AND id<=?", (channel, over[0]))

        self._committer.put(op, None)

    async def points(
        self, channel: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> tuple[str, list[Point]]:
        """The channel's currency and its moments in the period, oldest first; the first one
        always carries positions (the last full moment before the period, if it has none)."""

        def read() -> tuple[str, list[Point]]:
            assert self._conn is not None
            return read_points(self._conn, channel, since_ms, until_ms)

        return await self._committer.call(read)


def _add_moment_columns(conn: sqlite3.Connection) -> None:
    """A history.db made before moments kept orders, mode and leverage gets the columns (its
    moments read as a hedging provider at 1:100 that said nothing of pending orders)."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(points)")}
    for column, kind in (("orders", "BLOB"), ("mode", "TEXT"), ("leverage", "INTEGER")):
        if column not in have:
            conn.execute(f"ALTER TABLE points ADD COLUMN {column} {kind}")


def read_points(
    conn: sqlite3.Connection, channel: str, since_ms: int | None, until_ms: int | None
) -> tuple[str, list[Point]]:
    """The channel's currency and its moments in the period, oldest first; the first one
    always carries positions (the last full moment before the period, if it has none)."""
    low, high = since_ms or 0, until_ms if until_ms is not None else 2**62
    start = conn.execute(
        "SELECT id FROM points WHERE channel=? AND ts<=? AND positions IS NOT NULL"
        " ORDER BY ts DESC, id DESC LIMIT 1",
        (channel, low),
    ).fetchone()
    rows = conn.execute(
        "SELECT ts, currency, balance, equity, margin, positions, orders, mode, leverage"
        " FROM points WHERE channel=? AND (ts>=? OR id=?) AND ts<=? ORDER BY ts, id",
        (channel, low, start[0] if start else -1, high),
    ).fetchall()
    while rows and rows[0][5] is None:  # the period starts with what was held
        rows.pop(0)
    currency = rows[-1][1] if rows else ""
    return currency, [
        Point(
            ts,
            balance,
            equity,
            None if held is None else _positions.decode(held),
            margin,
            None if orders is None else _orders.decode(orders),
            "netting" if mode == "netting" else "hedging",
            leverage or 100,
        )
        for ts, _, balance, equity, margin, held, orders, mode, leverage in rows
    ]


def read_deals(
    conn: sqlite3.Connection, channel: str, until_ms: int | None
) -> list[tuple[int, Deal]]:
    """The channel's deals placed up to ``until_ms``, each with its place, oldest first."""
    high = until_ms if until_ms is not None else 2**62
    rows = conn.execute(
        "SELECT at, deal FROM deals WHERE channel=? AND at<=? ORDER BY at, id", (channel, high)
    )
    return [(at, _deal.decode(blob)) for at, blob in rows]
