"""The paper account's pending orders in SQLite: the table, its log, and the rows' shapes.

Every action on a pending order (placed, modified, cancelled, converted from stop-limit to
limit, triggered, expired, rejected at trigger) is one row of ``pending_log``: what tests count
duplicates and expiries from.
"""

from __future__ import annotations

import sqlite3

import msgspec

from tradewire.model import PendingOrder

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY, symbol TEXT NOT NULL, type TEXT NOT NULL,
    volume REAL NOT NULL, price REAL NOT NULL, time_ms INTEGER NOT NULL, stop_limit REAL NOT NULL,
    sl REAL NOT NULL, tp REAL NOT NULL, expiration INTEGER NOT NULL, magic INTEGER NOT NULL,
    comment TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending_log (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
    order_id TEXT NOT NULL, action TEXT NOT NULL, status TEXT NOT NULL, reason TEXT);
"""
_COLUMNS = (
    "id, symbol, type, volume, price, time_ms, stop_limit, sl, tp, expiration, magic, comment"
)


class PendingLogRecord(msgspec.Struct, frozen=True):
    time_ms: int
    order_id: str
    action: str
    status: str
    reason: str | None


def load(db: sqlite3.Connection) -> list[PendingOrder]:
    rows = db.execute(f"SELECT {_COLUMNS} FROM pending ORDER BY time_ms, CAST(id AS INTEGER)")
    return [PendingOrder(*row) for row in rows]


def save(db: sqlite3.Connection, order: PendingOrder) -> None:
    db.execute(
        f"INSERT OR REPLACE INTO pending ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            order.id, order.symbol, order.type, order.volume, order.price, order.time,
            order.stop_limit, order.sl, order.tp, order.expiration, order.magic, order.comment,
        ),
    )  # fmt: skip


def delete(db: sqlite3.Connection, order_id: str) -> None:
    db.execute("DELETE FROM pending WHERE id = ?", (order_id,))


def log(
    db: sqlite3.Connection,
    stamp: int,
    order_id: str,
    action: str,
    status: str = "done",
    reason: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO pending_log (time_ms, order_id, action, status, reason) VALUES (?,?,?,?,?)",
        (stamp, order_id, action, status, reason),
    )


def history(db: sqlite3.Connection) -> list[PendingLogRecord]:
    rows = db.execute(
        "SELECT time_ms, order_id, action, status, reason FROM pending_log ORDER BY id"
    )
    return [PendingLogRecord(*row) for row in rows]
