"""``tradewire follow --page 127.0.0.1:8480``: the follower's own page (docs/follower-page.md),
served by the copying process itself for each account it copies (one for ``follow``, every
account of an engine): P/L from the broker (realized since start, floating), each target
against what is held (volumes, stops, pending orders), copy quality (latency, slippage, skips,
refusals), and the journal as a table with filters.

The page has no login, so it listens on a loopback address only, and it reads: nothing on it
can trade. Requests are few (a person looking) and cheap; the journal is read off the loop.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import statistics
from collections import Counter
from collections.abc import Callable, Mapping
from importlib.resources import files
from pathlib import Path
from typing import Any

from aiohttp import web

from tradewire.brokers.base import DealHistory
from tradewire.clients.follower import Follower
from tradewire.clients.follower_status import status_of
from tradewire.exceptions import BrokerError, ConfigError

STATIC = files("tradewire.cli").joinpath("static")
JOURNAL_TAIL = 20_000  # journal lines the table filters, the newest
TAIL_BYTES = 8 << 20  # read from the journal's end, at most
PAGE_ROWS = 200

Accounts = Callable[[], Mapping[str, Follower]]


def page_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` on a loopback address; raises ConfigError saying why not."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--page {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8480")
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"--page {text!r}: the follower page has no login, so it listens on a loopback "
            "address only (127.0.0.1 or ::1); reach it from elsewhere through an SSH tunnel"
        )
    return host, int(port)


async def realized(follower: Follower) -> float | None:
    """Profit, commission and swap of the follower's own deals since it started (None: the
    broker keeps no deal history)."""
    broker = follower.broker
    if not isinstance(broker, DealHistory):
        return None
    try:
        deals = await broker.deals_since(follower.started_ms)
    except BrokerError:
        return None
    mine = [d for d in deals if d.magic == follower.rules.magic]
    return round(sum(d.profit + d.commission + d.swap for d in mine), 2)


def quality(follower: Follower) -> dict[str, Any]:
    journal = follower.journal
    latencies = sorted(journal.latencies_ms)
    slips = list(journal.slippage_points)

    def pct(q: float) -> float | None:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else None

    return {
        "fills": journal.counts["fill"],
        "skips": journal.counts["skip"],
        "rejects": journal.counts["reject"],
        "errors": journal.counts["error"],
        "latency_ms_p50": pct(0.5),
        "latency_ms_p99": pct(0.99),
        # positive: filled worse than the provider (docs/copying.md)
        "slippage_points_mean": round(statistics.mean(slips), 2) if slips else None,
    }


async def summary(name: str, follower: Follower, with_realized: bool = False) -> dict[str, Any]:
    """One account's line. ``with_realized`` reads the broker's deal history (the account
    picked): the list of an engine's thousand accounts reads none, every 2 s."""
    view = follower.last_view
    account = view.account if view is not None else None
    return {
        "account": name,
        "channels": follower.channels,
        "in_sync": follower.in_sync(),
        "balance": account.balance if account else None,
        "equity": account.equity if account else None,
        "currency": account.currency if account else "",
        "floating": round(account.equity - account.balance, 2) if account else None,
        "realized": await realized(follower) if with_realized else None,
        "stopped": follower.stopped or bool(follower.breaker.tripped),
        **quality(follower),
    }


def journal_rows(follower: Follower, asked: Mapping[str, str]) -> list[dict[str, Any]]:
    """The journal's newest entries matching the filters (``event``, ``symbol``,
    ``before_ms``), at most PAGE_ROWS; read from its file when it has one."""
    path = follower.journal.path
    entries: list[dict[str, Any]]
    if path is not None and Path(path).exists():
        with Path(path).open("rb") as fh:  # the end only: a journal grows for months
            size = fh.seek(0, 2)
            fh.seek(max(0, size - TAIL_BYTES))
            lines = fh.read().splitlines()
        if size > TAIL_BYTES:
            lines = lines[1:]  # the first is cut
        entries = []
        for line in lines[-JOURNAL_TAIL:]:
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue  # a line being written
    else:
        entries = list(follower.journal.recent)
    event, symbol = asked.get("event", ""), asked.get("symbol", "").upper()
    before = int(asked["before_ms"]) if asked.get("before_ms", "").isdigit() else None
    rows = [
        e
        for e in reversed(entries)
        if (not event or e.get("event") == event)
        and (not symbol or str(e.get("symbol", "")).upper() == symbol)
        and (before is None or int(e.get("time_ms", 0)) < before)
    ]
    return rows[:PAGE_ROWS]


class FollowerPage:
    def __init__(self, accounts: Accounts) -> None:
        self._accounts = accounts

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_get("/follower.js", self._script)
        app.router.add_get("/api/accounts", self._list)
        # ?name=: an engine's account names may hold a "/" (USER/CHANNEL)
        app.router.add_get("/api/account", self._detail)
        app.router.add_get("/api/journal", self._journal)
        return app

    def _follower(self, request: web.Request) -> Follower:
        found = self._accounts().get(request.query.get("name", ""))
        if found is None:
            raise web.HTTPNotFound(text="no such account")
        return found

    async def _page(self, request: web.Request) -> web.Response:
        page = (STATIC / "follower.html").read_text()
        return web.Response(text=page, content_type="text/html")

    async def _script(self, request: web.Request) -> web.Response:
        script = (STATIC / "follower.js").read_text()
        return web.Response(text=script, content_type="application/javascript")

    async def _list(self, request: web.Request) -> web.Response:
        rows = [await summary(name, f) for name, f in self._accounts().items()]
        return web.json_response(rows)

    async def _detail(self, request: web.Request) -> web.Response:
        follower = self._follower(request)
        detail = status_of(follower)
        detail["summary"] = await summary(request.query["name"], follower, with_realized=True)
        detail["skipped"] = Counter(
            e.get("reason", "") for e in follower.journal.recent if e["event"] == "skip"
        ).most_common(10)
        return web.json_response(detail, dumps=lambda o: json.dumps(o, default=str))

    async def _journal(self, request: web.Request) -> web.Response:
        follower = self._follower(request)
        rows = await asyncio.to_thread(journal_rows, follower, request.query)
        return web.json_response(rows, dumps=lambda o: json.dumps(o, default=str))


async def serve_page(address: tuple[str, int], accounts: Accounts) -> None:
    """Serve the page until cancelled."""
    runner = web.AppRunner(FollowerPage(accounts).app(), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, address[0], address[1]).start()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
