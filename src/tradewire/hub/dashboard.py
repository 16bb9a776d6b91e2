"""The web dashboard (``[web]``; docs/operations.md): admins log in with their hub user, with
the hub's password checks and bans; the page updates itself every second (server-sent events)
and can lift bans and kick sessions. Followers and providers log in the same way to the pages
of the channels they may read (hub/channel_pages.py): statistics and the what-if simulator.

Security: the session cookie is ``HttpOnly``, ``SameSite=Strict``, ``Secure`` under TLS, and
ends after ``SESSION_S`` or when the user is no longer an admin; every action needs the
session's CSRF token (header ``X-CSRF-Token``); the login form carries a token matched against
a cookie. Scripts come from this package (plotly from its PyPI package): nothing from a CDN.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import secrets
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web

from tradewire.exceptions import FrameError
from tradewire.hub.acl import may
from tradewire.hub.channel_pages import ChannelPages, Viewer
from tradewire.hub.dashboard_data import DashboardHost, TickWatch, snapshot
from tradewire.hub.events import HubEvents, TicksStored
from tradewire.model import BanRecord, UserRecord
from tradewire.protocol.codec import encode
from tradewire.protocol.messages import Bye

log = logging.getLogger(__name__)

COOKIE = "tw_dashboard"
LOGIN_COOKIE = "tw_login"
SESSION_S = 8 * 3600
STATIC = files("tradewire.hub").joinpath("static")


AUDIT_PAGE = 50  # rows per page of the audit log
AUDIT_PAGE_MAX = 500


def _may_log_in(user: UserRecord) -> bool:
    """Admins, and followers and providers for their channels' pages; not workers."""
    return user.role in ("admin", "follower", "provider")


@dataclass
class WebSession:
    user: str
    csrf: str
    expires: float


