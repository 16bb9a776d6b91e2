"""Files distributed through the hub (templates, presets, reports): versions in ``state.db``.

The first user to store a name owns it; other users (admins excepted) are refused, so one
provider cannot replace another's template. ``keep`` versions are kept per name.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable

import msgspec

from tradewire.exceptions import QuotaExceeded, UserError
from tradewire.protocol.messages import FileData, FileInfo, MetaValue

_meta_decoder = msgspec.json.Decoder(dict[str, MetaValue])


def put_file_op(
    name: str,
    data: bytes,
    meta: dict[str, MetaValue],
    user: str,
    is_admin: bool,
    now_ms: int,
    keep: int,
    quota_bytes: int | None = None,
) -> Callable[[sqlite3.Connection], FileInfo]:
    """Store a new version of ``name``. ``quota_bytes``: what all of ``user``'s stored
    versions may take together after this one (None: no limit); checked in the same
    transaction as the write, so concurrent puts cannot pass it together."""
    digest = hashlib.sha256(data).hexdigest()
    meta_json = msgspec.json.encode(meta).decode()

    def op(conn: sqlite3.Connection) -> FileInfo:
        row = conn.execute(
            "SELECT version, user FROM files WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
        if row is not None and row[1] != user and not is_admin:
            raise UserError(f"file {name!r} belongs to {row[1]!r}")
        version = (row[0] if row else 0) + 1
        if quota_bytes is not None:
            _within_quota(conn, user, name, version - keep, len(data), quota_bytes)
        conn.execute(
            "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, version, data, digest, meta_json, user, now_ms),
        )
        conn.execute("DELETE FROM files WHERE name = ? AND version <= ?", (name, version - keep))
        return FileInfo(name, version, len(data), digest, now_ms, user, meta)

    return op


def _within_quota(
    conn: sqlite3.Connection, user: str, name: str, dropped_to: int, adding: int, quota: int
) -> None:
    (stored,) = conn.execute(
        "SELECT COALESCE(SUM(length(data)), 0) FROM files WHERE user = ?", (user,)
    ).fetchone()
    (freed,) = conn.execute(  # the versions this one pushes out
        "SELECT COALESCE(SUM(length(data)), 0) FROM files WHERE name = ? AND version <= ? "
        "AND user = ?",
        (name, dropped_to, user),
    ).fetchone()
    after = stored - freed + adding
    if after > quota:
        raise QuotaExceeded(
            f"{user}'s files take {stored} bytes; this one would make {after}, over the "
            f"{quota} bytes one user may store (files.max_bytes_per_user); an admin can raise "
            "it or remove files"
        )


def get_file_op(
    name: str, version: int | None = None
) -> Callable[[sqlite3.Connection], FileData | None]:
    def op(conn: sqlite3.Connection) -> FileData | None:
        if version is None:
            row = conn.execute(
                "SELECT version, data, sha256, meta, stored_ms FROM files "
                "WHERE name = ? ORDER BY version DESC LIMIT 1",
                (name,),
            ).fetchone()
        else:
            row = conn.execute(
                "SELECT version, data, sha256, meta, stored_ms FROM files "
                "WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        if row is None:
            return None
        return FileData(
            name=name,
            version=row[0],
            data=bytes(row[1]),
            sha256=row[2],
            ts=row[4],
            meta=_meta_decoder.decode(row[3]),
        )

    return op


def list_files_op(conn: sqlite3.Connection) -> list[FileInfo]:
    rows = conn.execute(
        "SELECT name, version, length(data), sha256, stored_ms, user, meta FROM files f "
        "WHERE version = (SELECT MAX(version) FROM files g WHERE g.name = f.name) "
        "ORDER BY name"
    ).fetchall()
    return [FileInfo(r[0], r[1], r[2], r[3], r[4], r[5], _meta_decoder.decode(r[6])) for r in rows]


def file_bytes_op(user: str) -> Callable[[sqlite3.Connection], int]:
    """What ``user``'s files take, every version kept (what files.max_bytes_per_user caps)."""

    def op(conn: sqlite3.Connection) -> int:
        row = conn.execute(
            "SELECT COALESCE(SUM(length(data)), 0) FROM files WHERE user = ?", (user,)
        ).fetchone()
        return int(row[0])

    return op
