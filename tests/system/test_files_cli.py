"""`tradewire files put|get|list` against a hub process; the template reaches port 8080."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
from pathlib import Path

from tests.system.test_ticks_cli import PASSWORD, TRADEWIRE, run
from tradewire.protocol.legacy import parse_template_payload

TEMPLATE = "<chart>\r\nsymbol=EURUSD\r\n</chart>\r\n".encode("utf-16-le")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_put_get_list_and_the_template_listener(tmp_path: Path) -> None:
    assert (
        run(
            "user", "add", "alice", "--role", "provider", cwd=tmp_path, stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    assert (
        run(
            "user", "add", "bob", "--role", "follower", cwd=tmp_path, stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    assert (
        run("user", "add", "ops", "--role", "admin", cwd=tmp_path, stdin=PASSWORD + "\n").returncode
        == 0
    )
    template_port = free_port()
    (tmp_path / "hub.toml").write_text(
        f'[listeners.template]\nenabled = true\nport = {template_port}\nname = "chart"\n'
    )
    (tmp_path / "chart.tpl").write_bytes(TEMPLATE)
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--config", "hub.toml", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.DEVNULL,
    )
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    hub_at = ("--hub", f"127.0.0.1:{port}")
    try:
        put_chart = ("files", "put", "chart", "chart.tpl", "--symbol", "EURUSD", "--period", "60")
        put = run(*put_chart, *hub_at, "--user", "alice", cwd=tmp_path)
        assert put.returncode == 1 and "only an admin" in put.stderr  # the served template
        put = run(*put_chart, *hub_at, "--user", "ops", cwd=tmp_path)
        assert put.returncode == 0, put.stderr
        assert "stored chart version 1" in put.stdout
        missing_meta = run(
            "files", "put", "chart", "chart.tpl", *hub_at, "--user", "ops", cwd=tmp_path
        )
        assert missing_meta.returncode == 1 and "symbol" in missing_meta.stderr
        assert len(missing_meta.stderr.strip().splitlines()) == 1
        refused = run("files", "put", "x", "chart.tpl", *hub_at, "--user", "bob", cwd=tmp_path)
        assert refused.returncode == 1 and "forbidden" in refused.stderr
        got = run("files", "get", "chart", "-o", "copy.tpl", *hub_at, "--user", "bob", cwd=tmp_path)
        assert got.returncode == 0, got.stderr
        assert (tmp_path / "copy.tpl").read_bytes() == TEMPLATE
        listed = run("files", "list", *hub_at, "--user", "bob", cwd=tmp_path)
        assert listed.returncode == 0 and "chart" in listed.stdout and "period=60" in listed.stdout
        absent = run("files", "get", "nope", *hub_at, "--user", "bob", cwd=tmp_path)
        assert absent.returncode == 1 and "not_found" in absent.stderr
        with socket.create_connection(("127.0.0.1", template_port), timeout=5) as conn:
            payload = b""
            while chunk := conn.recv(65536):
                payload += chunk
        assert parse_template_payload(payload) == ("EURUSD", 60, TEMPLATE)
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=10) == 0


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"x")
    for args, expected in [
        (("files", "put", "bad name", "f.bin", "--hub", "127.0.0.1:1", "--user", "a"), "file name"),
        (
            (
                "files",
                "put",
                "ok",
                "f.bin",
                "--meta",
                "novalue",
                "--hub",
                "127.0.0.1:1",
                "--user",
                "a",
            ),
            "KEY=VALUE",
        ),
        (
            ("files", "put", "ok", "f.bin", "--period", "0", "--hub", "127.0.0.1:1", "--user", "a"),
            "period",
        ),
        (("files", "get", "ok", "--hub", "nohost", "--user", "a"), "HOST:PORT"),
        (("files", "list", "--hub", "127.0.0.1:1", "--user", "a"), "cannot connect"),
    ]:
        result = run(*args, cwd=tmp_path)
        assert result.returncode != 0, args
        assert expected in result.stderr, (args, result.stderr)
