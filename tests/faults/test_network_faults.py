"""Followers reach the hub through a fault-injecting proxy: delays, dropped and reset
connections, half-open connections and a 60 s stall. They notice by heartbeat, reconnect with
backoff and converge on the provider's positions with no duplicate order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import HubFactory
from tests.faults.proxy import FaultProxy
from tests.integration.test_copying import Rig, assert_no_duplicates, open_rig, trade

HEARTBEAT_S = 0.5  # silence for 3 heartbeats (1.5 s) means the connection is gone


@pytest.fixture
async def proxied(
    start_hub: HubFactory, data_dir: Path, tmp_path: Path
) -> AsyncIterator[tuple[Rig, FaultProxy]]:
    hub = await start_hub(heartbeat_s=HEARTBEAT_S)
    proxy = await FaultProxy.start(*hub.addresses[0])
    try:
        async with open_rig(hub, data_dir, tmp_path, ("127.0.0.1", proxy.port)) as rig:
            yield rig, proxy
    finally:
        await proxy.close()


def reconnects(rig: Rig) -> int:
    return sum(c.client.reconnects for c in rig.copiers.values())


async def test_delay_of_200_ms_each_way(proxied: tuple[Rig, FaultProxy]) -> None:
    rig, proxy = proxied
    proxy.delay_s = 0.2
    await trade(rig, 40, seed=41)
    await rig.converged(timeout=30)
    await assert_no_duplicates(rig)
    assert reconnects(rig) == 0  # slow is not dead: 0.4 s round trips stay under the heartbeat


@pytest.mark.parametrize("fault", ["drop", "reset"])
async def test_dropped_and_reset_connections(proxied: tuple[Rig, FaultProxy], fault: str) -> None:
    rig, proxy = proxied
    for round_ in range(3):
        await trade(rig, 20, seed=50 + round_)
        getattr(proxy, fault)()  # mid-trading: orders and states may be in flight
    await trade(rig, 20, seed=59)
    await rig.converged(timeout=30)
    await assert_no_duplicates(rig)
    print(f"\n{fault}: {reconnects(rig)} reconnects over 3 faults x {len(rig.copiers)} followers")
    assert reconnects(rig) >= 3 * len(rig.copiers)


async def test_half_open_and_stalled_connections_are_detected_by_heartbeat(
    proxied: tuple[Rig, FaultProxy],
) -> None:
    """The proxy keeps the followers' sockets open but forwards nothing, for as long as the test
    lasts (a 60 s stall, or a far end that vanished without FIN/RST). Followers must notice the
    silence within 3 heartbeats, reconnect, and converge while the old sockets still hang."""
    rig, proxy = proxied
    await trade(rig, 20, seed=61)
    await rig.converged()
    stalled_at = time.monotonic()
    proxy.stall()
    await trade(rig, 30, seed=62)
    await rig.converged(timeout=30)
    recovered_s = time.monotonic() - stalled_at
    await assert_no_duplicates(rig)
    assert all(c.client.reconnects == 1 for c in rig.copiers.values())
    assert recovered_s < 60  # well inside the stall: detection, not the stall ending
    print(f"stall detected and converged after {recovered_s:.2f} s (heartbeat {HEARTBEAT_S} s)")
    await asyncio.sleep(0)
    proxy.release_stalled()
