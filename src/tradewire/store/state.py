"""The hub's state store seam: users, grants, channel states, bans, the audit log and files, in
domain terms (``tests/store/state_conformance.py`` checks an implementation).

Writes are queued and group-committed; each reports on the event loop through ``done`` (the
result, or the error: ``StoreError`` when the commit failed, ``UserError`` when the store refused
it). Reads are coroutines that never block the loop. ``get_user`` alone is synchronous: the
password-check threads call it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from tradewire.clock import Clock, now_ms
from tradewire.model import BanRecord, UserRecord
from tradewire.protocol.messages import FileData, FileInfo, MetaValue
from tradewire.store.audit_burst import RefusalBursts
from tradewire.store.db import StateDB, StoredState
from tradewire.store.files import file_bytes_op, get_file_op, list_files_op, put_file_op
from tradewire.store.writer import BatchWriter

Done = Callable[[object], None]


class StateStore(Protocol):
    # ---- writes (queued, group-committed) ----
    def put_state(self, channel: str, seq: int, ts_ms: int, line: bytes, done: Done) -> None: ...

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        """One audit row; repeated ``refused`` rows are written once per burst
        (store/audit_burst.py)."""
        ...

    def end_bursts(self, everything: bool = False) -> None:
        """Write the counts of refusal bursts that are over (``everything``: all of them)."""
        ...

    def put_ban(self, ban: BanRecord) -> None: ...

    def put_topic_owner(self, topic: str, owner: str) -> None:
        """Who created ``topic`` (kept until it is deleted; the first creator stays)."""
        ...

    def delete_topic(self, subject: str, topic: str, done: Done | None = None) -> None:
        """Forget ``topic``: its kept value (bus ``subject``) and its owner."""
        ...

    def sync_user(
        self, name: str, user: UserRecord | None, origin: str, done: Done | None = None
    ) -> None:
        """Make user ``name`` what hub ``origin`` says (``None``: deleted); ``done`` gets
        whether anything changed. The users' revision moves as for any user change."""
        ...

    def put_file(
        self,
        name: str,
        data: bytes,
        meta: dict[str, MetaValue],
        user: str,
        may_replace_any: bool,
        keep: int,
        done: Done,
        quota_bytes: int | None = None,
    ) -> None:
        """A new version of ``name``; ``done`` gets its :class:`FileInfo` or a ``UserError``
        when ``name`` belongs to another user (unless ``may_replace_any``), or
        ``QuotaExceeded`` when ``user``'s files would take more than ``quota_bytes``."""
        ...

    def prune(
        self, ban_memory_ms: int, audit_max_age_ms: int, audit_max_rows: int, done: Done
    ) -> None:
        """Delete bans expired longer than ``ban_memory_ms`` and audit rows past the limits;
        ``done`` gets ``(bans, audit rows)`` deleted."""
        ...

    # ---- reads ----
    def get_user(self, name: str) -> UserRecord | None: ...

    async def get_users(self, names: Iterable[str]) -> dict[str, UserRecord | None]: ...

    async def users_rev(self) -> int: ...

    async def list_users(self) -> list[UserRecord]: ...

    async def load_states(self) -> list[StoredState]: ...

    async def load_topic_owners(self) -> dict[str, str]: ...

    async def load_bans(self, changed_since_ms: int | None = None) -> list[BanRecord]: ...

    async def get_file(self, name: str, version: int | None = None) -> FileData | None: ...

    async def list_files(self) -> list[FileInfo]: ...

    async def file_bytes(self, user: str) -> int:
        """What ``user``'s files take in all (every version kept)."""
        ...

    async def audit_log(
        self, limit: int, event: str | None = None, user: str | None = None
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        """The newest audit rows (time ms, event, user, address, detail), filtered."""
        ...

    async def audit_page(
        self,
        limit: int,
        *,
        event_prefix: str | None = None,
        user: str | None = None,
        address_prefix: str | None = None,
        before_id: int | None = None,
    ) -> list[tuple[int, int, str, str | None, str | None, str | None]]:
        """A page of the audit log for people: (id, time ms, event, user, address, detail),
        newest first, older than ``before_id``, the event and address starting as given."""
        ...

    # ---- lifecycle ----
    async def flush(self) -> None:
        """Wait until every write queued so far is committed (or failed) and reported."""
        ...

    def close(self) -> None: ...


class SqliteStateStore:
    """``state.db`` in the data directory, through one group committer."""

    def __init__(self, db: StateDB, clock: Clock) -> None:
        """Use :meth:`open` (this must run on the event loop)."""
        self.db = db
        self._clock = clock
        self._writer = BatchWriter(self.db)
        self._bursts = RefusalBursts()  # repeated refusals audited once per burst

    @classmethod
    async def open(cls, data_dir: Path, clock: Clock) -> SqliteStateStore:
        """Open (creating) ``<data_dir>/state.db`` off the loop. Raises ``StoreError``."""
        db = await asyncio.get_running_loop().run_in_executor(None, StateDB, data_dir)
        return cls(db, clock)

    def put_state(self, channel: str, seq: int, ts_ms: int, line: bytes, done: Done) -> None:
        op = StateDB.put_state_op(channel, seq, ts_ms, line, now_ms(self._clock))
        self._writer.submit(op, done)

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        now = self._clock.monotonic()
        if event == "refused":
            rows = self._bursts.refused(user, address, detail or "", now)
        else:
            rows = [*self._bursts.ended(now), (event, user, address, detail or "")]
        stamp = now_ms(self._clock)
        for row_event, row_user, row_address, row_detail in rows:
            op = StateDB.audit_op(stamp, row_event, row_user, row_address, row_detail or None)
            self._writer.submit(op)

    def end_bursts(self, everything: bool = False) -> None:
        """Write the counts of refusal bursts that are over (the upkeep calls it each second;
        ``everything`` at stop)."""
        stamp = now_ms(self._clock)
        for event, user, address, detail in self._bursts.ended(self._clock.monotonic(), everything):
            self._writer.submit(StateDB.audit_op(stamp, event, user, address, detail))

    def put_ban(self, ban: BanRecord) -> None:
        self._writer.submit(StateDB.put_ban_op(ban, now_ms(self._clock)))

    def put_file(
        self,
        name: str,
        data: bytes,
        meta: dict[str, MetaValue],
        user: str,
        may_replace_any: bool,
        keep: int,
        done: Done,
        quota_bytes: int | None = None,
    ) -> None:
        op = put_file_op(
            name, data, meta, user, may_replace_any, now_ms(self._clock), keep, quota_bytes
        )
        self._writer.submit(op, done)

    def prune(
        self, ban_memory_ms: int, audit_max_age_ms: int, audit_max_rows: int, done: Done
    ) -> None:
        op = StateDB.prune_op(now_ms(self._clock), ban_memory_ms, audit_max_age_ms, audit_max_rows)
        self._writer.submit(op, done)

    def get_user(self, name: str) -> UserRecord | None:
        return self.db.get_user(name)

    async def get_users(self, names: Iterable[str]) -> dict[str, UserRecord | None]:
        wanted = list(names)
        return await self._writer.call(lambda: {name: self.db.get_user(name) for name in wanted})

    async def users_rev(self) -> int:
        return await self._writer.call(self.db.users_rev)

    async def list_users(self) -> list[UserRecord]:
        return await self._writer.call(self.db.list_users)

    def sync_user(
        self, name: str, user: UserRecord | None, origin: str, done: Done | None = None
    ) -> None:
        self._writer.submit(StateDB.sync_user_op(name, user, now_ms(self._clock), origin), done)

    async def load_states(self) -> list[StoredState]:
        return await self._writer.call(self.db.load_states)

    async def load_topic_owners(self) -> dict[str, str]:
        return await self._writer.call(self.db.load_topic_owners)

    def put_topic_owner(self, topic: str, owner: str) -> None:
        self._writer.submit(StateDB.put_topic_owner_op(topic, owner))

    def delete_topic(self, subject: str, topic: str, done: Done | None = None) -> None:
        self._writer.submit(StateDB.delete_topic_op(subject, topic), done)

    async def load_bans(self, changed_since_ms: int | None = None) -> list[BanRecord]:
        return await self._writer.call(lambda: self.db.load_bans(changed_since_ms))

    async def get_file(self, name: str, version: int | None = None) -> FileData | None:
        return await self._writer.call(lambda: self.db.run(get_file_op(name, version)))

    async def list_files(self) -> list[FileInfo]:
        return await self._writer.call(lambda: self.db.run(list_files_op))

    async def file_bytes(self, user: str) -> int:
        return await self._writer.call(lambda: self.db.run(file_bytes_op(user)))

    async def audit_log(
        self, limit: int, event: str | None = None, user: str | None = None
    ) -> list[tuple[int, str, str | None, str | None, str | None]]:
        return await self._writer.call(lambda: self.db.audit_log(limit, event, user))

    async def audit_page(
        self,
        limit: int,
        *,
        event_prefix: str | None = None,
        user: str | None = None,
        address_prefix: str | None = None,
        before_id: int | None = None,
    ) -> list[tuple[int, int, str, str | None, str | None, str | None]]:
        return await self._writer.call(
            lambda: self.db.audit_page(
                limit,
                event_prefix=event_prefix,
                user=user,
                address_prefix=address_prefix,
                before_id=before_id,
            )
        )

    async def flush(self) -> None:
        await self._writer.flush()

    def close(self) -> None:
        """Commit what is queued, then close (blocking: call it off the loop)."""
        self.end_bursts(everything=True)
        self._writer.close()
        self.db.close()
