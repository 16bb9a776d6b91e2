"""Market sentiment from Python (docs/sentiment.md).

crowd = SentimentClient(client)              # client: a started HubClient
await crowd.contribute("EURUSD", long=0.5, long_price=1.0852)
await crowd.subscribe(["EURUSD"])            # or ["*"]; kept across reconnects
async for rows in crowd.updates(): ...       # or crowd.rows: the latest per symbol
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from tradewire.clients.hub_client import HubClient
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.protocol.messages import SentimentPut, SentimentRow, SentimentUpdate, Sub, Unsub


class SentimentClient:
    def __init__(self, client: HubClient) -> None:
        self._client = client
        self._symbols: set[str] = set()
        self.rows: dict[str, SentimentRow] = {}  # shown symbols, newest figures
        self._queue: asyncio.Queue[list[SentimentRow]] = asyncio.Queue(maxsize=1000)
        client.on_frame(SentimentUpdate, self._received)
        client.on_reconnect(self._subscribe_again)

    async def contribute(
        self,
        symbol: str,
        long: float = 0.0,
        short: float = 0.0,
        long_price: float = 0.0,
        short_price: float = 0.0,
        ttl_s: float | None = None,
    ) -> None:
        """Your positions in ``symbol`` (lots, volume-weighted entry prices); replaces what
        you sent for it before. Raises :class:`HubRefused` (``bad_frame``, ``rate_limited``)."""
        await self._client.request(
            SentimentPut(
                symbol=symbol,
                long=long,
                short=short,
                long_price=long_price,
                short_price=short_price,
                ttl_s=ttl_s,
            )
        )

    async def subscribe(self, symbols: list[str]) -> None:
        self._symbols |= set(symbols)
        await self._client.request(Sub(sentiment=list(symbols)))

    async def unsubscribe(self, symbols: list[str]) -> None:
        self._symbols -= set(symbols)
        await self._client.request(Unsub(sentiment=list(symbols)))

    async def updates(self) -> AsyncIterator[list[SentimentRow]]:
        """Each update as it arrives (the snapshot first)."""
        while True:
            yield await self._queue.get()

    def _received(self, update: SentimentUpdate) -> None:
        for row in update.rows:
            if row.withheld:
                self.rows.pop(row.symbol, None)
            else:
                self.rows[row.symbol] = row
        if self._queue.full():  # nobody reads updates(): keep the newest
            self._queue.get_nowait()
        self._queue.put_nowait(update.rows)

    async def _subscribe_again(self) -> None:
        if self._symbols:
            with contextlib.suppress(ConnectionLost, HubRefused):
                await self._client.request(Sub(sentiment=sorted(self._symbols)))
