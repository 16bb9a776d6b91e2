"""The article-compatible listeners (PROTOCOL.md section 2), each opt-in: UDP and TCP text
ticks, the ``<<SYMBOL|NET>>`` signal stream, the chart-template server and the sentiment
exchange. None has a login: each binds to 127.0.0.1 and an allow-list by default, and its
banner line says so."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from tradewire.bus.base import Bus
from tradewire.config import ListenerSettings
from tradewire.exceptions import ConfigError
from tradewire.hub.article.sentiment import SentimentListener
from tradewire.hub.article.signal import ArticleSignalListener
from tradewire.hub.article.tcp_ticks import TcpTickListener
from tradewire.hub.article.template import TemplateListener
from tradewire.hub.article.udp_ticks import UdpTickListener
from tradewire.hub.events import HubEvents
from tradewire.hub.listener_gate import ListenerGates
from tradewire.hub.services.files.service import FileService
from tradewire.hub.services.sentiment.service import SentimentService
from tradewire.hub.services.ticks.service import TickService

KEYS = ("udp_ticks", "tcp_ticks", "signal", "template", "sentiment")


class ArticleListeners:
    def __init__(
        self,
        settings: ListenerSettings,
        ticks: TickService,
        bus: Bus,
        files: FileService,
        sentiment: SentimentService,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        gates: ListenerGates,
        events: HubEvents,
    ) -> None:
        self.settings = settings
        self._events = events
        self._gates = gates
        self._ticks, self._bus, self._files, self._sentiment = ticks, bus, files, sentiment
        self._spawn = spawn
        self.template: TemplateListener | None = None
        self.article_signal: ArticleSignalListener | None = None
        self.sentiment: SentimentListener | None = None
        self.tick_listeners: list[UdpTickListener | TcpTickListener] = []
        self.addresses: list[tuple[str, int]] = []
        self.banners: list[str] = []

    async def start(self) -> None:
        """Every enabled listener; a port in use is a ConfigError naming the listener."""
        for key in KEYS:
            settings = getattr(self.settings, key)
            if not settings.enabled:
                continue
            try:
                await self._start(key)
            except OSError as exc:
                raise ConfigError(
                    f"listeners.{key}: cannot listen on {settings.host}:{settings.port}: "
                    f"{exc.strerror or exc} (another program has it? set listeners.{key}.port "
                    "to a free port)"
                ) from exc

    async def _start(self, key: str) -> None:
        writer = self._ticks.writer
        assert writer is not None
        if key == "udp_ticks":
            udp = UdpTickListener(self.settings.udp_ticks, writer)
            self._started("udp", "UDP ticks", udp.start())
            self.tick_listeners.append(udp)
            self._ticks.listeners.append(udp.counters)
        elif key == "tcp_ticks":
            tcp = TcpTickListener(self.settings.tcp_ticks, writer, self._gates.gate("tcp_ticks"))
            self._started("tcp", "text ticks", await tcp.start())
            self.tick_listeners.append(tcp)
            self._ticks.listeners.append(tcp.counters)
        elif key == "signal":
            self.article_signal = ArticleSignalListener(
                self.settings.signal, self._bus, self._gates.gate("signal")
            )
            self._started("tcp", "article signals", await self.article_signal.start())
        elif key == "sentiment":
            self.sentiment = SentimentListener(
                self.settings.sentiment,
                self._sentiment,
                self._gates.gate("sentiment"),
                self._events,
            )
            self._started("tcp", "article sentiment", await self.sentiment.start())
        else:
            self.template = TemplateListener(
                self.settings.template, self._files, self._spawn, self._gates.gate("template")
            )
            self._started("tcp", "chart template", await self.template.start())

    def _started(self, scheme: str, what: str, address: tuple[str, int]) -> None:
        self.addresses.append(address)
        self.banners.append(
            f"{scheme}://{address[0]}:{address[1]} ({what}, article format: "
            "no authentication, source-address allow-list only)"
        )

    async def stop(self) -> None:
        for listener in (self.article_signal, self.template, self.sentiment):
            if listener is not None:
                listener.stop()
        for tick_listener in self.tick_listeners:
            await asyncio.to_thread(tick_listener.stop)
