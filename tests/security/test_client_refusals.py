"""Long-running clients and refusals (issue 12, item 9): every disconnect, refusal and
reconnect is logged at INFO with its reason; a ban is retried at least every 30 s (here a
shorter cap), so a lifted ban is noticed; `provide` keeps running while the hub refuses it."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, HubFactory
from tests.security.hubproc import add_cli_user, hub_process, login
from tests.system.test_ticks_cli import TRADEWIRE
from tradewire.clients import HubClient
from tradewire.config import BanSettings
from tradewire.protocol.messages import Account

ACCOUNT = Account("5012345", "USD", 10_000, 10_000, 100, "netting")


async def test_a_banned_client_logs_why_retries_and_resumes_after_a_lift(
    start_hub: HubFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await start_hub()
    host, port = hub.addresses[0]
    client = HubClient(host, port, "alice", PASSWORD, max_refused_wait_s=0.5)
    caplog.set_level(logging.INFO, logger="tradewire.clients.hub_client")
    async with client:
        assert await client.publish_state("alpha", ACCOUNT, [], ts=1) == 1
        for _ in range(5):  # the client's address gets banned (a day, by default doubling)
            hub.auth.bans.record_failure("127.0.0.1")
        for conn in list(hub.connections):
            conn.close()  # its connection drops: the reconnect is refused
        started = time.monotonic()
        while "refused the login (banned" not in caplog.text:
            assert time.monotonic() - started < 5, caplog.text
            await asyncio.sleep(0.05)
        hub.auth.bans.lift("127.0.0.1")  # what `tradewire ban lift` does within 5 s
        seq = await client.publish_state("alpha", ACCOUNT, [], ts=2)
    assert seq == 2
    text = caplog.text
    assert "disconnected from hub" in text and "reconnecting" in text
    assert re.search(r"refused the login \(banned: .*\); retrying in 0\.5 s", text)
    assert "connected to hub" in text
    assert client.reconnects == 1


def test_provide_keeps_running_while_banned_and_publishes_once_the_ban_ends(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "alice", "provider")
    ban = BanSettings(duration_s=3)
    config = f"[ban]\nduration_s = {ban.duration_s}\n"
    with hub_process(tmp_path, config) as port:

        async def guesses() -> None:
            for n in range(5):
                _, writer, _ = await login(port, "alice", f"wrong-{n}", local_host="127.0.0.1")
                writer.close()

        asyncio.run(guesses())  # 127.0.0.1, where `provide` connects from, is banned for 3 s
        provide = subprocess.Popen(
            [
                TRADEWIRE,
                "provide",
                "--hub",
                f"127.0.0.1:{port}",
                "--user",
                "alice",
                "--channel",
                "alpha",
                "--broker",
                f"paper:{tmp_path / 'p.db'}",
            ],
            env={"TRADEWIRE_PASSWORD": PASSWORD, "PATH": "/usr/bin:/bin", "COLUMNS": "200"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 20
            seq = None
            while time.monotonic() < deadline and seq is None:
                assert provide.poll() is None, provide.communicate()
                time.sleep(0.2)
                with sqlite3.connect(data / "state.db") as conn:
                    row = conn.execute("SELECT seq FROM channel_states").fetchone()
                seq = row[0] if row else None
        finally:
            provide.terminate()
            _, stderr = provide.communicate(timeout=15)
    assert seq == 1, stderr
    assert "refused the login (banned" in stderr
    assert "connected to hub" in stderr
