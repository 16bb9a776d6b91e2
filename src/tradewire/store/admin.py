"""The administrator's seam onto a hub's records: what ``tradewire user …`` and ``tradewire
ban …`` do to a data directory, whether or not a hub runs on it (a running hub sees user changes
through the users' revision within a second, and ban lifts within 5 s).

The CLI depends on :class:`AdminStore` only and opens one with :func:`open_admin_store`;
``tests/store/test_admin_store.py`` holds the rules every implementation keeps. Unlike the
hub's :class:`~tradewire.store.state.StateStore` it is synchronous: a command does one thing
and exits. Every change is one transaction, audited with who made it (``by``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from tradewire.model import BanRecord, UserRecord
from tradewire.store.db import StateDB


class AdminStore(Protocol):
    def add_user(
        self,
        name: str,
        password_hash: str,
        role: str,
        channels: Iterable[str],
        now_ms: int,
        by: str | None = None,
    ) -> None:
        """A new user; ``UserError`` when the name is taken or the role unknown."""
        ...

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
        """Change one user, audited as ``event``; returns the new record (``UserError``: no
        such user)."""
        ...

    def delete_user(self, name: str, now_ms: int, by: str | None = None) -> None: ...

    def get_user(self, name: str) -> UserRecord | None: ...

    def list_users(self) -> list[UserRecord]:
        """Every user, by name."""
        ...

    def load_bans(self, changed_since_ms: int | None = None) -> list[BanRecord]: ...

    def lift_ban(self, address: str, now_ms: int, by: str | None = None) -> bool:
        """True when ``address`` had an active ban (its offense count is kept)."""
        ...

    def close(self) -> None: ...


def open_admin_store(data_dir: Path) -> AdminStore:
    """The records of the hub whose data directory is ``data_dir`` (``state.db``, created if
    missing). Raises ``StoreError`` when it cannot be opened."""
    return StateDB(data_dir)
