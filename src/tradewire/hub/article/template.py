"""The article-compatible chart-template listener (PROTOCOL.md section 2, port 8080, off by
default): each connection receives the latest stored file ``[listeners.template] name`` as
symbol (10 bytes) + period (10 bytes) + template bytes, then the hub closes it.

Like the signal listener it has no authentication: it binds to 127.0.0.1 by default and
serves only source addresses on its allow-list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, cast

from tradewire.config import TemplateListenerSettings
from tradewire.hub.addresses import AddressList
from tradewire.hub.listener_gate import ListenerGate, gated
from tradewire.hub.services.files.service import FileService
from tradewire.protocol.legacy import template_header_problem, template_payload

log = logging.getLogger(__name__)


class TemplateListener:
    def __init__(
        self,
        settings: TemplateListenerSettings,
        files: FileService,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        gate: ListenerGate,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self._allow = AddressList(settings.allow)
        self._files = files
        self.spawn = spawn  # the hub owns every task
        self._server: asyncio.Server | None = None
        self.served = 0
        self.refused = 0

    async def start(self) -> tuple[str, int]:
        self._server = await asyncio.get_running_loop().create_server(
            gated(lambda: _TemplateClient(self), self.gate),
            self.settings.host,
            self.settings.port,
            reuse_address=True,
        )
        host, port = self._server.sockets[0].getsockname()[:2]
        log.info("template listener on %s:%d serving file %r", host, port, self.settings.name)
        return host, port

    def allowed(self, address: str) -> bool:
        return address in self._allow

    def stop(self) -> None:
        self.gate.close()
        if self._server is not None:
            self._server.close()

    async def serve(self, transport: asyncio.Transport) -> None:
        try:
            stored = await self._files.latest(self.settings.name)
        except Exception:
            log.exception("template %r could not be read", self.settings.name)
            stored = None
        if stored is None or template_header_problem(stored.meta) is not None:
            log.warning(
                "template listener: no servable file %r (store it with `tradewire "
                "files put %s FILE --symbol S --period MINUTES`)",
                self.settings.name,
                self.settings.name,
            )
            transport.close()
            return
        transport.write(
            template_payload(str(stored.meta["symbol"]), int(stored.meta["period"]), stored.data)
        )
        self.served += 1
        transport.close()  # closes once the buffer is written


class _TemplateClient(asyncio.Protocol):
    def __init__(self, listener: TemplateListener) -> None:
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        if not peer or not self.listener.allowed(str(peer[0])):
            self.listener.refused += 1
            transport.close()
            return
        self.listener.spawn(self.listener.serve(cast(asyncio.Transport, transport)))

    def data_received(self, data: bytes) -> None:
        pass  # the article's client sends nothing

    def connection_lost(self, exc: Exception | None) -> None:
        pass
