"""The article-compatible signal listener (PROTOCOL.md section 2, port 8081, off by default).

An unmodified article SignalClient connects and receives ``<<SYMBOL|NET>>`` for every symbol of
the mapped channel on connect and on every change. The listener carries no authentication, so
it binds to 127.0.0.1 by default and accepts only source addresses on its allow-list.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from tradewire.bus.base import Bus, Message
from tradewire.config import ArticleSignalSettings
from tradewire.hub.addresses import AddressList, write_or_drop
from tradewire.hub.listener_gate import ListenerGate, gated
from tradewire.protocol.legacy import net_volumes, signal_update
from tradewire.protocol.messages import StateUpdate

log = logging.getLogger(__name__)


class ArticleSignalListener:
    """Serves one channel's net volumes to article SignalClients."""

    def __init__(self, settings: ArticleSignalSettings, bus: Bus, gate: ListenerGate) -> None:
        self.settings = settings
        self.gate = gate
        self._allow = AddressList(settings.allow)
        self._bus = bus
        self._clients: set[asyncio.Transport] = set()
        self._nets: dict[str, float] = {}
        self._server: asyncio.Server | None = None
        self.refused = 0

    async def start(self) -> tuple[str, int]:
        latest = self._bus.subscribe(self.settings.channel, self)
        if latest is not None:
            self.deliver(latest)
        self._server = await asyncio.get_running_loop().create_server(
            gated(lambda: _ArticleClient(self), self.gate),
            self.settings.host,
            self.settings.port,
            reuse_address=True,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info(
            "article signal listener on %s:%d for channel %s", host, port, self.settings.channel
        )
        return host, port

    def stop(self) -> None:
        self._bus.unsubscribe(self.settings.channel, self)
        self.gate.close()
        if self._server is not None:
            self._server.close()
        for transport in list(self._clients):
            transport.close()

    def allowed(self, address: str) -> bool:
        return address in self._allow

    def deliver(self, message: Message) -> None:
        """Bus subscriber callback: broadcast the new nets to every article client (the
        message arrives decoded: nothing is parsed again here)."""
        frame = message.value
        assert isinstance(frame, StateUpdate)
        nets = net_volumes(frame.positions)
        update = signal_update(nets, self._nets)
        self._nets = nets
        for transport in list(self._clients):
            write_or_drop(transport, update, "signal")

    def join(self, transport: asyncio.Transport) -> None:
        self._clients.add(transport)
        message = signal_update(self._nets, {})
        if message:
            write_or_drop(transport, message, "signal")

    def leave(self, transport: asyncio.Transport) -> None:
        self._clients.discard(transport)


class _ArticleClient(asyncio.Protocol):
    def __init__(self, listener: ArticleSignalListener) -> None:
        self.listener = listener
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if not peer or not self.listener.allowed(str(peer[0])):
            self.listener.refused += 1
            transport.close()
            self.transport = None
            return
        self.listener.join(self.transport)

    def data_received(self, data: bytes) -> None:
        pass  # the article's client sends nothing we need

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.listener.leave(self.transport)
