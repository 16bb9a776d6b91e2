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
from tradewire.model import BanRecord, UserRecord
from tradewire.protocol.messages import ROLES
from tradewire.store.private import private_dir, private_file
from tradewire.store.sqlite import transaction

# Audit events rotated out first when the log is over its row limit (store/db.py prune_op):
# the rest (login_failed, ban, ban_lift, user changes, kick, revocations) is the evidence.
ROUTINE_AUDIT_EVENTS = ("refused", "login", "dashboard_login", "forbidden", "user_sync")

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
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('users_rev', 0);
CREATE TABLE IF NOT EXISTS files (
    name TEXT NOT NULL, version INTEGER NOT NULL, data BLOB NOT NULL, sha256 TEXT NOT NULL,
    meta TEXT NOT NULL, user TEXT NOT NULL, stored_ms INTEGER NOT NULL,
    PRIMARY KEY (name, version));
CREATE INDEX IF NOT EXISTS files_by_user ON files (user);
CREATE TABLE IF NOT EXISTS topic_owners (topic TEXT PRIMARY KEY, owner TEXT NOT NULL);
"""

# Columns added after the first release, applied to older databases at open.
MIGRATIONS = (
    ("users", "disabled", "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0"),
    ("bans", "changed_ms", "ALTER TABLE bans ADD COLUMN changed_ms INTEGER NOT NULL DEFAULT 0"),
)

# Any change to users or grants, by whichever process, bumps users_rev: a running hub polls it
# and re-reads the users of its live sessions (revocation within a second).
_BUMP = "BEGIN UPDATE meta SET value = value + 1 WHERE key = 'users_rev'; END;"
TRIGGERS = "\n".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_{when.lower()} AFTER {when} ON {table} {_BUMP}"
    for table in ("users", "grants")
    for when in ("INSERT", "UPDATE", "DELETE")
)


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
    raise StoreError(
        f"data directory {data_dir} {why}; the hub must write there (remount it "
        "read-write, fix its permissions, or choose another --data)"
    )


class StateDB:
    """Users, grants, channel states, bans and the audit log in ``<data>/state.db``."""

    def __init__(self, data_dir: Path) -> None:
        private_dir(data_dir)
        check_writable(data_dir)
        self.path = data_dir / "state.db"
        private_file(self.path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        try:
            conn = self._conn()
            conn.executescript(SCHEMA)
            for table, column, ddl in MIGRATIONS:
                columns = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    conn.execute(ddl)
            conn.executescript(
                TRIGGERS + "\nCREATE INDEX IF NOT EXISTS bans_changed ON bans(changed_ms);"
            )
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

    def run_batch(self, ops: Iterable[Callable[[sqlite3.Connection], object]]) -> list[object]:
        """Run ``ops`` in one transaction (group commit); one result or exception per op.

        Each op runs under its own savepoint, so one failing op does not undo the others. If
        the commit itself fails, :class:`StoreError` is raised and nothing was stored.
        """
        conn = self._conn()
        results: list[object] = []
        with transaction(conn, self.path):
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
        return results

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()

    # ---- users ---------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        password_hash: str,
        role: str,
        channels: Iterable[str],
        now_ms: int,
        by: str | None = None,
    ) -> None:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")

        def op(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM users WHERE name=?", (name,)).fetchone():
                raise UserError(f"user {name!r} already exists (delete it first)")
            conn.execute(
                "INSERT INTO users (name, hash, role, created_ms) VALUES (?,?,?,?)",
                (name, password_hash, role, now_ms),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO grants VALUES (?,?)", [(name, ch) for ch in channels]
            )
            _audit(
                conn,
                now_ms,
                "user_add",
                name,
                None,
                " ".join(filter(None, [f"role={role}", _by(by)])),
            )

        self.run(op)

    def delete_user(self, name: str, now_ms: int, by: str | None = None) -> None:
        def op(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
                raise UserError(f"no user named {name!r}")
            _audit(conn, now_ms, "user_del", name, None, _by(by) or None)

        self.run(op)

    def change_user(
        self,
        name: str,
        now_ms: int,
        event: str,
        *,
        by: str | None = None,
        password_hash: str | None = None,
        disabled: bool | None = None,
        grant: Iterable[str] = (),
        revoke: Iterable[str] = (),
    ) -> UserRecord:
        """Change one user in one transaction, audited as ``event``; returns the new record.

        Raises :class:`UserError` when there is no such user or nothing would change.
        """
        grant, revoke = tuple(grant), tuple(revoke)

        def op(conn: sqlite3.Connection) -> UserRecord:
            before = _user(conn, name)
            if before is None:
                raise UserError(f"no user named {name!r}")
            if password_hash is not None:
                conn.execute("UPDATE users SET hash=? WHERE name=?", (password_hash, name))
            if disabled is not None:
                conn.execute("UPDATE users SET disabled=? WHERE name=?", (int(disabled), name))
            conn.executemany(
                "INSERT OR IGNORE INTO grants VALUES (?,?)", [(name, ch) for ch in grant]
            )
            conn.executemany(
                "DELETE FROM grants WHERE user=? AND channel=?", [(name, ch) for ch in revoke]
            )
            after = _user(conn, name)
            assert after is not None
            if after == before:
                raise UserError(f"{name}: nothing to change")
            detail = " ".join(
                filter(
                    None,
                    [
                        f"grant={','.join(grant)}" if grant else "",
                        f"revoke={','.join(revoke)}" if revoke else "",
                        _by(by),
                    ],
                )
            )
            _audit(conn, now_ms, event, name, None, detail or None)
            return after

        return self.run(op)

    @staticmethod
    def sync_user_op(
        name: str, user: UserRecord | None, now_ms: int, origin: str
    ) -> Callable[[sqlite3.Connection], bool]:
        """Make ``name`` what another hub says it is (``None``: deleted); audited as
        ``user_sync``. True when something changed."""

        def op(conn: sqlite3.Connection) -> bool:
            if _user(conn, name) == user:
                return False
            if user is None:
                conn.execute("DELETE FROM users WHERE name=?", (name,))
            else:
                conn.execute(
                    "INSERT INTO users (name, hash, role, created_ms, disabled) VALUES "
                    "(?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET hash=excluded.hash, "
                    "role=excluded.role, disabled=excluded.disabled",
                    (name, user.hash, user.role, now_ms, int(user.disabled)),
                )
                conn.execute("DELETE FROM grants WHERE user=?", (name,))
                conn.executemany(
                    "INSERT INTO grants VALUES (?,?)", [(name, ch) for ch in user.channels]
                )
            what = "deleted" if user is None else "changed"
            _audit(conn, now_ms, "user_sync", name, None, f"{what} by hub {origin}")
            return True

        return op

    def get_user(self, name: str) -> UserRecord | None:
        return _user(self._conn(), name)

    def list_users(self) -> list[UserRecord]:
        names = [n for (n,) in self._conn().execute("SELECT name FROM users ORDER BY name")]
        return [u for u in map(self.get_user, names) if u is not None]

    def users_rev(self) -> int:
        """A number that changes whenever any user or grant does."""
        row = self._conn().execute("SELECT value FROM meta WHERE key='users_rev'").fetchone()
        return int(row[0]) if row else 0

    # ---- channel states --------------------------------------------------------------------

    @staticmethod
    def put_state_op(
        channel: str, seq: int, ts_ms: int, frame: bytes, now_ms: int
    ) -> Callable[[sqlite3.Connection], None]:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO channel_states VALUES (?,?,?,?,?)",
                (channel, seq, ts_ms, frame, now_ms),
            )

        return op

    @staticmethod
    def put_topic_owner_op(topic: str, owner: str) -> Callable[[sqlite3.Connection], None]:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT OR IGNORE INTO topic_owners VALUES (?,?)", (topic, owner))

        return op

    @staticmethod
    def delete_topic_op(subject: str, topic: str) -> Callable[[sqlite3.Connection], None]:
        """The topic's kept value (its bus subject's row) and its owner, in one transaction."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM channel_states WHERE channel=?", (subject,))
            conn.execute("DELETE FROM topic_owners WHERE topic=?", (topic,))

        return op

    def load_topic_owners(self) -> dict[str, str]:
        rows = self._conn().execute("SELECT topic, owner FROM topic_owners")
        return {topic: owner for topic, owner in rows}

    def load_states(self) -> list[StoredState]:
        rows = self._conn().execute("SELECT channel, seq, frame FROM channel_states")
        return [StoredState(ch, seq, bytes(frame)) for ch, seq, frame in rows]

    # ---- bans ------------------------------------------------------------------------------

    @staticmethod
    def put_ban_op(ban: BanRecord, now_ms: int) -> Callable[[sqlite3.Connection], None]:
        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO bans VALUES (?,?,?,?)",
                (ban.address, ban.until_ms, ban.offenses, now_ms),
            )
            _audit(
                conn,
                now_ms,
                "ban",
                None,
                ban.address,
                f"until_ms={ban.until_ms} offenses={ban.offenses}",
            )

        return op

    def load_bans(self, changed_since_ms: int | None = None) -> list[BanRecord]:
        """Every ban row, or (for a running hub's reload) those changed since a time."""
        if changed_since_ms is None:
            rows = self._conn().execute("SELECT address, until_ms, offenses FROM bans")
        else:
            rows = self._conn().execute(
                "SELECT address, until_ms, offenses FROM bans WHERE changed_ms >= ?",
                (changed_since_ms,),
            )
        return [BanRecord(*row) for row in rows]

    def lift_ban(self, address: str, now_ms: int, by: str | None = None) -> bool:
        """Lift the ban of ``address`` (its offense count is kept). True if one was active;
        nothing is written (or audited) otherwise."""

        def op(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE bans SET until_ms=0, changed_ms=? WHERE address=? AND until_ms>?",
                (now_ms, address, now_ms),
            )
            if cur.rowcount == 0:
                return False
            _audit(conn, now_ms, "ban_lift", None, address, _by(by))
            return True

        return self.run(op)

    @staticmethod
    def prune_op(
        now_ms: int, ban_memory_ms: int, audit_max_age_ms: int, audit_max_rows: int
    ) -> Callable[[sqlite3.Connection], tuple[int, int]]:
        """Delete bans expired longer than ``ban_memory_ms`` ago (their offense count no
        longer doubles anything) and audit rows past the age or count limit."""

        def op(conn: sqlite3.Connection) -> tuple[int, int]:
            bans = conn.execute(
                "DELETE FROM bans WHERE max(until_ms, changed_ms) < ?", (now_ms - ban_memory_ms,)
            ).rowcount
            audit = conn.execute(
                "DELETE FROM audit WHERE ts_ms < ?", (now_ms - audit_max_age_ms,)
            ).rowcount
            # Over the row limit, routine rows go first: the evidence (failed logins, bans,
            # user changes, kicks) is rotated out only once no routine row is left to delete.
            (count,) = conn.execute("SELECT count(*) FROM audit").fetchone()
            excess = count - audit_max_rows
            if excess > 0:
                marks = ",".join("?" * len(ROUTINE_AUDIT_EVENTS))
                audit += conn.execute(
                    f"DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE event IN "
                    f"({marks}) ORDER BY id LIMIT ?)",
                    (*ROUTINE_AUDIT_EVENTS, excess),
                ).rowcount
                excess = count - audit - audit_max_rows
            if excess > 0:
                audit += conn.execute(
                    "DELETE FROM audit WHERE id IN (SELECT id FROM audit ORDER BY id LIMIT ?)",
                    (excess,),
                ).rowcount
            return bans, audit

        return op

    # ---- audit -----------------------------------------------------------------------------

    @staticmethod
    def audit_op(
        now_ms: int, event: str, user: str | None, address: str | None, detail: str | None
    ) -> Callable[[sqlite3.Connection], None]:
        return lambda conn: _audit(conn, now_ms, event, user, address, detail)

    def audit_log(
        self, limit: int = 100, event: str | None = None, user: str | None = None
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """The newest audit rows first, of one ``event`` and/or ``user`` when given."""
        where, args = [], []
        for column, value in (("event", event), ("user", user)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT ts_ms, event, user, address, detail FROM audit"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._conn().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit))
        return list(rows)

    def audit_page(
        self,
        limit: int,
        *,
        event_prefix: str | None = None,
        user: str | None = None,
        address_prefix: str | None = None,
        before_id: int | None = None,
    ) -> list[tuple[int, int, str, str | None, str | None, str | None]]:
        """A page of the audit log, newest first: (id, time ms, event, user, address, detail)
        of the rows older than ``before_id`` whose event and address start as given."""
        where, args = [], []
        for column, prefix in (("event", event_prefix), ("address", address_prefix)):
            if prefix:
                where.append(f"substr({column}, 1, ?) = ?")
                args += [len(prefix), prefix]
        if user is not None:
            where.append("user = ?")
            args.append(user)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        sql = "SELECT id, ts_ms, event, user, address, detail FROM audit"
        sql += f" WHERE {' AND '.join(where)}" if where else ""
        return list(self._conn().execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)))


def _user(conn: sqlite3.Connection, name: str) -> UserRecord | None:
    row = conn.execute(
        "SELECT name, hash, role, disabled FROM users WHERE name=?", (name,)
    ).fetchone()
    if row is None:
        return None
    channels = tuple(
        ch
        for (ch,) in conn.execute(
            "SELECT channel FROM grants WHERE user=? ORDER BY channel", (name,)
        )
    )
    return UserRecord(row[0], row[1], row[2], channels, bool(row[3]))


def _by(actor: str | None) -> str:
    return f"by={actor}" if actor else ""


def _audit(
    conn: sqlite3.Connection,
    now_ms: int,
    event: str,
    user: str | None,
    address: str | None,
    detail: str | None,
) -> None:
    conn.execute(
        "INSERT INTO audit (ts_ms, event, user, address, detail) VALUES (?,?,?,?,?)",
        (now_ms, event, user, address, detail),
    )
