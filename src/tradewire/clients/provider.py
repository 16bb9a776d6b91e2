"""The provider: publishes its broker account's full position state to a hub channel.

It publishes on every change the broker announces and at least every ``refresh_s`` (a keepalive
that also refreshes ``ts`` so followers can tell a live signal from a stale one). Changes that
arrive while a publication is under way are coalesced: the next publication reads the newest
state, so nothing is lost and nothing is sent twice for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec

from tradewire.brokers.base import Broker
from tradewire.clients.hub_client import HubClient
from tradewire.clock import Clock, SystemClock, now_ms

log = logging.getLogger(__name__)


class Provider:
    """Keeps one hub channel equal to one broker account."""

    def __init__(
        self,
        broker: Broker,
        hub: HubClient,
        channel: str,
        *,
        refresh_s: float = 30.0,
        clock: Clock | None = None,
        takeover: bool = False,
    ) -> None:
        self.broker = broker
        self.hub = hub
        self.channel = channel
        self.refresh_s = refresh_s
        self.takeover = takeover
        self.clock: Clock = clock or SystemClock()
        self.published = 0
        self.last_seq = 0

    async def publish_now(self) -> int:
        """Read the account and publish it; returns the hub's seq."""
        stamp = now_ms(self.clock)  # the moment the change was seen: followers' latency base
        detected = self.clock.monotonic()
        account, positions, orders = await asyncio.gather(
            self.broker.account(), self.broker.positions(), self.broker.orders()
        )
        self.last_seq = await self.hub.publish_state(
            self.channel,
            msgspec.structs.replace(account, margin=0.0),  # the wire carries no margin
            positions,
            stamp,
            self.takeover,
            detected,
            orders=orders,  # protocol 1.2: its pending orders, [] when none
        )
        self.published += 1
        return self.last_seq

    async def run(self) -> None:
        """Publish until cancelled."""
        changes = self.broker.changes()
        pending: asyncio.Future[None] | None = None
        try:
            while True:
                if pending is None or pending.done():
                    # Listen before reading the account: a change made while it is read (or
                    # just after) wakes the next publication instead of waiting refresh_s.
                    pending = asyncio.ensure_future(anext(changes))
                    await asyncio.sleep(0)
                await self.publish_now()
                await asyncio.wait({pending}, timeout=self.refresh_s)
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