class Dashboard:
    def __init__(self, hub: DashboardHost, secure: bool, events: HubEvents) -> None:
        self._hub = hub
        self._secure = secure
        self._sessions: dict[str, WebSession] = {}
        self._closing = asyncio.Event()  # ends the event streams at shutdown
        self.ticks = TickWatch()
        events.subscribe(TicksStored, lambda stored: self.ticks.on_ticks(stored.rows))

    def routes(self, app: web.Application) -> None:
        app.on_response_prepare.append(_protective_headers)
        app.router.add_get("/", self._page)
        app.router.add_get("/login", self._login_page)
        app.router.add_post("/login", self._login)
        app.router.add_post("/logout", self._logout)
        app.router.add_get("/events", self._events)
        app.router.add_get("/api/audit", self._audit)
        app.router.add_post("/api/ban/lift", self._lift)
        app.router.add_post("/api/session/kick", self._kick)
        app.router.add_get("/static/dashboard.js", self._script)
        app.router.add_get("/static/plotly.min.js", self._plotly)
        pages = ChannelPages(
            self._hub.history,
            self._hub.config.history,
            self._viewer,
            self._user_action,
            _address,
            self._hub.auditor.audit,
        )
        pages.routes(app)

    # ---- sessions ------------------------------------------------------------------------------

    async def _login_session(self, request: web.Request) -> tuple[WebSession, UserRecord] | None:
        """The request's session and its user, read afresh: a user disabled or deleted is
        logged out at once."""
        token = request.cookies.get(COOKIE, "")
        found = self._sessions.get(token)
        if found is None or found.expires < time.monotonic():
            self._sessions.pop(token, None)
            return None
        user = await asyncio.get_running_loop().run_in_executor(
            None, self._hub.store.get_user, found.user
        )
        if user is None or user.disabled or not _may_log_in(user):
            self._sessions.pop(token, None)  # access taken back: at once
            return None
        return found, user

    async def _session(self, request: web.Request) -> WebSession | None:
        """An admin's session (the dashboard's own pages and actions)."""
        got = await self._login_session(request)
        return got[0] if got is not None and may(got[1], "admin") else None

    async def _viewer(self, request: web.Request) -> Viewer | None:
        """Who is looking at a channel page: any logged-in user, with the session's token."""
        got = await self._login_session(request)
        return None if got is None else Viewer(got[1], got[0].csrf)

    async def _action(self, request: web.Request) -> WebSession:
        """An admin session whose CSRF token came with the request, else 403."""
        found = await self._checked(request)
        if found is None:
            raise web.HTTPForbidden(text="log in as an admin first")
        return found

    async def _user_action(self, request: web.Request) -> UserRecord:
        """Any logged-in user whose CSRF token came with the request, else 403."""
        got = await self._login_session(request)
        if got is None or await self._checked(request, got[0]) is None:
            raise web.HTTPForbidden(text="log in first")
        return got[1]

    async def _checked(
        self, request: web.Request, found: WebSession | None = None
    ) -> WebSession | None:
        found = found or await self._session(request)
        if found is None:
            return None
        if not secrets.compare_digest(request.headers.get("X-CSRF-Token", ""), found.csrf):
            self._hub.auditor.audit(
                "refused", found.user, _address(request), "dashboard: no CSRF token"
            )
            raise web.HTTPForbidden(text="missing or wrong CSRF token")
        return found

    def _cookie(self, response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="Strict", secure=self._secure,
            path="/",
        )  # fmt: skip

    # ---- pages ---------------------------------------------------------------------------------

    async def _login_page(self, request: web.Request, error: str = "") -> web.Response:
        token = secrets.token_urlsafe(24)
        page = (STATIC / "login.html").read_text().replace("{{csrf}}", token)
        page = page.replace("{{error}}", html.escape(error))
        response = web.Response(text=page, content_type="text/html", status=403 if error else 200)
        self._cookie(response, LOGIN_COOKIE, token, 600)
        return response

    async def _login(self, request: web.Request) -> web.Response:
        form = await request.post()
        name, password = str(form.get("user", "")), str(form.get("password", ""))
        if not secrets.compare_digest(
            str(form.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "-")
        ):
            return await self._login_page(request, "the form expired: try again")
        address = _address(request)
        try:
            user = await self._hub.auth.login(name, password, address)
        except FrameError as exc:
            return await self._login_page(request, f"{exc.msg or exc.code}")
        if user is None:
            return await self._login_page(request, "wrong user name or password")
        if not _may_log_in(user):
            self._hub.auditor.audit("refused", name, address, "dashboard: a worker")
            return await self._login_page(request, "workers have no web pages")
        token = secrets.token_urlsafe(32)
        self._sessions[token] = WebSession(
            name, secrets.token_urlsafe(32), time.monotonic() + SESSION_S
        )
        self._hub.auditor.audit("dashboard_login", name, address)
        log.info("dashboard login: %s from %s", name, address)
        # Admins get the dashboard; followers and providers the pages of their channels.
        response = web.HTTPSeeOther("/" if may(user, "admin") else "/channels")
        self._cookie(response, COOKIE, token, SESSION_S)
        response.del_cookie(LOGIN_COOKIE, path="/")
        raise response

    async def _logout(self, request: web.Request) -> web.Response:
        found = await self._action(request)
        self._sessions = {k: v for k, v in self._sessions.items() if v is not found}
        response = web.HTTPSeeOther("/login")
        response.del_cookie(COOKIE, path="/")
        raise response

    async def _page(self, request: web.Request) -> web.Response:
        found = await self._session(request)
        if found is None:
            raise web.HTTPSeeOther("/channels" if await self._viewer(request) else "/login")
        page = (STATIC / "dashboard.html").read_text()
        page = page.replace("{{csrf}}", found.csrf).replace("{{user}}", html.escape(found.user))
        return web.Response(text=page, content_type="text/html")

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if await self._session(request) is None:
            raise web.HTTPForbidden(text="log in first")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        while not self._closing.is_set() and await self._session(request) is not None:
            # msgspec writes a non-finite number as null, which every browser parses (the
            # standard encoder writes Infinity, which none does)
            data = msgspec.json.encode(snapshot(self._hub, self.ticks))
            await response.write(b"data: " + data + b"\n\n")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._closing.wait()
        return response

    def close(self) -> None:
        self._closing.set()

    async def _audit(self, request: web.Request) -> web.Response:
        if await self._session(request) is None:
            raise web.HTTPForbidden(text="log in first")
        query = request.query
        try:
            limit = min(AUDIT_PAGE_MAX, max(1, int(query.get("limit", AUDIT_PAGE))))
            before = int(query["before"]) if query.get("before") else None
        except ValueError:
            raise web.HTTPBadRequest(text="limit and before must be whole numbers") from None
        rows = await self._hub.store.audit_page(
            limit + 1,  # one more: is there an older page?
            event_prefix=query.get("event") or None,
            user=query.get("user") or None,
            address_prefix=query.get("address") or None,
            before_id=before,
        )
        keys = ("id", "ts_ms", "event", "user", "address", "detail")
        page = [dict(zip(keys, row, strict=True)) for row in rows[:limit]]
        older = page[-1]["id"] if len(rows) > limit else None
        return web.json_response({"rows": page, "older": older})

    # ---- actions -------------------------------------------------------------------------------

    async def _lift(self, request: web.Request) -> web.Response:
        found = await self._action(request)
        address = str((await _json_object(request)).get("address", ""))
        bans = self._hub.auth.bans
        ban = next((b for b in bans.active() if b.address == bans.key(address)), None)
        if ban is None:
            return web.json_response({"error": f"{address} is not banned"}, status=404)
        bans.lift(address)
        self._hub.store.put_ban(BanRecord(ban.address, 0, ban.offenses))
        self._hub.auditor.audit(
            "ban_lift", found.user, _address(request), f"{ban.address} (dashboard)"
        )
        return web.json_response({"lifted": ban.address})

    async def _kick(self, request: web.Request) -> web.Response:
        found = await self._action(request)
        session_id = str((await _json_object(request)).get("session", ""))
        targets = [
            c for c in self._hub.connections if c.user is not None and c.session_id == session_id
        ]
        for target in targets:
            target.close(encode(Bye(reason="kicked")))
            target.end_reason = f"kicked by {found.user} (dashboard)"
        self._hub.auditor.audit(
            "kick", found.user, _address(request), f"session={session_id} closed={len(targets)}"
        )
        return web.json_response({"closed": len(targets)})

    async def _script(self, request: web.Request) -> web.Response:
        return web.Response(
            text=(STATIC / "dashboard.js").read_text(), content_type="application/javascript"
        )

    async def _plotly(self, request: web.Request) -> web.FileResponse:
        import plotly  # type: ignore[import-untyped]

        return web.FileResponse(Path(plotly.__file__).parent / "package_data" / "plotly.min.js")


# No framing (clickjacking), no sniffing of types, scripts only from the hub itself; plotly sets
# inline styles, so styles may be inline.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'",
}


async def _protective_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, or 400 saying what is expected."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text='the body must be a JSON object, e.g. {"address": "..."}')
    return body


def _address(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    return str(peer[0]) if peer else "unknown"
