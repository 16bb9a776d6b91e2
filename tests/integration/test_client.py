"""HubClient against a real hub: requests, reconnect with backoff, re-subscribe."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from tests.conftest import PASSWORD, HubFactory, state_frame
from tradewire.clients import HubClient
from tradewire.clients.backoff import Backoff
from tradewire.exceptions import HubRefused
from tradewire.protocol.messages import Account, Position, StateUpdate

FRAME = state_frame()
ACCOUNT = msgspec.convert(FRAME["account"], Account)
POSITIONS = msgspec.convert(FRAME["positions"], list[Position])


def client(hub_address: tuple[str, int], user: str, password: str = PASSWORD) -> HubClient:
    host, port = hub_address
    return HubClient(host, port, user, password, backoff=Backoff(initial=0.05, maximum=0.2))


async def wait_for_seq(c: HubClient, channel: str, seq: int) -> StateUpdate:
    async def wait() -> StateUpdate:
        async for update in c.updates():
            if update.ch == channel and update.seq >= seq:
                return update
        raise AssertionError("unreachable")

    return await asyncio.wait_for(wait(), 5)


async def test_publish_subscribe_ping(start_hub: HubFactory) -> None:
    hub = await start_hub()
    async with (
        client(hub.addresses[0], "alice") as provider,
        client(hub.addresses[0], "bob") as follower,
    ):
        await follower.subscribe("alpha")
        assert await provider.publish_state("alpha", ACCOUNT, POSITIONS, ts=1) == 1
        update = await wait_for_seq(follower, "alpha", 1)
        assert update.positions == POSITIONS and follower.latest("alpha") == update
        assert 0 < await follower.ping() < 1
        with pytest.raises(HubRefused) as refused:
            await follower.subscribe("beta")
        assert refused.value.code == "forbidden"


async def test_wrong_password_raises_at_start(start_hub: HubFactory) -> None:
    hub = await start_hub()
    with pytest.raises(HubRefused) as refused:
        await client(hub.addresses[0], "bob", "wrong-password").start()
    assert refused.value.code == "auth_failed"


async def test_reconnects_after_hub_restart_and_resubscribes(start_hub: HubFactory) -> None:
    hub = await start_hub()
    address = hub.addresses[0]
    async with client(address, "alice") as provider, client(address, "bob") as follower:
        await follower.subscribe("alpha")
        await provider.publish_state("alpha", ACCOUNT, POSITIONS, ts=1)
        await wait_for_seq(follower, "alpha", 1)
        await hub.stop()
        await asyncio.sleep(0.1)
        assert not follower.connected
        # Published while the hub is down: sent once the provider is back.
        pending = asyncio.create_task(provider.publish_state("alpha", ACCOUNT, POSITIONS, ts=2))
        await asyncio.sleep(0.3)
        assert not pending.done()
        await start_hub(port=address[1])
        assert await asyncio.wait_for(pending, 5) == 2
        update = await wait_for_seq(follower, "alpha", 2)
        assert update.ts == 2
        assert follower.reconnects >= 1 and provider.reconnects >= 1


async def test_a_frame_over_the_hubs_limit_is_refused_at_once(start_hub: HubFactory) -> None:
    hub = await start_hub(max_frame_bytes=4096)
    async with client(hub.addresses[0], "alice") as provider:
        assert provider.max_frame_bytes == 4096  # announced in the welcome
        many = [msgspec.structs.replace(POSITIONS[0], id=str(i)) for i in range(100)]
        with pytest.raises(HubRefused) as refused:
            await asyncio.wait_for(provider.publish_state("alpha", ACCOUNT, many, ts=1), 5)
        assert refused.value.code == "frame_too_large"
        assert await provider.publish_state("alpha", ACCOUNT, POSITIONS, ts=2) == 1  # still fine
