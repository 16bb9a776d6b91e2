"""Topics from Python (docs/topics.md).

topics = TopicClient(client)                       # client: a started HubClient
seq = await topics.publish("levels.EURUSD", {"support": 1.0810})
await topics.subscribe(["ind.EURUSD.*"])           # names or prefixes*, kept across reconnects
async for update in topics.updates(): ...          # update.topic, update.seq, update.value
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.protocol.messages import Ack, Sub, TopicDel, TopicPub, TopicUpdate, Unsub


class TopicValue(msgspec.Struct, frozen=True):
    topic: str
    seq: int
    ts: int
    value: Any


class TopicClient:
    def __init__(self, client: HubClient, queue_size: int = 10_000) -> None:
        self._client = client
        self._patterns: set[str] = set()
        self.latest: dict[str, TopicValue] = {}
        self._queue: asyncio.Queue[TopicValue] = asyncio.Queue(maxsize=queue_size)
        client.on_frame(TopicUpdate, self._received)
        client.on_reconnect(self._subscribe_again)

    async def publish(self, topic: str, value: Any) -> int:
        """Store ``value`` as the topic's latest and send it to its subscribers; returns the
        topic's ``seq``. Raises :class:`HubRefused` (``forbidden``, ``rate_limited``…)."""
        ack = await self._client.request(
            TopicPub(topic=topic, value=msgspec.Raw(msgspec.json.encode(value)))
        )
        assert isinstance(ack, Ack) and ack.seq is not None
        return ack.seq

    async def delete(self, topic: str) -> None:
        """Delete ``topic`` and its kept value (yours, or any as an admin). Raises
        :class:`HubRefused` (``forbidden``, ``not_found``)."""
        await self._client.request(TopicDel(topic=topic))

    async def subscribe(self, patterns: list[str]) -> None:
        """Topic names, or prefixes ending in ``*``; the retained values arrive at once."""
        await self._client.request(Sub(topics=list(patterns)))
        self._patterns |= set(patterns)

    async def unsubscribe(self, patterns: list[str]) -> None:
        self._patterns -= set(patterns)
        await self._client.request(Unsub(topics=list(patterns)))

    async def updates(self) -> AsyncIterator[TopicValue]:
        while True:
            yield await self._queue.get()

    def _received(self, update: TopicUpdate) -> None:
        value = TopicValue(update.topic, update.seq, update.ts, msgspec.json.decode(update.value))
        self.latest[update.topic] = value
        if self._queue.full():  # nobody reads updates(): keep the newest
            self._queue.get_nowait()
        self._queue.put_nowait(value)

    async def _subscribe_again(self) -> None:
        if self._patterns:
            with contextlib.suppress(ConnectionLost, HubRefused):
                await self._client.request(Sub(topics=sorted(self._patterns)))
