"""The command line as a user runs it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
PASSWORD = "system-test-password"


def run(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEWIRE, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name, role in (("alice", "provider"), ("bob", "follower")):
        done = run(
            "user",
            "add",
            name,
            "--role",
            role,
            "--channel",
            "alpha",
            stdin=PASSWORD + "\n",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        assert f"created {role} {name}" in done.stdout
    return tmp_path


@pytest.fixture
def served(workdir: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    config = workdir / "tradewire.toml"
    config.write_text('[hub]\nhost = "127.0.0.1"\nport = 0\nheartbeat_s = 5\n')
    proc = subprocess.Popen(
        [TRADEWIRE, "serve", "--config", str(config)],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r"listening on tcp://127\.0\.0\.1:(\d+)", line)
    assert match, line + (proc.stderr.read() if proc.poll() is not None else "")
    yield proc, int(match.group(1))
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def send(sock: socket.socket, frame: dict[str, object]) -> None:
    sock.sendall(json.dumps(frame).encode() + b"\n")


def test_serve_then_raw_clients_log_in_subscribe_and_receive(
    served: tuple[subprocess.Popen[str], int], workdir: Path
) -> None:
    proc, port = served
    # The README's raw client, run exactly as documented.
    reader = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "examples" / "raw_client.py"),
            "127.0.0.1",
            str(port),
            "bob",
            "alpha",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "TRADEWIRE_PASSWORD": PASSWORD},
    )
    assert reader.stdout is not None
    assert "'t': 'welcome'" in reader.stdout.readline()
    assert "'t': 'ack'" in reader.stdout.readline()

    # The README's publisher, run exactly as documented.
    published = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "publish_state.py"), f"127.0.0.1:{port}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**os.environ, "TRADEWIRE_PASSWORD": PASSWORD},
    )
    assert published.stdout.strip() == "seq 1", published.stderr
    first = reader.stdout.readline()
    assert "'seq': 1" in first and "EURUSD" in first

    provider = socket.create_connection(("127.0.0.1", port))
    lines = provider.makefile("rb")
    send(provider, {"t": "hello", "v": 1, "user": "alice", "password": PASSWORD})
    assert json.loads(lines.readline())["t"] == "welcome"
    send(
        provider,
        {
            "t": "state",
            "id": 5,
            "ch": "alpha",
            "ts": 1700000000123,
            "account": {
                "login": "1",
                "currency": "USD",
                "balance": 1e4,
                "equity": 1e4,
                "leverage": 100,
                "mode": "netting",
            },
            "positions": [
                {
                    "id": "1",
                    "symbol": "GBPUSD",
                    "side": "sell",
                    "volume": 0.1,
                    "price": 1.26,
                    "time": 1700000000000,
                }
            ],
        },
    )
    assert json.loads(lines.readline()) == {"t": "ack", "re": 5, "seq": 2}
    state = reader.stdout.readline()
    assert "'seq': 2" in state and "GBPUSD" in state

    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert json.loads(lines.readline()) == {"t": "bye", "reason": "shutdown"}
    assert "'reason': 'shutdown'" in reader.stdout.readline()
    reader.wait(timeout=5)


def test_sigint_stops_the_hub_with_exit_0(served: tuple[subprocess.Popen[str], int]) -> None:
    proc, _ = served
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0


def test_bad_config_key_fails_at_start_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[hub]\nprot = 7400\n")
    done = run("serve", "--config", str(config), cwd=tmp_path)
    assert done.returncode != 0
    assert "hub.prot" in done.stderr and "unknown key" in done.stderr


def test_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run("serve", "--host", "127.0.0.1", "--port", str(port), cwd=tmp_path)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_user_and_ban_admin(workdir: Path) -> None:
    listing = run("user", "list", cwd=workdir)
    assert "alice" in listing.stdout and "provider" in listing.stdout
    dup = run("user", "add", "alice", "--role", "follower", stdin=PASSWORD + "\n", cwd=workdir)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    short = run("user", "add", "dave", "--role", "follower", stdin="short\n", cwd=workdir)
    assert short.returncode == 1 and "at least 8" in short.stderr
    bad_role = run("user", "add", "dave", "--role", "king", stdin=PASSWORD + "\n", cwd=workdir)
    assert bad_role.returncode == 2 and "king" in bad_role.stderr
    bad_name = run("user", "add", "da ve", "--role", "admin", stdin=PASSWORD + "\n", cwd=workdir)
    assert bad_name.returncode == 1 and "must match" in bad_name.stderr
    assert run("user", "del", "alice", cwd=workdir).returncode == 0
    assert "alice" not in run("user", "list", cwd=workdir).stdout
    assert run("user", "del", "alice", cwd=workdir).returncode == 1
    assert "no active bans" in run("ban", "list", cwd=workdir).stdout
    lift = run("ban", "lift", "10.0.0.1", cwd=workdir)
    assert lift.returncode == 1 and "not banned" in lift.stderr


def test_version_and_help(tmp_path: Path) -> None:
    assert run("--version", cwd=tmp_path).stdout.startswith("tradewire, version ")
    help_text = run("user", "add", "--help", cwd=tmp_path).stdout
    assert "--role" in help_text and "stdin" in help_text and "argv" in help_text


def test_channel_stats_shows_a_followers_figures(
    served: tuple[subprocess.Popen[str], int], workdir: Path
) -> None:
    _, port = served
    provider = socket.create_connection(("127.0.0.1", port))
    lines = provider.makefile("rb")
    send(provider, {"t": "hello", "v": 1, "user": "alice", "password": PASSWORD})
    assert json.loads(lines.readline())["t"] == "welcome"
    account = {"login": "1", "currency": "USD", "leverage": 100, "mode": "hedging"}
    held = [{"id": "1", "symbol": "EURUSD", "side": "buy", "volume": 0.1, "price": 1.1, "time": 1}]
    for n, (balance, positions) in enumerate(((10_000.0, held), (10_250.0, [])), 1):
        frame = {"t": "state", "ch": "alpha", "ts": 1_796_000_000_000 + n * 3_600_000, "id": n}
        account_now = {**account, "balance": balance, "equity": balance}
        send(provider, {**frame, "account": account_now, "positions": positions})
        assert json.loads(lines.readline())["t"] == "ack"
    hub = ["--hub", f"127.0.0.1:{port}", "--user", "bob"]
    env = {**os.environ, "TRADEWIRE_PASSWORD": PASSWORD}
    shown = subprocess.run(
        [TRADEWIRE, "channel", "stats", "alpha", *hub], capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "+2.50%" in shown.stdout and "250.00 USD" in shown.stdout, shown.stdout
    assert "monthly returns" in shown.stdout and "from states" in shown.stdout
    raw = subprocess.run(
        [TRADEWIRE, "channel", "stats", "alpha", "--json", *hub], capture_output=True,
        text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    figures = json.loads(raw.stdout)
    assert (figures["trades"], figures["win_pct"], figures["profit_factor"]) == (1, 100.0, None)
    refused = subprocess.run(
        [TRADEWIRE, "channel", "stats", "beta", *hub], capture_output=True, text=True,
        env=env, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 1 and "forbidden" in refused.stderr + refused.stdout
    for args, said in [
        (("bad name",), "error: channel 'bad name' must match"),
        (("alpha", "--since", "yesterday"), "error: time 'yesterday': give Unix milliseconds"),
    ]:
        bad = subprocess.run(
            [TRADEWIRE, "channel", "stats", *args, *hub], capture_output=True, text=True,
            env=env, timeout=60, check=False,
        )  # fmt: skip
        assert bad.returncode == 1 and bad.stderr.startswith(said), bad.stderr
        assert len(bad.stderr.strip().splitlines()) == 1
    # What following it with 5,000 and twice the volume would have done: 0.2 lots bought at
    # 1.1 and sold where the provider's +250 on 0.1 lots says it sold (1.125), +500.
    (workdir / "rules.toml").write_text("[rules]\nmultiplier = 2\n")
    page = workdir / "alpha.html"
    simulate = [TRADEWIRE, "channel", "simulate", "alpha", "--deposit", "5000", *hub]
    replayed = subprocess.run(
        [*simulate, "--rules", "rules.toml", "--html", str(page)], capture_output=True,
        text=True, env=env, timeout=120, check=False, cwd=workdir,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    assert "balance 5,500.00" in replayed.stdout and "states 100%" in replayed.stdout
    assert "<svg" in page.read_text() and "1.125" in page.read_text()
    as_json = subprocess.run(
        [*simulate, "--rules", "rules.toml", "--json"], capture_output=True, text=True,
        env=env, timeout=120, check=False, cwd=workdir,
    )  # fmt: skip
    result = json.loads(as_json.stdout)
    assert [(f["volume"], f["entry"]) for f in result["fills"]] == [(0.2, "in"), (0.2, "out")]
    (workdir / "bad.toml").write_text('sizing = "lots"\n')
    bad = subprocess.run(
        [*simulate, "--rules", "bad.toml"], capture_output=True, text=True, env=env,
        timeout=60, check=False, cwd=workdir,
    )  # fmt: skip
    assert bad.returncode == 1 and "sizing" in bad.stderr, bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    provider.close()
