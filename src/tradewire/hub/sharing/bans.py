"""Bans shared by every hub on NATS (docs/scaling.md).

* Each failed login is told to the other hubs (a bus event), which count it as if it had
  failed there: failures from one address spread over several hubs add up, and the one that
  reaches ``ban.max_failures`` bans the address on every hub at once.
* Each ban made here, and each ``tradewire ban lift`` this hub reads from its database, is kept
  on the bus as the subject ``ban:SOURCE`` (its latest value): a hub started later knows every
  ban, and a lift made through any hub's data directory reaches them all within seconds.
"""

from __future__ import annotations

import logging

import msgspec

from tradewire.bus.base import Bus, Message
from tradewire.hub.auth import Authenticator
from tradewire.hub.events import Banned, HubEvents, LoginFailed
from tradewire.hub.sharing.follow import follow_subjects
from tradewire.model import BanRecord
from tradewire.store.state import StateStore

log = logging.getLogger(__name__)

PREFIX = "ban:"  # bus subjects; ":" never appears in a channel name
FAILED = "login_failed"  # bus events


class _Ban(msgspec.Struct, frozen=True):
    address: str
    until_ms: int
    offenses: int


def encode_ban(ban: BanRecord) -> bytes:
    return msgspec.json.encode(_Ban(ban.address, ban.until_ms, ban.offenses)) + b"\n"


def decode_ban(line: bytes) -> BanRecord:
    ban = msgspec.json.decode(line, type=_Ban)
    return BanRecord(ban.address, ban.until_ms, ban.offenses)


class SharedBans:
    def __init__(self, bus: Bus, auth: Authenticator, store: StateStore, events: HubEvents) -> None:
        self._bus, self._auth, self._store = bus, auth, store
        bus.on_event(FAILED, self._failed_elsewhere)
        follow_subjects(events, bus, PREFIX, self)
        events.subscribe(LoginFailed, self._failed_here)
        events.subscribe(Banned, lambda banned: self.share(banned.ban))

    def _failed_here(self, failed: LoginFailed) -> None:
        self._bus.broadcast(FAILED, failed.address.encode())

    def _failed_elsewhere(self, payload: bytes) -> None:
        self._auth.count_failure_elsewhere(payload.decode(errors="replace"))

    def share(self, ban: BanRecord) -> None:
        """Keep ``ban`` (made or lifted here) on the bus for every hub."""
        subject = PREFIX + ban.address
        latest = self._bus.subscribe(subject, self)  # later changes by other hubs too
        if latest is not None and latest.value == ban:
            return  # the bus has it: this is its echo in our database

        def stamped(_seq: int) -> tuple[BanRecord, bytes]:
            return ban, encode_ban(ban)

        self._bus.publish(subject, stamped, _shared)

    def shared_lifts(self, bans: list[BanRecord]) -> None:
        """Bans just read from the database: the lifted ones go to every hub."""
        for ban in bans:
            if ban.until_ms == 0:
                self.share(ban)

    def deliver(self, message: Message) -> None:
        """A ban or lift from the bus: into the ban book, and this hub's database (so that
        ``tradewire ban list|lift`` on its data directory see it)."""
        ban: BanRecord = message.value
        for taken in self._auth.bans.load([ban]):
            self._store.put_ban(taken)


def _shared(result: Message | Exception) -> None:
    if isinstance(result, Exception):
        log.warning("ban not shared with the other hubs: %s", result)
