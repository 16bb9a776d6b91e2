"""Tick text lines over TCP (the socket library's tick export; port 7401, opt-in)."""

from __future__ import annotations

import asyncio
import time
from typing import cast

from tradewire.config import TickListenerSettings
from tradewire.exceptions import FrameTooLarge
from tradewire.hub.addresses import AddressList
from tradewire.hub.listener_gate import ListenerGate, gated
from tradewire.hub.services.ticks.service import ListenerCounters
from tradewire.protocol.framing import LineFramer
from tradewire.protocol.ticks import TickError, TickRow, parse_text
from tradewire.store.tick_writer import TickWriter

MAX_LINE = 256


class TcpTickListener:
    def __init__(
        self, settings: TickListenerSettings, writer: TickWriter, gate: ListenerGate
    ) -> None:
        self.settings = settings
        self.gate = gate
        self.writer = writer
        self.allow = AddressList(settings.allow)
        self.counters = ListenerCounters("tcp")
        self._server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.get_running_loop().create_server(
            gated(lambda: _TickLines(self), self.gate),
            self.settings.host,
            self.settings.port,
            reuse_address=True,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        return host, port

    def stop(self) -> None:
        self.gate.close()
        if self._server is not None:
            self._server.close()


class _TickLines(asyncio.Protocol):
    def __init__(self, listener: TcpTickListener) -> None:
        self.listener = listener
        self.framer = LineFramer(MAX_LINE)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if not peer or str(peer[0]) not in self.listener.allow:
            self.listener.counters.bad("address not allowed")
            transport.close()

    def data_received(self, data: bytes) -> None:
        counters = self.listener.counters
        try:
            lines = self.framer.feed(data)
        except FrameTooLarge:
            counters.bad("line too long")
            assert self.transport is not None
            self.transport.close()
            return
        now = int(time.time() * 1000)
        rows: list[TickRow] = []
        for line in lines:
            counters.received += 1
            try:
                rows.append(parse_text(line, now))
            except TickError as exc:
                counters.bad(exc.reason)
        if rows:
            self.listener.writer.put(rows)
