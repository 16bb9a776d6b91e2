"""``tradewire follow --accounts FILE --leases nats://HOST:PORT``: an engine that copies the
accounts whose lease it holds (clients/leases.py; docs/engine.md, "Several machines").

It opens an account when it takes the lease (the account's lock first, as one engine holds
every lock at start), adds its followers to the running engine from the newest state of their
channels, and closes it when the lease is lost, fenced or given back.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tradewire.broker_schemes import OpenBroker, open_broker
from tradewire.cli.engine_accounts import make_followers
from tradewire.clients.account_lock import AccountLock
from tradewire.clients.accounts import AccountSpec
from tradewire.clients.engine import CopyEngine
from tradewire.clients.follower import Follower
from tradewire.clients.leases import LeaseBucket, LeaseKeeper, parse_leases
from tradewire.exceptions import BrokerError, ConfigError

log = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]  # a journal's (clients/alerts.py)


@dataclass
class Opened:
    lock: AccountLock
    broker: OpenBroker
    followers: dict[str, Follower]


class LeasedAccounts:
    """Opens and closes the accounts of ``accounts`` as their leases come and go."""

    def __init__(
        self,
        engine: CopyEngine,
        accounts: list[AccountSpec],
        listener: Callable[[str], Listener] | None = None,
    ) -> None:
        self.engine, self.accounts = engine, accounts
        self._listener = listener
        self._opened: dict[str, Opened] = {}
        self.keeper: LeaseKeeper | None = None
        self._bucket: LeaseBucket | None = None

    async def connect(self, url: str) -> None:
        server, bucket = parse_leases(url)
        self._bucket = await LeaseBucket.connect(server, bucket)
        names = list(dict.fromkeys(spec.account_name for spec in self.accounts))
        self.keeper = LeaseKeeper(self._bucket, names, self.start, self.stop)
        log.info("engine %s shares %d accounts through %s", self._bucket.engine_id, len(names),
                 bucket)  # fmt: skip

    async def run(self) -> None:
        assert self.keeper is not None, "connect() first"
        await self.keeper.run()

    async def start(self, name: str) -> bool:
        specs = [spec for spec in self.accounts if spec.account_name == name]
        lock = AccountLock(specs[0].broker, f"the copy engine's account {name}")
        try:
            lock.__enter__()
        except ConfigError as exc:  # the engine that held it has not let go yet
            log.warning("account %s: %s", name, exc)
            return False
        try:
            broker = await open_broker(specs[0].broker)
        except BrokerError as exc:
            lock.__exit__(None, None, None)
            log.error("account %s cannot be opened: %s", name, exc)
            return False
        followers = await make_followers(specs, {name: broker})
        self._opened[name] = Opened(lock, broker, followers)
        for follower_name, follower in followers.items():
            if self._listener is not None:
                follower.journal.listener = self._listener(follower_name)
            self.engine.add(follower_name, follower)
        return True

    async def stop(self, name: str) -> None:
        opened = self._opened.pop(name, None)
        if opened is None:
            return
        for follower_name in opened.followers:
            await self.engine.remove(follower_name)
        with contextlib.suppress(BrokerError):
            await opened.broker.close()
        for follower in opened.followers.values():
            follower.journal.close()
        opened.lock.__exit__(None, None, None)

    async def close(self) -> None:
        """Give every lease back (the keeper's run ends doing so) and leave NATS."""
        for name in list(self._opened):
            await self.stop(name)
        if self._bucket is not None:
            await self._bucket.close()
