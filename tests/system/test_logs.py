"""The hub's log on stderr when it is not a terminal: one line per record (text) or one JSON
object per line, with logins, failures and session ends at INFO."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.security.hubproc import add_cli_user, login
from tests.system.test_ticks_cli import TRADEWIRE


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_logins_failures_and_session_ends_are_logged_one_line_each(
    tmp_path: Path, fmt: str
) -> None:
    add_cli_user(tmp_path / "data", "bob", "follower")
    hub = subprocess.Popen(
        [TRADEWIRE, "--log-format", fmt, "serve", "--port", "0", "--data", "data"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hub.stdout is not None
    port = int(re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1))  # type: ignore[union-attr]

    async def visit() -> None:
        _, writer, welcome = await login(port, "bob")
        assert welcome["t"] == "welcome"
        writer.close()
        _, other, refused = await login(port, "bob", "wrong-password")
        assert refused["code"] == "auth_failed"
        other.close()
        await asyncio.sleep(0.3)

    asyncio.run(visit())
    hub.send_signal(signal.SIGTERM)
    _, err = hub.communicate(timeout=15)
    lines = err.splitlines()
    if fmt == "json":
        records = [json.loads(line) for line in lines]  # every line is one object
        messages = [r["msg"] for r in records]
        assert all({"ts", "level", "logger", "msg"} <= r.keys() for r in records)
    else:
        stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (DEBUG|INFO|WARNING|ERROR) [\w.]+: "
        assert all(re.match(stamp, line) for line in lines), lines
        messages = [re.sub(stamp, "", line) for line in lines]
    assert any(m.startswith("login: bob from 127.0.0.1 (follower)") for m in messages), messages
    assert any(m.startswith("login failed: 'bob' from 127.0.0.1") for m in messages), messages
    assert any(m.startswith("session end: bob from 127.0.0.1") for m in messages), messages
    assert PASSWORD not in err and "wrong-password" not in err
