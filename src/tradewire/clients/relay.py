"""Relay messages and requests between clients through the hub, from Python (docs/relay.md).

relay = RelayClient(client)                  # client: a started HubClient
await relay.listen("term1", answer)          # answer(message) -> the reply body, or None
await relay.send("term1", {"hello": 1})      # one-way; returns once the hub handed it over
reply = await relay.request("term1", {"op": "account"}, timeout_s=5)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.protocol.messages import Listen, Relay, RelayAnswer, Relayed, RelayIn

log = logging.getLogger(__name__)

Answer = Callable[["Incoming"], Awaitable[Any]]


class Incoming(msgspec.Struct, frozen=True):
    """A message relayed to one of our names. ``wants_reply``: the sender waits for an answer."""

    sender: str
    to: str
    body: Any
    wants_reply: bool


class RelayClient:
    def __init__(self, client: HubClient) -> None:
        self._client = client
        self._answers: dict[str, Answer] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        client.on_frame(RelayIn, self._received)
        client.on_reconnect(self._listen_again)

    async def listen(self, name: str, answer: Answer) -> None:
        """Receive what is sent to ``name`` (our user name, or ``user/label``); ``answer`` is
        awaited for each message and its result is the reply to a request. Kept across
        reconnects. Raises :class:`HubRefused` (``forbidden``: not our name)."""
        self._answers[name] = answer
        try:
            await self._client.request(Listen(name=name))
        except HubRefused:
            del self._answers[name]
            raise

    async def send(self, to: str, body: Any) -> None:
        """One-way. Returns once the hub handed it to the listener; raises
        :class:`HubRefused` (``unreachable``, ``forbidden``, ``rate_limited``…)."""
        await self._client.request(Relay(to=to, body=_raw(body)))

    async def request(self, to: str, body: Any, timeout_s: float = 10.0) -> Any:
        """Send a request and return the decoded reply body. Raises :class:`HubRefused`
        (``timeout``, ``unreachable``: the listener may or may not have acted on it) or
        :class:`ConnectionLost`; resend only what the listener deduplicates."""
        frame = Relay(to=to, body=_raw(body), reply=True, timeout_ms=max(1, int(timeout_s * 1000)))
        answer = await self._client.request(frame)
        assert isinstance(answer, Relayed)
        return msgspec.json.decode(answer.body)

    async def drain(self) -> None:
        """Wait until every message received so far is answered."""
        while self._tasks - {asyncio.current_task()}:
            await asyncio.gather(*(self._tasks - {asyncio.current_task()}), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _received(self, frame: RelayIn) -> None:
        # Answered in a task: a slow answer must not hold up the client's read loop.
        task = asyncio.get_running_loop().create_task(self._answer(frame))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, frame: RelayIn) -> None:
        answer = self._answers.get(frame.to)
        if answer is None:
            return
        try:
            body = msgspec.json.decode(frame.body)
        except msgspec.DecodeError:  # the hub forwards valid JSON only; be safe anyway
            return
        incoming = Incoming(frame.sender, frame.to, body, frame.rid is not None)
        try:
            reply = await answer(incoming)
        except Exception:
            log.exception("answering a relay message from %s failed", frame.sender)
            reply = {"error": "internal"}
        if frame.rid is None:
            return
        with contextlib.suppress(ConnectionLost, HubRefused):  # the asker left or timed out
            await self._client.request(RelayAnswer(rid=frame.rid, body=_raw(reply)))

    async def _listen_again(self) -> None:
        for name in list(self._answers):
            try:
                await self._client.request(Listen(name=name))
            except (ConnectionLost, HubRefused) as exc:
                log.warning("could not listen as %s again: %s", name, exc)


def _raw(value: Any) -> msgspec.Raw:
    return msgspec.Raw(msgspec.json.encode(value))
