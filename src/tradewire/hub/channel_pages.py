"""A channel's statistics on the web side (issue 27; docs/statistics.md): ``/channels/NAME``, a
page with the figures and the balance and equity curves, and ``/api/channels/NAME/stats``, the
same as JSON. Admins also get the what-if simulator's form there, which posts to
``/api/channels/NAME/simulate`` with the session's CSRF token (docs/simulate.md).

Admins logged in to the dashboard see every channel. A channel listed in ``[history] public``
is open to anyone, without a login: its page shows no account number (the figures carry none),
and each source address may ask ``public_rate_per_s`` times a second (429 beyond, with
Retry-After).
"""

from __future__ import annotations

import math
import time
import tomllib
from collections.abc import Awaitable, Callable
from importlib.resources import files

import msgspec
from aiohttp import web

from tradewire.config import HistorySettings
from tradewire.exceptions import StoreError
from tradewire.hub.ratelimit import TokenBucket
from tradewire.hub.services.history.service import HistoryService
from tradewire.hub.services.history.simulations import SimulationRefused
from tradewire.protocol.frames.history import SimulateRequest
from tradewire.protocol.names import is_channel

STATIC = files("tradewire.hub").joinpath("static")
MAX_SOURCES = 10_000  # rate buckets kept; the oldest go first


class ChannelPages:
    def __init__(
        self,
        history: HistoryService,
        settings: HistorySettings,
        admin_csrf: Callable[[web.Request], Awaitable[str | None]],
        action: Callable[[web.Request], Awaitable[object]],
        address: Callable[[web.Request], str],
    ) -> None:
        """``admin_csrf``: the CSRF token of the request's admin session, None for anyone
        else; ``action``: raises 403 (audited) unless an admin sent its CSRF token."""
        self._history = history
        self._settings = settings
        self._public = frozenset(settings.public)
        self._admin_csrf = admin_csrf
        self._action = action
        self._address = address
        self._buckets: dict[str, TokenBucket] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/channels/{ch}", self._page)
        app.router.add_get("/api/channels/{ch}/stats", self._stats)
        app.router.add_post("/api/channels/{ch}/simulate", self._simulate)
        app.router.add_get("/static/channel.js", self._script)

    async def _allowed(self, request: web.Request, channel: str) -> bool:
        """True for an admin, or for anyone on a public channel within the address's rate;
        raises 429 past it."""
        if await self._admin_csrf(request) is not None:
            return True
        if channel not in self._public:
            return False
        source = self._address(request)
        bucket = self._buckets.pop(source, None) or TokenBucket(
            self._settings.public_rate_per_s, self._settings.public_burst, time.monotonic()
        )
        self._buckets[source] = bucket  # most recent last
        if len(self._buckets) > MAX_SOURCES:
            del self._buckets[next(iter(self._buckets))]
        wait = bucket.take(time.monotonic())
        if wait > 0:
            raise web.HTTPTooManyRequests(
                text="too many requests; retry shortly",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return True

    def _channel(self, request: web.Request) -> str:
        channel = request.match_info["ch"]
        if not is_channel(channel):
            raise web.HTTPNotFound(text="no such channel")
        return channel

    async def _page(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if not await self._allowed(request, channel):
            raise web.HTTPSeeOther("/login")
        page = (STATIC / "channel.html").read_text().replace("{{channel}}", channel)
        page = page.replace("{{csrf}}", await self._admin_csrf(request) or "")
        return web.Response(text=page, content_type="text/html")

    async def _simulate(self, request: web.Request) -> web.Response:
        """A what-if replay for an admin: JSON with ``deposit``, ``rules`` (a rules file's
        text), ``mode``, ``leverage``, ``since_ms``, ``until_ms``."""
        channel = self._channel(request)
        await self._action(request)
        try:
            asked = await request.json()
            rules = tomllib.loads(str(asked.pop("rules", "") or ""))
            frame = msgspec.convert(
                {**asked, "ch": channel, "rules": rules.get("rules", rules)}, SimulateRequest
            )
        except (ValueError, tomllib.TOMLDecodeError, msgspec.ValidationError, TypeError) as exc:
            raise web.HTTPBadRequest(text=f"bad simulation request: {exc}") from None
        simulations = self._history.simulations
        if simulations is None or simulations.busy:
            raise web.HTTPTooManyRequests(
                text="a simulation is running (one at a time); try again shortly",
                headers={"Retry-After": "5"},
            )
        try:
            result = await simulations.run(frame)
        except SimulationRefused as exc:
            status = {"not_found": 404, "too_large": 413, "invalid_rules": 400}.get(exc.code, 503)
            return web.Response(status=status, text=str(exc))
        return web.Response(body=msgspec.json.encode(result), content_type="application/json")

    async def _stats(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if not await self._allowed(request, channel):
            raise web.HTTPForbidden(text="log in as an admin, or ask for a public channel")
        try:
            figures = await self._history.figures(channel)
        except StoreError:
            raise web.HTTPServiceUnavailable(text="history store unavailable") from None
        if figures is None:
            raise web.HTTPNotFound(text=f"no history of {channel!r} yet")
        body = msgspec.json.encode(msgspec.structs.replace(figures, re=None))
        return web.Response(body=body, content_type="application/json")

    async def _script(self, request: web.Request) -> web.Response:
        script = (STATIC / "channel.js").read_text()
        return web.Response(text=script, content_type="application/javascript")
