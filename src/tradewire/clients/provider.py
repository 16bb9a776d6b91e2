"""The provider: publishes its broker account's full position state to a hub channel.

It publishes on every change the broker announces and at least every ``refresh_s`` (a keepalive
that also refreshes ``ts`` so followers can tell a live signal from a stale one). Changes that
arrive while a publication is under way are coalesced: the next publication reads the newest
state, so nothing is lost and nothing is sent twice for nothing.

A broker that keeps a deal history (:class:`DealHistory`: the paper and MT5 adapters) has its
new deals sent too (protocol 1.5), for the channel's statistics: those made before the account
is read go to the hub once the state that shows them is acked, so the hub sets them beside
that state's moment (docs/statistics.md). Deals from before the provider started are not sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import msgspec

from tradewire.brokers.base import Broker, Deal, DealHistory
from tradewire.clients.hub_client import HubClient
from tradewire.clock import Clock, SystemClock, now_ms
from tradewire.exceptions import BrokerError, HubRefused
from tradewire.protocol.frames.history import MAX_DEALS_PER_FRAME

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
        self.deals_sent = 0
        self._deals_from = now_ms(self.clock)  # deals from here on are sent
        self._sent: set[str] = set()  # tickets sent at _deals_from or later
        self._batches = 0
        self._hub_takes_deals = True  # an older hub answers bad_frame: the states must do

    async def publish_now(self) -> int:
        """Read the account and publish it; returns the hub's seq."""
        stamp = now_ms(self.clock)  # the moment the change was seen: followers' latency base
        detected = self.clock.monotonic()
        deals = await self._new_deals()  # before the account: the state shows each of them
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
        if deals:
            await self._send_deals(deals)
        return self.last_seq

    async def _new_deals(self) -> list[Deal]:
        if not isinstance(self.broker, DealHistory) or not self._hub_takes_deals:
            return []
        try:
            deals = await self.broker.deals_since(self._deals_from)
        except BrokerError as exc:
            log.warning("deal history unavailable, statistics use the states: %s", exc)
            return []
        return [d for d in deals if d.ticket not in self._sent]

    async def _send_deals(self, deals: list[Deal]) -> None:
        """Send ``deals`` (the state showing them is acked); a refusal is logged, not retried:
        sent later, they would sit beside a later state."""
        for start in range(0, len(deals), MAX_DEALS_PER_FRAME):
            batch = deals[start : start + MAX_DEALS_PER_FRAME]
            self._batches += 1
            try:
                await self.hub.put_deals(self.channel, batch, f"deals-{self._batches}")
            except HubRefused as exc:
                if exc.code == "bad_frame":  # a hub from before protocol 1.5
                    log.warning("the hub does not take deals (%s): statistics use states", exc)
                    self._hub_takes_deals = False
                    return
                log.warning("the hub refused %d deals: %s", len(batch), exc)
        self.deals_sent += len(deals)
        newest = max(d.time for d in deals)
        if newest > self._deals_from:  # keep only the tickets the next read can return
            self._deals_from = newest
            self._sent = {d.ticket for d in deals if d.time >= newest}
        else:
            self._sent.update(d.ticket for d in deals)

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
