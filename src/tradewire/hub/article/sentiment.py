"""The article's sentiment exchange (port 8083, off by default; docs/sentiment.md).

"The connected clients send the volumes of their positions and get a response as the total
volume received from all clients": a client sends ``<<SYMBOL|VOLUME>>`` (its net volume, buys
minus sells) and receives ``<<SYMBOL|TOTAL>>`` (the crowd's net volume) for every symbol shown,
at once and whenever the figures change. No authentication: bound to 127.0.0.1 and an
allow-list by default; each source address counts as one contributor, its contributions lapse
when its last connection closes, and the minimum of contributors applies here too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import cast

from tradewire.config import SentimentListenerSettings
from tradewire.hub.addresses import AddressList, write_or_drop
from tradewire.hub.events import HubEvents, SentimentChanged
from tradewire.hub.listener_gate import ListenerGate, gated
from tradewire.hub.services.sentiment.book import Contribution
from tradewire.hub.services.sentiment.service import SentimentService
from tradewire.protocol.legacy import parse_signals, signal_message
from tradewire.protocol.messages import SentimentRow

log = logging.getLogger(__name__)

MAX_VOLUME = 1e9


def totals(rows: list[SentimentRow]) -> bytes:
    """``<<SYMBOL|TOTAL>>`` per shown symbol: the crowd's net volume (0.00 when withheld)."""
    return b"".join(signal_message(r.symbol, r.long_volume - r.short_volume) for r in rows)


class SentimentListener:
    def __init__(
        self,
        settings: SentimentListenerSettings,
        service: SentimentService,
        gate: ListenerGate,
        events: HubEvents,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self._allow = AddressList(settings.allow)
        self._service = service
        self._clients: set[_SentimentClient] = set()
        self._per_address: Counter[str] = Counter()
        self._server: asyncio.Server | None = None
        events.subscribe(SentimentChanged, self._changed)

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.get_running_loop().create_server(
            gated(lambda: _SentimentClient(self), self.gate),
            self.settings.host,
            self.settings.port,
            reuse_address=True,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("article sentiment listener on %s:%d", host, port)
        return host, port

    def stop(self) -> None:
        self.gate.close()
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            if client.transport is not None:
                client.transport.close()

    def joined(self, client: _SentimentClient) -> bool:
        if client.address not in self._allow:
            return False
        self._clients.add(client)
        self._per_address[client.address] += 1
        return True

    def left(self, client: _SentimentClient) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        self._per_address[client.address] -= 1
        if self._per_address[client.address] <= 0:
            del self._per_address[client.address]
            self._service.forget(client.address)  # the address's contributions lapse

    def contribute(self, client: _SentimentClient, symbol: str, net: float) -> None:
        if abs(net) > MAX_VOLUME:
            return
        contribution = Contribution(
            max(net, 0.0), max(-net, 0.0), int(net > 0), int(net < 0), 0.0, 0.0, float("inf")
        )
        self._service.put(client.address, f"addr:{client.address}", symbol, contribution)

    def answer(self, client: _SentimentClient) -> None:
        """The totals now, to the client that just sent (its own contribution included; the
        others get the change at the next interval)."""
        reply = totals(self._service.book.visible())
        if reply and client.transport is not None:
            write_or_drop(client.transport, reply, "sentiment")

    def _changed(self, event: SentimentChanged) -> None:
        update = totals(event.rows)
        for client in list(self._clients):
            if client.transport is not None:
                write_or_drop(client.transport, update, "sentiment")


class _SentimentClient(asyncio.Protocol):
    def __init__(self, listener: SentimentListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None
        self.address = ""
        self._buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        if not self.listener.joined(self):
            transport.close()
            return
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        found, self._buffer = parse_signals(self._buffer + data)
        for symbol, net in found:
            self.listener.contribute(self, symbol, net)
        if found:
            self.listener.answer(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.listener.left(self)
