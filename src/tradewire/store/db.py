"""The state database: one SQLite file, ``state.db``, under the data directory.

Synchronous by design: the hub runs these methods on worker threads (see
:mod:`tradewire.store.writer`), the admin CLI calls them directly. Each thread gets its own
connection; WAL mode lets the password-check threads read while the writer writes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from tradewire.exceptions import StoreError, UserError
from tradewire.protocol.messages import ROLES

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, hash TEXT NOT NULL, role TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS grants (
    user TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE, channel TEXT NOT NULL,
    PRIMARY KEY (user, channel));
CREATE TABLE IF NOT EXISTS channel_states (
    channel TEXT PRIMARY KEY, seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL,
    frame BLOB NOT NULL, stored_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bans (
    address TEXT PRIMARY KEY, until_ms INTEGER NOT NULL, offenses INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, event TEXT NOT NULL,
    user TEXT, address TEXT, detail TEXT);
CREATE INDEX IF NOT EXISTS audit_ts ON audit(ts_ms);
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL, sha256 TEXT NOT NULL,
    meta TEXT NOT NULL, user TEXT NOT NULL, stored_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version));
"""


@dataclass(frozen=True, slots=True)
class UserRecord:
    name: str
    hash: str
    role: str
    channels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BanRecord:
    address: str
    until_ms: int
    offenses: int


@dataclass(frozen=True, slots=True)
class StoredState:
    channel: str
    seq: int
    frame: bytes


def check_writable(data_dir: Path) -> None:
    """Raise :class:`StoreError` saying so if the hub cannot write in ``data_dir``."""
    if os.access(data_dir, os.W_OK):
        return
    read_only_mount = bool(os.statvfs(data_dir).f_flag & os.ST_RDONLY)
    why = "is on a read-only file system" if read_only_mount else "is not writable by this user"
    raise StoreError(f"data directory {data_dir} {why}; the hub must write there (remount it "
                     "read-write, fix its permissions, or choose another --data)")


class StateDB:
    """Users, grants, channel states, bans and the audit log in ``<data>/state.db``."""

    def __init__(self, data_dir: Path) -> None:
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create data directory {data_dir}: {exc.strerror}") from exc
        check_writable(data_dir)
        self.path = data_dir / "state.db"
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            self._conn().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot initialise {self.path}: {exc}") from exc

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                # NORMAL in WAL mode: a committed transaction survives a crash of the process.
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                conn.execute("PRAGMA busy_timeout=5000")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` in one transaction on this thread's connection."""
        result = self.run_batch([op])[0]
        if isinstance(result, Exception):
            raise result
        return result  # type: ignore[return-value]

    def run_batch(
        self, ops: Iterable[Callable[[sqlite3.Connection], object]]
    ) -> list[object]:
        """Run ``ops`` in one transaction (group commit); one result or exception per op.

        Each op runs under its own savepoint, so one failing op does not undo the others. If
        the commit itself fails, :class:`StoreError` is raised and nothing was stored.
        """
        conn = self._conn()
        results: list[object] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                conn.execute("SAVEPOINT op")
                try:
                    results.append(op(conn))
                except (UserError, StoreError) as exc:
                    conn.execute("ROLLBACK TO op")
                    results.append(exc)
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO op")
                    results.append(StoreError(f"{self.path}: {exc}"))
                conn.execute("RELEASE op")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"{self.path}: {exc}") from exc
        return results

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # ---- users ---------------------------------------------------------------------------

    def add_user(self, name: str, password_hash: str, role: str, channels: Iterable[str],
                 now_ms: int) -> None:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")

        def op(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise UserError(f"user {name!r} already exists (delete it first)")
            conn.execute("INSERT INTO users VALUES (?,?,?,?)", (name, password_hash, role, now_ms))
            conn.executemany("INSERT OR IGNORE INTO grants VALUES (?,?)",
                             [(name, ch) for ch in channels])
            _audit(conn, now_ms, "user_add", name, None, f"role={role}")

        self.run(op)

    def delete_user(self, name: str, now_ms: int) -> None:
        def op(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                raise UserError(f"no user named {name!r}")
            _audit(conn, now_ms, "user_del", name, None, None)

        self.run(op)

    def get_user(self, name: str) -> UserRecord | None:
        conn = self._conn()
        row = conn.execute("SELECT name, hash, role FROM users WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        channels = tuple(ch for (ch,) in conn.execute(
            "SELECT channel FROM grants WHERE user=? ORDER BY channel", (name,)))
        return UserRecord(row[0], row[1], row[2], channels)

    def list_users(self) -> list[UserRecord]:
        names = [n for (n,) in self._conn().execute("SELECT name FROM users ORDER BY name")]
        return [u for u in map(self.get_user, names) if u is not None]

    # ---- channel states --------------------------------------------------------------------

    @staticmethod
    def put_state_op(channel: str, seq: int, ts_ms: int, frame: bytes,
                     now_ms: int) -> Callable[[sqlite3.Connection], None]:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO channel_states VALUES (?,?,?,?,?)",
                         (channel, seq, ts_ms, frame, now_ms))
        return op

    def load_states(self) -> list[StoredState]:
        rows = self._conn().execute("SELECT channel, seq, frame FROM channel_states")
        return [StoredState(ch, seq, bytes(frame)) for ch, seq, frame in rows]

    # ---- bans ------------------------------------------------------------------------------

    @staticmethod
    def put_ban_op(ban: BanRecord, now_ms: int) -> Callable[[sqlite3.Connection], None]:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR REPLACE INTO bans VALUES (?,?,?)",
                         (ban.address, ban.until_ms, ban.offenses))
            _audit(conn, now_ms, "ban", None, ban.address,
                   f"until_ms={ban.until_ms} offenses={ban.offenses}")
        return op

    def load_bans(self) -> list[BanRecord]:
        rows = self._conn().execute("SELECT address, until_ms, offenses FROM bans")
        return [BanRecord(*row) for row in rows]

    def lift_ban(self, address: str, now_ms: int) -> bool:
        """Lift the ban of ``address`` (its offense count is kept). True if one was active."""
        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("UPDATE bans SET until_ms=0 WHERE address=? AND until_ms>?",
                               (address, now_ms))
            _audit(conn, now_ms, "ban_lift", None, address, None)
            return cur.rowcount > 0
        return self.run(op)

    # ---- audit -----------------------------------------------------------------------------

    @staticmethod
    def audit_op(now_ms: int, event: str, user: str | None, address: str | None,
                 detail: str | None) -> Callable[[sqlite3.Connection], None]:
        return lambda conn: _audit(conn, now_ms, event, user, address, detail)

    def audit_log(self, limit: int = 100) -> list[tuple[int, str, str | None, str | None,
                                                       str | None]]:
        rows = self._conn().execute(
            "SELECT ts_ms, event, user, address, detail FROM audit ORDER BY id DESC LIMIT ?",
            (limit,))
        return list(rows)


def _audit(conn: sqlite3.Connection, now_ms: int, event: str, user: str | None,
           address: str | None, detail: str | None) -> None:
    conn.execute("INSERT INTO audit (ts_ms, event, user, address, detail) VALUES (?,?,?,?,?)",
                 (now_ms, event, user, address, detail))
