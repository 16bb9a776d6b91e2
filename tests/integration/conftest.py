"""A watchdog for hangs: if an integration test is still running after 60 s, print every
asyncio task's stack (pytest-timeout's thread dump cannot show coroutines) before the
120 s timeout ends the run. And hubs sharing one real nats-server (``nats_hub``)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import add_user, grant, make_config
from tradewire.bus.nats_server import NatsServer
from tradewire.config import JobSettings, NatsSettings, SentimentSettings
from tradewire.hub.server import Hub

WATCHDOG_S = 60.0


@pytest.fixture(autouse=True)
async def _asyncio_task_watchdog() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()

    def dump() -> None:
        print(f"\n=== still running after {WATCHDOG_S:.0f} s: asyncio tasks ===", file=sys.stderr)
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=sys.stderr)
        sys.stderr.flush()

    timer = threading.Timer(WATCHDOG_S, dump)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()


StartHub = Callable[..., Awaitable[Hub]]


def users(path: Path) -> Path:
    """The users every hub of a NATS test starts with (each hub has its own data directory)."""
    add_user(path, "alice", "provider", ["alpha"])
    add_user(path, "bob", "follower", ["alpha"])
    grant(path, "alice", "topic:px.*")
    grant(path, "bob", "topic:px.*", "relay:term")
    add_user(path, "term", "follower")
    add_user(path, "root", "admin")
    for worker in ("w1", "w2"):
        add_user(path, worker, "worker")
    return path


@pytest.fixture
async def nats_hub(tmp_path: Path, nats_server: NatsServer) -> AsyncIterator[StartHub]:
    """``await nats_hub(name, empty=False, sentiment=None, **nats_settings)``: a hub on its own
    data directory (``empty``: no users of its own) sharing the test's nats-server."""
    hubs: list[Hub] = []

    async def start(
        name: str,
        empty: bool = False,
        sentiment: SentimentSettings | None = None,
        jobs: JobSettings | None = None,
        **nats: Any,
    ) -> Hub:
        settings = NatsSettings(**{"servers": [nats_server.url], **nats})
        data = tmp_path / name if empty else users(tmp_path / name)
        sections: dict[str, Any] = {"sentiment": sentiment} if sentiment else {}
        if jobs is not None:
            sections["jobs"] = jobs
        hub = Hub(make_config(nats=settings, **sections), data)
        await hub.start()
        hubs.append(hub)
        return hub

    yield start
    for hub in hubs:
        await hub.stop()
