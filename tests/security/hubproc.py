"""A hub as a separate process (``tradewire serve``) for the attack tests, so the attacker's load
and the hub's event loop do not share one interpreter; and a ping probe that measures how fast
the hub answers while under attack."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import PASSWORD
from tests.system.test_ticks_cli import TRADEWIRE


@contextmanager
def hub_process(tmp_path: Path, config: str) -> Iterator[int]:
    """Run ``tradewire serve`` with ``config`` (TOML text) on a free port; yields the port."""
    (tmp_path / "hub.toml").write_text(config)
    hub = subprocess.Popen(
        [
            TRADEWIRE,
            "serve",
            "--config",
            "hub.toml",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--data",
            "data",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert hub.stdout is not None
    found = re.search(r":(\d+)\s*$", hub.stdout.readline())
    assert found, "the hub did not start"
    try:
        yield int(found.group(1))
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0, "the hub did not stop cleanly"


async def login(
    port: int, user: str, password: str = PASSWORD, local_host: str | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, dict[str, object]]:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, local_addr=(local_host, 0) if local_host else None
    )
    writer.write(
        json.dumps({"t": "hello", "v": 1, "user": user, "password": password}).encode() + b"\n"
    )
    line = await reader.readline()
    return reader, writer, json.loads(line) if line else {}


class PingProbe:
    """A logged-in client that pings every ``interval_s`` and records round trips (ms)."""

    def __init__(self, port: int, user: str, interval_s: float = 0.01) -> None:
        self.port, self.user, self.interval_s = port, user, interval_s
        self.rtts_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> PingProbe:
        reader, writer, welcome = await login(self.port, self.user)
        assert welcome.get("t") == "welcome", welcome
        self._task = asyncio.create_task(self._run(reader, writer))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            for n in range(10**9):
                started = time.perf_counter()
                writer.write(b'{"t":"ping","id":%d}\n' % n)
                while b'"pong"' not in await reader.readline():
                    pass
                self.rtts_ms.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(self.interval_s)
        finally:
            writer.close()

    def percentile(self, p: float) -> float:
        ordered = sorted(self.rtts_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def add_cli_user(data: Path, name: str, role: str, channel: str = "alpha") -> None:
    """``tradewire user add`` as an operator runs it, on the data directory ``data``."""
    done = subprocess.run(
        [TRADEWIRE, "user", "add", name, "--role", role, "--channel", channel, "--data", str(data)],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
