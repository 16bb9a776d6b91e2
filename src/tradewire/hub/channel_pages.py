"""A channel's statistics on the web side (issue 27; docs/statistics.md): ``/channels/NAME``, a
page with the figures and the balance and equity curves, and ``/api/channels/NAME/stats``, the
same as JSON. Admins also get the what-if simulator's form there, which posts to
``/api/channels/NAME/simulate`` with the session's CSRF token (docs/simulate.md).

Admins logged in to the dashboard see every channel; followers and providers logged in see the
channels they may read (``/channels`` lists them) and may run the simulator on them. A channel
listed in ``[history] public``
is open to anyone, without a login: its page shows no account number (the figures carry none),
and each source address may ask ``public_rate_per_s`` times a second (429 beyond, with
Retry-After).
"""

from __future__ import annotations

import html
import math
import time
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files

import msgspec
from aiohttp import web

from tradewire.config import HistorySettings
from tradewire.exceptions import StoreError
from tradewire.hub.acl import may
from tradewire.hub.ratelimit import TokenBucket
from tradewire.hub.services.history.service import HistoryService
from tradewire.hub.services.history.simulations import SimulationRefused
from tradewire.model import UserRecord
from tradewire.protocol.frames.history import SimulateRequest
from tradewire.protocol.names import is_channel

STATIC = files("tradewire.hub").joinpath("static")
MAX_SOURCES = 10_000  # rate buckets kept; the oldest go first
Audit = Callable[[str, str | None, str | None, str | None], None]


@dataclass(frozen=True)
class Viewer:
    """A logged-in web user, and the CSRF token its session's actions carry."""

    user: UserRecord
    csrf: str

    def may_read(self, channel: str) -> bool:
        user = self.user
        return may(user, "subscribe", channel) or may(user, "publish", channel)


class ChannelPages:
    def __init__(
        self,
        history: HistoryService,
        settings: HistorySettings,
        viewer: Callable[[web.Request], Awaitable[Viewer | None]],
        action: Callable[[web.Request], Awaitable[UserRecord]],
        address: Callable[[web.Request], str],
        audit: Audit,
    ) -> None:
        """``viewer``: the request's logged-in user, if any; ``action``: that user, or 403
        (audited) unless the request carries its session's CSRF token."""
        self._history = history
        self._settings = settings
        self._public = frozenset(settings.public)
        self._viewer = viewer
        self._action = action
        self._address = address
        self._audit = audit
        self._buckets: dict[str, TokenBucket] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/channels", self._index)
        app.router.add_get("/channels/{ch}", self._page)
        app.router.add_get("/api/channels/{ch}/stats", self._stats)
        app.router.add_post("/api/channels/{ch}/simulate", self._simulate)
        app.router.add_get("/static/channel.js", self._script)

    async def _allowed(self, request: web.Request, channel: str) -> bool:
        """True for a logged-in user who may read the channel, or for anyone on a public
        channel within the address's rate; raises 429 past it."""
        viewer = await self._viewer(request)
        if viewer is not None and viewer.may_read(channel):
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
            if await self._viewer(request) is not None:
                raise web.HTTPForbidden(text=f"you may not read {channel!r}")
            raise web.HTTPSeeOther("/login")
        page = (STATIC / "channel.html").read_text().replace("{{channel}}", channel)
        viewer = await self._viewer(request)
        readable = viewer is not None and viewer.may_read(channel)
        page = page.replace("{{csrf}}", viewer.csrf if viewer and readable else "")
        return web.Response(text=page, content_type="text/html")

    async def _index(self, request: web.Request) -> web.Response:
        """The channels a logged-in follower or provider may read, as links."""
        viewer = await self._viewer(request)
        if viewer is None:
            raise web.HTTPSeeOther("/login")
        names = sorted(c for c in viewer.user.channels if is_channel(c))
        items = "".join(
            f'<li><a href="/channels/{html.escape(c)}">{html.escape(c)}</a></li>' for c in names
        )
        who = html.escape(viewer.user.name)
        body = f"<ul>{items}</ul>" if items else "<p>No channel is granted to you yet.</p>"
        if may(viewer.user, "admin"):
            body = '<p>Admins: every channel is linked from <a href="/">the dashboard</a>.</p>'
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tradewire · '
            f'channels</title></head><body style="font-family: system-ui, sans-serif">'
            f"<h1>Channels {who} may read</h1>{body}</body></html>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _simulate(self, request: web.Request) -> web.Response:
        """A what-if replay for an admin: JSON with ``deposit``, ``rules`` (a rules file's
        text), ``mode``, ``leverage``, ``since_ms``, ``until_ms``."""
        channel = self._channel(request)
        user = await self._action(request)
        if not Viewer(user, "").may_read(channel):
            msg = f"web: you may not simulate {channel!r}"
            self._audit("forbidden", user.name, self._address(request), msg)
            raise web.HTTPForbidden(text=f"you may not read {channel!r}")
        try:
            asked = await request.json()
            rules = tomllib.loads(str(asked.pop("rules", "") or ""))
            frame = msgspec.convert(
                {**asked, "ch": channel, "rules": rules.get("rules", rules)}, SimulateRequest
            )
        except (ValueError, tomllib.TOMLDecodeError, msgspec.ValidationError, TypeError) as exc:
            raise web.HTTPBadRequest(text=f"bad simulation request: {exc}") from None
        simulations = self._history.simulations
        if simulations is None or not simulations.reserve():
            raise web.HTTPTooManyRequests(
                text="a simulation is running (one at a time); try again shortly",
                headers={"Retry-After": "5"},
            )
        try:
            result = await simulations.run(frame)
        except SimulationRefused as exc:
            status = {"not_found": 404, "too_large": 413, "invalid_rules": 400}.get(exc.code, 503)
            return web.Response(status=status, text=str(exc))
        finally:
            simulations.release()
        return web.Response(body=msgspec.json.encode(result), content_type="application/json")

    async def _stats(self, request: web.Request) -> web.Response:
        channel = self._channel(request)
        if not await self._allowed(request, channel):
            raise web.HTTPForbidden(
                text="log in as a reader of this channel, or ask for a public one"
            )
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
