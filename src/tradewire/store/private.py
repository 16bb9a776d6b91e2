"""The data directory is private: created ``0700``, its databases ``0600`` (they hold argon2
hashes and account states), and one hub at a time (a lock file).

SQLite creates a database's ``-wal`` and ``-shm`` files with the database file's own mode, so
creating the database file ``0600`` before SQLite opens it is enough.
"""

from __future__ import annotations

import fcntl
import os
import stat
from pathlib import Path

from tradewire.exceptions import StoreError

DIR_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = "hub.lock"


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) with mode 0700; an existing one is left as is."""
    try:
        path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    except OSError as exc:
        raise StoreError(f"cannot create data directory {path}: {exc.strerror}") from exc


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 unless it exists (SQLite fills it later)."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, FILE_MODE)
    except OSError as exc:
        raise StoreError(f"cannot create {path}: {exc.strerror}") from exc
    os.close(fd)


def loose_modes(data_dir: Path) -> list[str]:
    """What in ``data_dir`` other local users may read: one line each, for a start warning."""
    found: list[str] = []
    for path in [data_dir, *sorted(data_dir.glob("*.db*"))]:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            continue
        if mode & 0o077:
            wanted = DIR_MODE if path.is_dir() else FILE_MODE
            found.append(
                f"{path} is mode {mode:o}, readable by other local users: chmod {wanted:o} {path}"
            )
    return found


class DataLock:
    """An exclusive lock on ``<data>/hub.lock``, held while a hub runs on that directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StoreError(
                f"another hub (pid {holder}) is running on {self.path.parent}; "
                "stop it, or give this one its own --data"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the lock
            self._fd = None
