"""`tradewire relay send|listen` between two processes through a hub process."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import msgspec

from tests.conftest import PASSWORD
from tests.security.hubproc import add_cli_user, hub_process
from tests.system.test_ticks_cli import TRADEWIRE

ENV = {**os.environ, "TRADEWIRE_PASSWORD": PASSWORD}


def tradewire(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEWIRE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, env=ENV
    )


def test_send_and_request_through_the_hub_and_a_refused_grant(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "term1", "follower")
    add_cli_user(data, "bob", "follower")
    add_cli_user(data, "eve", "follower")
    bad = tradewire("user", "grant", "bob", "relay:", "--data", str(data), cwd=tmp_path)
    assert bad.returncode != 0 and "relay:USER" in bad.stderr
    assert (
        tradewire("user", "grant", "bob", "relay:term1", "--data", "data", cwd=tmp_path).returncode
        == 0
    )
    with hub_process(tmp_path, "") as port:
        at = ("--hub", f"127.0.0.1:{port}")
        listener = subprocess.Popen(
            [TRADEWIRE, "relay", "listen", "--echo", "--count", "2", *at, "--user", "term1"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
        )
        try:
            assert listener.stderr is not None
            assert "listening as term1" in listener.stderr.readline()
            sent = tradewire(
                "relay", "send", "term1", '{"n":1}', *at, "--user", "bob", cwd=tmp_path
            )
            assert sent.returncode == 0, sent.stderr
            asked = tradewire(
                "relay",
                "send",
                "term1",
                '{"op":"account"}',
                "--request",
                *at,
                "--user",
                "bob",
                cwd=tmp_path,
            )
            assert asked.returncode == 0, asked.stderr
            assert msgspec.json.decode(asked.stdout) == {"op": "account"}  # echoed
            out, _ = listener.communicate(timeout=30)
        finally:
            listener.kill()
        lines = [msgspec.json.decode(line) for line in out.splitlines()]
        assert lines == [
            {"from": "bob", "to": "term1", "body": {"n": 1}, "request": False},
            {"from": "bob", "to": "term1", "body": {"op": "account"}, "request": True},
        ]
        refused = tradewire("relay", "send", "term1", "{}", *at, "--user", "eve", cwd=tmp_path)
        assert refused.returncode != 0 and "forbidden" in refused.stderr
        gone = tradewire("relay", "send", "term1", "{}", *at, "--user", "bob", cwd=tmp_path)
        assert gone.returncode != 0 and "unreachable" in gone.stderr
        bad_json = tradewire("relay", "send", "term1", "{nope", *at, "--user", "bob", cwd=tmp_path)
        assert bad_json.returncode != 0 and "not valid JSON" in bad_json.stderr


def test_the_sentiment_command_shows_the_crowd(tmp_path: Path) -> None:
    import asyncio

    from tests.security.hubproc import login

    data = tmp_path / "data"
    for name in ("u1", "u2", "u3"):
        add_cli_user(data, name, "follower")
    config = "[sentiment]\ninterval_s = 0.05\n"
    with hub_process(tmp_path, config) as port:

        async def contribute() -> list[object]:
            clients = [await login(port, name) for name in ("u1", "u2", "u3")]
            for n, (reader, writer, _) in enumerate(clients):
                put = {"t": "sentiment_put", "symbol": "EURUSD", "long": n + 1, "id": 1}
                put |= {"long_price": 1.1, "ttl_s": 60}
                writer.write(msgspec.json.encode(put) + b"\n")
                assert b'"ack"' in await reader.readline()
            return clients

        async def run() -> str:
            clients = await contribute()
            shown = await asyncio.to_thread(
                tradewire, "sentiment", "--hub", f"127.0.0.1:{port}", "--user", "u1", cwd=tmp_path
            )
            for _, writer, _ in clients:  # type: ignore[misc]
                writer.close()
            assert shown.returncode == 0, shown.stderr
            return shown.stdout

        out = asyncio.run(run())

    row = next(line for line in out.splitlines() if "EURUSD" in line)
    assert "100.0" in row and "6" in row and "1.1" in row and "3" in row, out


def test_topic_pub_and_sub_between_processes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "alice", "provider")
    add_cli_user(data, "bob", "follower")
    for user, pattern in (("alice", "topic:levels.*"), ("bob", "topic:levels.*")):
        granted = tradewire("user", "grant", user, pattern, "--data", "data", cwd=tmp_path)
        assert granted.returncode == 0, granted.stderr
    with hub_process(tmp_path, "") as port:
        at = ("--hub", f"127.0.0.1:{port}")
        first = tradewire(
            "topic", "pub", "levels.EURUSD", '{"s":1.08}', *at, "--user", "alice", cwd=tmp_path
        )
        assert first.returncode == 0 and "levels.EURUSD seq 1" in first.stdout, first.stderr
        sub = subprocess.Popen(
            [TRADEWIRE, "topic", "sub", "levels.*", "--count", "2", *at, "--user", "bob"],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
        )  # fmt: skip
        try:
            assert sub.stdout is not None
            retained = msgspec.json.decode(sub.stdout.readline())
            assert (retained["topic"], retained["value"]) == ("levels.EURUSD", {"s": 1.08})
            second = tradewire(
                "topic", "pub", "levels.GBPUSD", "1.27", *at, "--user", "alice", cwd=tmp_path
            )
            assert second.returncode == 0, second.stderr
            out, _ = sub.communicate(timeout=30)
        finally:
            sub.kill()
        assert msgspec.json.decode(out)["value"] == 1.27
        refused = tradewire("topic", "pub", "news", "1", *at, "--user", "alice", cwd=tmp_path)
        assert refused.returncode != 0 and "forbidden" in refused.stderr
        bad = tradewire("topic", "pub", "levels.x", "{oops", *at, "--user", "alice", cwd=tmp_path)
        assert bad.returncode != 0 and "not valid JSON" in bad.stderr


def test_the_status_command_shows_the_hubs_metrics_to_admins_only(tmp_path: Path) -> None:
    data = tmp_path / "data"
    add_cli_user(data, "root", "admin")
    add_cli_user(data, "bob", "follower")
    with hub_process(tmp_path, "") as port:
        at = ("--hub", f"127.0.0.1:{port}")
        shown = tradewire("status", *at, "--user", "root", cwd=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "tradewire 0." in shown.stdout and "up " in shown.stdout
        assert re.search(r"logins_total\s+│\s+outcome=ok\s+│\s+1", shown.stdout), shown.stdout
        assert "publish_fanout_seconds" in shown.stdout
        refused = tradewire("status", *at, "--user", "bob", cwd=tmp_path)
        assert refused.returncode != 0 and "forbidden" in refused.stderr
