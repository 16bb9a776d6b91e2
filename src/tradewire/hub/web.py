"""The hub's HTTP side (``[web]``, off by default; docs/operations.md): ``/metrics`` in
Prometheus' text format, ``/healthz`` (the process answers) and ``/readyz`` (every store takes
a write and the bus answers, within a deadline). aiohttp on the hub's event loop; HTTPS with the
hub's certificate when ``[tls]`` is set."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

from tradewire.config import WebSettings
from tradewire.hub.listener_gate import ListenerGate, gated
from tradewire.hub.prometheus import exposition
from tradewire.metrics import Metrics

log = logging.getLogger(__name__)

READY_WITHIN_S = 2.0
Check = Callable[[], Awaitable[object]]


class WebServer:
    def __init__(
        self,
        settings: WebSettings,
        metrics: Metrics,
        checks: Mapping[str, Check],
        tls: ssl.SSLContext | None,
        more_routes: Callable[[web.Application], None] | None = None,
        on_stop: Callable[[], None] | None = None,
        gate: ListenerGate | None = None,
    ) -> None:
        self.settings = settings
        self.gate = gate
        self._metrics = metrics
        self._checks = checks
        self._tls = tls
        self._runner: web.AppRunner | None = None
        self._on_stop = on_stop
        app = web.Application()
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        if more_routes is not None:
            more_routes(app)  # the dashboard
        self.app = app

    async def start(self) -> tuple[str, int]:
        idle = self.gate.limits.idle_timeout_s if self.gate is not None else 0.0
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            shutdown_timeout=2.0,
            # between requests aiohttp's own clock closes an idle connection; before the
            # first request's headers are in, the gate's does (hub/listener_gate.py)
            keepalive_timeout=idle or 75.0,
        )
        await self._runner.setup()
        site = _GatedSite(
            self._runner, self.settings.host, self.settings.port, self._tls, self.gate
        )
        await site.start()
        host, port = self._runner.addresses[0][:2]
        log.info("web listening on %s:%d (/metrics, /healthz, /readyz)", host, port)
        return str(host), int(port)

    async def stop(self) -> None:
        if self.gate is not None:
            self.gate.close()
        if self._on_stop is not None:
            self._on_stop()  # long-lived responses (the dashboard's events) end now
        if self._runner is not None:
            await self._runner.cleanup()

    async def _metrics_page(self, request: web.Request) -> web.Response:
        body = exposition(self._metrics)
        return web.Response(body=body, content_type="text/plain", charset="utf-8")

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        results: dict[str, str] = {}
        for name, check in self._checks.items():
            try:
                async with asyncio.timeout(READY_WITHIN_S):
                    await check()
                results[name] = "ok"
            except TimeoutError:
                results[name] = f"no answer within {READY_WITHIN_S:g} s"
            except Exception as exc:  # reported to the prober, not raised
                results[name] = f"{type(exc).__name__}: {exc}"
        ready = all(value == "ok" for value in results.values())
        return web.json_response(results, status=200 if ready else 503)


class _GatedSite(web.TCPSite):
    """aiohttp's TCP site with each connection passing the listener's gate (caps, and the
    idle clock until the first request's headers are in)."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        gate: ListenerGate | None,
    ) -> None:
        super().__init__(runner, host, port, ssl_context=tls)
        self._gate = gate

    async def start(self) -> None:
        if self._gate is None:
            await super().start()
            return
        await web.BaseSite.start(self)
        handler = self._runner.server
        assert handler is not None
        self._server = await asyncio.get_running_loop().create_server(
            gated(handler, self._gate),
            self._host,
            self._port,
            ssl=self._ssl_context,
            reuse_address=True,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1]
