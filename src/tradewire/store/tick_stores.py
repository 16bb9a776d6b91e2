"""Which tick store: SQLite under the data directory (the embedded default), or PostgreSQL when a
URL is given (``[ticks] postgres`` for the hub, ``--postgres`` for the ``ticks`` commands)."""

from __future__ import annotations

from pathlib import Path

from tradewire.store.ticks import SqliteTickStore, TickStore


def open_tick_store(data_dir: Path, postgres: str = "", readonly: bool = False) -> TickStore:
    """A tick store for this thread; raises :class:`StoreError` when it cannot be opened."""
    if not postgres:
        return SqliteTickStore(data_dir, readonly=readonly)
    from tradewire.store.ticks_pg import PostgresTickStore  # psycopg: the [scale] extra

    return PostgresTickStore(postgres, readonly=readonly)
