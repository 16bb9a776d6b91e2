"""The history's SQL, once for both of its databases (store/history.py): SQLite's
``history.db`` by default, PostgreSQL when ``[ticks] postgres`` is set (several hubs share it).

Statements are written with ``?`` parameters and ``{points}``/``{deals}`` tables; a
:class:`Dialect` turns them into its database's form. Reads take any DB-API connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import msgspec

from tradewire.model import Deal, PendingOrder, Position
from tradewire.stats.trades import Point

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS points (id INTEGER PRIMARY KEY, channel TEXT NOT NULL,
    ts INTEGER NOT NULL, currency TEXT NOT NULL, balance REAL NOT NULL, equity REAL NOT NULL,
    margin REAL NOT NULL, positions BLOB, orders BLOB, mode TEXT, leverage INTEGER);
CREATE INDEX IF NOT EXISTS points_by_channel ON points (channel, ts);
CREATE TABLE IF NOT EXISTS deals (id INTEGER PRIMARY KEY, channel TEXT NOT NULL,
    ticket TEXT NOT NULL, at INTEGER NOT NULL, deal BLOB NOT NULL, UNIQUE (channel, ticket));
CREATE INDEX IF NOT EXISTS deals_by_time ON deals (channel, at);
"""
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS history_points (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL, ts BIGINT NOT NULL, currency TEXT NOT NULL,
    balance DOUBLE PRECISION NOT NULL, equity DOUBLE PRECISION NOT NULL,
    margin DOUBLE PRECISION NOT NULL, positions BYTEA, orders BYTEA, mode TEXT, leverage INTEGER);
CREATE INDEX IF NOT EXISTS history_points_by_channel ON history_points (channel, ts);
CREATE TABLE IF NOT EXISTS history_deals (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL, ticket TEXT NOT NULL, at BIGINT NOT NULL, deal BYTEA NOT NULL,
    UNIQUE (channel, ticket));
CREATE INDEX IF NOT EXISTS history_deals_by_time ON history_deals (channel, at);
"""
ROW_BYTES = 64  # a moment's own columns, about, beside its positions and orders
_positions = msgspec.json.Decoder(tuple[Position, ...])
_orders = msgspec.json.Decoder(tuple[PendingOrder, ...])
_deal = msgspec.json.Decoder(Deal)


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Any: ...


class Connection(Protocol):
    def execute(self, sql: Any, params: Any = ..., /) -> Any: ...


@dataclass(frozen=True)
class Dialect:
    points: str
    deals: str
    placeholder: str

    def q(self, sql: str) -> str:
        return sql.format(points=self.points, deals=self.deals).replace("?", self.placeholder)


SQLITE = Dialect("points", "deals", "?")
POSTGRES = Dialect("history_points", "history_deals", "%s")

INSERT_POINT = (
    "INSERT INTO {points} (channel, ts, currency, balance, equity, margin, positions, orders,"
    " mode, leverage) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_DEAL = (
    "INSERT INTO {deals} (channel, ticket, at, deal) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (channel, ticket) DO NOTHING"
)
NEWEST_MOMENT = "SELECT MAX(ts) FROM {points} WHERE channel=?"
KEEP_NEWEST_DEALS = (
    "DELETE FROM {deals} WHERE channel=? AND id <= (SELECT id FROM {deals}"
    " WHERE channel=? ORDER BY id DESC LIMIT 1 OFFSET ?)"
)
PRUNE_OLD = (
    "DELETE FROM {points} WHERE channel=? AND ts<?",
    "DELETE FROM {deals} WHERE channel=? AND at<?",
)
KEEP_NEWEST_POINTS = (
    "DELETE FROM {points} WHERE channel=? AND id <= (SELECT id FROM {points}"
    " WHERE channel=? ORDER BY id DESC LIMIT 1 OFFSET ?)"
)
OVER_BYTES = (
    "SELECT id FROM (SELECT id, SUM(? + COALESCE(length(positions), 0)"
    " + COALESCE(length(orders), 0)) OVER (ORDER BY id DESC) AS total FROM {points}"
    " WHERE channel=?) AS sized WHERE total > ? ORDER BY id DESC LIMIT 1"
)
DELETE_UP_TO = "DELETE FROM {points} WHERE channel=? AND id<=?"


def prune(conn: Connection, d: Dialect, channel: str, older_than_ms: int, max_points: int,
          max_bytes: int) -> None:  # fmt: skip
    """Delete ``channel``'s moments and deals before ``older_than_ms``, its moments beyond the
    newest ``max_points``, and beyond the newest that take ``max_bytes`` in all."""
    for sql in PRUNE_OLD:
        conn.execute(d.q(sql), (channel, older_than_ms))
    conn.execute(d.q(KEEP_NEWEST_POINTS), (channel, channel, max_points))
    over = conn.execute(d.q(OVER_BYTES), (ROW_BYTES, channel, max_bytes)).fetchone()
    if over is not None:
        conn.execute(d.q(DELETE_UP_TO), (channel, over[0]))


def put_deals(conn: Connection, d: Dialect, channel: str, rows: list[tuple[str, bytes]],
              arrival_ms: int, max_deals: int) -> int:  # fmt: skip
    """Keep each deal once, beside the channel's newest moment; returns how many were new."""
    (last,) = conn.execute(d.q(NEWEST_MOMENT), (channel,)).fetchone()
    at = arrival_ms if last is None else last
    new = 0
    for ticket, blob in rows:
        new += conn.execute(d.q(INSERT_DEAL), (channel, ticket, at, blob)).rowcount
    conn.execute(d.q(KEEP_NEWEST_DEALS), (channel, channel, max_deals))
    return new


def read_points(
    conn: Connection, channel: str, since_ms: int | None, until_ms: int | None, d: Dialect = SQLITE
) -> tuple[str, list[Point]]:
    """The channel's currency and its moments in the period, oldest first; the first one
    always carries positions (the last full moment before the period, if it has none)."""
    low, high = since_ms or 0, until_ms if until_ms is not None else 2**62
    start = conn.execute(
        d.q(
            "SELECT id FROM {points} WHERE channel=? AND ts<=? AND positions IS NOT NULL"
            " ORDER BY ts DESC, id DESC LIMIT 1"
        ),
        (channel, low),
    ).fetchone()
    rows = conn.execute(
        d.q(
            "SELECT ts, currency, balance, equity, margin, positions, orders, mode, leverage"
            " FROM {points} WHERE channel=? AND (ts>=? OR id=?) AND ts<=? ORDER BY ts, id"
        ),
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
    conn: Connection, channel: str, until_ms: int | None, d: Dialect = SQLITE
) -> list[tuple[int, Deal]]:
    """The channel's deals placed up to ``until_ms``, each with its place, oldest first."""
    high = until_ms if until_ms is not None else 2**62
    rows = conn.execute(
        d.q("SELECT at, deal FROM {deals} WHERE channel=? AND at<=? ORDER BY at, id"),
        (channel, high),
    )
    return [(at, _deal.decode(blob)) for at, blob in rows]
