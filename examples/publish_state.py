"""Publish one position state to channel "alpha" as provider alice.

Usage: TRADEWIRE_PASSWORD=... python examples/publish_state.py [HOST:PORT]
"""

import asyncio
import os
import sys

from tradewire.clients import HubClient
from tradewire.protocol.messages import Account, Position

host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:7400").rsplit(":", 1)


async def main() -> None:
    async with HubClient(host, int(port), "alice", os.environ["TRADEWIRE_PASSWORD"]) as hub:
        account = Account(
            login="5012345",
            currency="USD",
            balance=10_000,
            equity=10_000,
            leverage=100,
            mode="netting",
        )
        eurusd = Position(
            id="1", symbol="EURUSD", side="buy", volume=0.25, price=1.08345, time=1_700_000_000_000
        )
        print("seq", await hub.publish_state("alpha", account, [eurusd], ts=1_700_000_000_123))


asyncio.run(main())
