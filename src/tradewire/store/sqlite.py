"""What both SQLite stores share: one immediate transaction, rolled back and reported as a
:class:`StoreError` naming the file when SQLite fails."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tradewire.exceptions import StoreError


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path, failed: str = "") -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; on an SQLite error, roll back and raise StoreError
    (``failed`` says what was not done, e.g. "ticks not stored")."""
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        what = f"{failed}: " if failed else ""
        raise StoreError(f"{path}: {what}{exc}") from exc
