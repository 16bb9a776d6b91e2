"""The hub's upkeep, once per sweep (about a second): connection timers, revocation of changed
users, and every few seconds or hours the ban reload, pruning and listener counters."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Protocol

from tradewire.clock import Clock, now_ms
from tradewire.config import Config

if TYPE_CHECKING:
    from tradewire.hub.auth import Authenticator
    from tradewire.hub.connection import Connection
    from tradewire.hub.services.sessions.service import SessionService
    from tradewire.hub.services.ticks.service import TickService
    from tradewire.hub.services.topics.service import TopicService
    from tradewire.hub.sharing.link import NatsLink
    from tradewire.store.state import StateStore
    from tradewire.store.ticks import TickStore

log = logging.getLogger(__name__)

BAN_RELOAD_S = 5.0  # how soon `tradewire ban lift` reaches a running hub
PRUNE_S = 3600.0  # expired bans and old audit rows are deleted this often
SWEEP_SLICE = 250  # connections whose timers are applied per event-loop iteration


class UpkeepHost(Protocol):
    """What the upkeep needs of the hub (the hub is one; a test may pass another)."""

    @property
    def clock(self) -> Clock: ...
    @property
    def config(self) -> Config: ...
    @property
    def auth(self) -> Authenticator: ...
    @property
    def store(self) -> StateStore: ...
    @property
    def connections(self) -> Collection[Connection]: ...
    @property
    def sessions(self) -> SessionService: ...
    @property
    def ticks(self) -> TickService: ...
    @property
    def topics(self) -> TopicService: ...
    @property
    def nats(self) -> NatsLink | None: ...
    @property
    def open_tick_store(self) -> Callable[[], TickStore]: ...


class Upkeep:
    def __init__(self, hub: UpkeepHost) -> None:
        self._hub = hub
        self._bans_loaded_ms = 0
        self._users_rev = -1

    async def load(self) -> None:
        """At start: every ban, and the users' revision."""
        hub = self._hub
        self._bans_loaded_ms = now_ms(hub.clock)
        hub.auth.bans.load(await hub.store.load_bans())
        self._users_rev = await hub.store.users_rev()
        # The addresses each user logged in from (the audit log's newest 20,000 logins): after
        # a restart the real user still gets past a name under attack (hub/guard.py NameGate).
        for _, _, user, address, _ in await hub.store.audit_log(20_000, event="login"):
            if user is not None and address is not None:
                hub.auth.gate.learn(user, hub.auth.bans.key(address))

    async def run(self) -> None:
        hub, settings = self._hub, self._hub.config.hub
        interval = min(1.0, settings.heartbeat_s / 3, settings.auth_timeout_s / 4)
        next_reload = hub.clock.monotonic() + BAN_RELOAD_S
        next_prune = hub.clock.monotonic()
        while True:
            await asyncio.sleep(interval)
            now = hub.clock.monotonic()
            connections = list(hub.connections)
            # In slices, yielding between them: closing thousands of timed-out connections
            # (a slowloris wave) in one go would stall every other client for that long.
            for start in range(0, len(connections), SWEEP_SLICE):
                for conn in connections[start : start + SWEEP_SLICE]:
                    conn.tick(now)
                await asyncio.sleep(0)
            hub.auth.bans.prune()
            hub.store.end_bursts()
            await self.apply_user_changes()
            if hub.clock.monotonic() >= next_reload:
                next_reload = hub.clock.monotonic() + BAN_RELOAD_S
                await self.reload_bans()
                if hub.ticks.listeners:
                    await asyncio.to_thread(self.save_listener_stats)
            if hub.clock.monotonic() >= next_prune:
                next_prune = hub.clock.monotonic() + PRUNE_S
                self.prune()
                if expired := hub.topics.expire(now_ms(hub.clock)):
                    log.info("deleted %d topics without a value for topics.expire_days", expired)

    async def reload_bans(self) -> None:
        """Read the ban rows changed since the last reload (a lift, another hub's ban): cheap
        however many bans the table holds."""
        hub = self._hub
        since = self._bans_loaded_ms - int(BAN_RELOAD_S * 1000)  # overlap: clocks, commits
        self._bans_loaded_ms = now_ms(hub.clock)
        changed = await hub.store.load_bans(since)
        hub.auth.bans.load(changed)
        if hub.nats is not None:
            hub.nats.bans.shared_lifts(changed)

    def prune(self) -> None:
        hub = self._hub
        ban, audit = hub.config.ban, hub.config.audit

        def pruned(result: object) -> None:
            if isinstance(result, tuple) and any(result):
                log.info("pruned %d expired bans and %d audit rows", *result)

        hub.store.prune(
            int(ban.max_duration_s * 1000),
            int(audit.max_age_days * 86_400_000),
            audit.max_rows,
            pruned,
        )

    async def apply_user_changes(self) -> None:
        """Within a sweep of ``tradewire user del|passwd|disable|revoke…``, live sessions of
        the changed users are closed or get their new grants (revocation)."""
        hub = self._hub
        rev = await hub.store.users_rev()
        if rev == self._users_rev:
            return
        self._users_rev = rev
        if hub.nats is not None:  # a change made here goes to the other hubs
            await hub.nats.users.publish_changes()
        names = {conn.user.name for conn in hub.connections if conn.user is not None}
        users = await hub.store.get_users(names)
        hub.sessions.apply_user_changes(users)

    def save_listener_stats(self) -> None:
        """For `tradewire ticks stats`, which reads the database, not the hub."""
        hub = self._hub
        if not hub.ticks.listeners:
            return
        store = hub.open_tick_store()
        try:
            stamp = now_ms(hub.clock)
            store.put_listener_stats(
                [
                    (c.name, c.received, c.malformed, c.kernel_drops, stamp)
                    for c in hub.ticks.listeners
                ]
            )
        finally:
            store.close()
