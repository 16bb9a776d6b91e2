"""Users and grants shared by every hub on NATS (docs/scaling.md).

The bus keeps ``user:NAME`` = the user's record (password hash, role, grants, disabled) or
``null`` once deleted. A change made with ``tradewire user …`` on any hub's data directory is
published by that hub when it notices it (its users' revision moved, within a second); every
other hub writes it into its own ``state.db`` (audited as ``user_sync``), which moves its
revision too, so the sessions of a revoked, disabled or deleted user are cut off on every hub
just as on one. A hub that joins takes the users on the bus, then publishes those only it has.

The bus carries password hashes (argon2id): NATS must be reachable only by the hubs
(``tls://`` with credentials off one machine).
"""

from __future__ import annotations

import logging
from collections import Counter

import msgspec

from tradewire.bus.base import Bus, Message
from tradewire.hub.events import HubEvents
from tradewire.hub.sharing.follow import follow_subjects, release
from tradewire.model import UserRecord
from tradewire.store.state import StateStore

log = logging.getLogger(__name__)

PREFIX = "user:"  # bus subjects; ":" never appears in a channel name


class _User(msgspec.Struct, frozen=True):
    hash: str
    role: str
    channels: list[str]
    disabled: bool


class _Synced(msgspec.Struct, frozen=True):
    by: str  # the hub whose data directory it was changed on
    user: _User | None  # None: deleted


Synced = tuple[UserRecord | None, str]  # a bus message's value: the record, and by which hub


def encode_user(user: UserRecord | None, by: str) -> bytes:
    body = None if user is None else _User(user.hash, user.role, list(user.channels), user.disabled)
    return msgspec.json.encode(_Synced(by, body)) + b"\n"


def decode_user(subject: str, line: bytes) -> Synced:
    synced = msgspec.json.decode(line, type=_Synced)
    body, name = synced.user, subject[len(PREFIX) :]
    if body is None:
        return None, synced.by
    return UserRecord(name, body.hash, body.role, tuple(body.channels), body.disabled), synced.by


class SharedUsers:
    def __init__(self, bus: Bus, store: StateStore, events: HubEvents) -> None:
        self._bus, self._store = bus, store
        self._known: dict[str, UserRecord | None] = {}  # as last synced (either way)
        self._applying: Counter[str] = Counter()  # names whose bus value is being written here
        follow_subjects(events, bus, PREFIX, self)

    def deliver(self, message: Message) -> None:
        """Another hub's (or our own, echoed) user record: into this hub's database."""
        name = message.subject[len(PREFIX) :]
        user, by = message.value
        if name in self._known and self._known[name] == user:
            return
        self._known[name] = user
        self._applying[name] += 1

        def written(result: object) -> None:
            release(self._applying, name)
            if isinstance(result, Exception):
                log.error("user %s from another hub not stored: %s", name, result)

        self._store.sync_user(name, user, by, written)

    async def publish_changes(self) -> None:
        """Publish every user this hub's database has changed since the last sync (at start:
        the users the bus does not have)."""
        await self._store.flush()  # what other hubs sent is written before comparing
        local = {user.name: user for user in await self._store.list_users()}
        for name in sorted(set(local) | set(self._known)):
            if name in self._applying:
                continue  # another hub's value is being written: compare next time
            mine = local.get(name)
            if name in self._known and self._known[name] == mine:
                continue
            if name not in self._known and mine is None:
                continue
            self._known[name] = mine
            self._publish(name, mine)

    def _publish(self, name: str, user: UserRecord | None) -> None:
        subject = PREFIX + name
        self._bus.subscribe(subject, self)  # later changes by other hubs too

        def stamped(_seq: int) -> tuple[Synced, bytes]:
            return (user, self._bus.name), encode_user(user, self._bus.name)

        def done(result: Message | Exception) -> None:
            if isinstance(result, Exception):
                log.warning("user %s not shared with the other hubs: %s", name, result)
            else:
                log.info("user %s shared with the other hubs", name)

        self._bus.publish(subject, stamped, done)
