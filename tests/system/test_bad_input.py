"""Bad input that used to crash (issue 12): each is a one-line error, a non-zero exit, and
nothing already accepted changes; and inputs that were silently mishandled."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.system.test_ticks_cli import EXPORT, PASSWORD, TRADEWIRE, run
from tradewire.store.ticks import SqliteTickStore

ROOT = Path(__file__).resolve().parents[2]


def one_line_error(done: subprocess.CompletedProcess[str], fragment: str) -> None:
    assert done.returncode != 0, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    assert fragment in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_non_finite_and_unsatisfiable_copy_rules_are_refused(tmp_path: Path) -> None:
    base = (
        "follow",
        "--hub",
        "127.0.0.1:7400",
        "--user",
        "u",
        "--channel",
        "alpha",
        "--broker",
        "paper:f.db",
    )
    one_line_error(run(*base, "--multiplier", "inf", cwd=tmp_path), "multiplier")
    one_line_error(run(*base, "--multiplier", "nan", cwd=tmp_path), "multiplier")
    for text, fragment in (
        ("multiplier = 1e400", "multiplier"),
        ("min_volume = 2.0\nmax_volume = 1.0", "min_volume"),
        ('sizing = "fixed"', "fixed_volume"),
    ):
        (tmp_path / "rules.toml").write_text(f"[rules]\n{text}\n")
        one_line_error(run(*base, "--rules", "rules.toml", cwd=tmp_path), fragment)
    assert not (tmp_path / "f.db").exists()  # refused before anything was opened


def test_non_finite_paper_orders_are_refused_and_change_nothing(tmp_path: Path) -> None:
    assert (
        run(
            "paper", "order", "--broker", "paper:a.db", "EURUSD", "buy", "0.1", cwd=tmp_path
        ).returncode
        == 0
    )
    for volume in ("inf", "nan", "0"):
        one_line_error(
            run("paper", "order", "--broker", "paper:a.db", "EURUSD", "buy", volume, cwd=tmp_path),
            "volume",
        )
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT count(*) FROM positions").fetchone()[0] == 1


def test_reading_commands_never_create_accounts_and_contradictions_are_errors(
    tmp_path: Path,
) -> None:
    one_line_error(
        run("paper", "positions", "--broker", "paper:never-created.db", cwd=tmp_path),
        "no paper account",
    )
    assert not (tmp_path / "never-created.db").exists()
    one_line_error(
        run(
            "paper",
            "order",
            "--broker",
            "paper:missing/dir/x.db",
            "EURUSD",
            "buy",
            "0.1",
            cwd=tmp_path,
        ),
        "does not exist",
    )
    assert not (tmp_path / "missing").exists()
    assert (
        run(
            "paper",
            "order",
            "--broker",
            "paper:h.db?mode=hedging",
            "EURUSD",
            "buy",
            "0.1",
            cwd=tmp_path,
        ).returncode
        == 0
    )
    one_line_error(
        run("paper", "positions", "--broker", "paper:h.db?mode=netting", cwd=tmp_path),
        "mode=hedging",
    )


@contextmanager
def serving(tmp_path: Path, config: str = "") -> Iterator[int]:
    (tmp_path / "hub.toml").write_text(config)
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--config", "hub.toml", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert hub.stdout is not None
    line = hub.stdout.readline()
    found = re.search(r":(\d+)\s*$", line)
    assert found, line + hub.communicate()[1]
    try:
        yield int(found.group(1))
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=15) == 0


def test_a_legacy_listeners_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        (tmp_path / "hub.toml").write_text(
            f"[listeners.tcp_ticks]\nenabled = true\nport = {port}\n"
        )
        done = subprocess.run(
            [TRADEWIRE, "serve", "--config", "hub.toml", "--port", "0"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    one_line_error(done, f"listeners.tcp_ticks: cannot listen on 127.0.0.1:{port}")


def test_documented_listener_ports_apply_when_the_key_is_absent() -> None:
    from tradewire.config import parse_config

    config = parse_config(
        {"listeners": {"udp_ticks": {"enabled": True}, "tcp_ticks": {"enabled": True}}}
    )
    assert (config.listeners.udp_ticks.port, config.listeners.tcp_ticks.port) == (8082, 7401)


def test_tick_files_as_metatrader_writes_them_import_once(tmp_path: Path) -> None:
    assert (
        run(
            "user", "add", "feeder", "--role", "provider", cwd=tmp_path, stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    # MetaTrader 5 saves exports as UTF-16 with a byte-order mark (and CRLF line ends).
    (tmp_path / "EURUSD.csv").write_bytes(EXPORT.replace("\n", "\r\n").encode("utf-16"))
    with serving(tmp_path) as port:
        for attempt in range(2):  # the same file twice: stored once
            sent = run(
                "ticks",
                "send",
                "--to",
                f"127.0.0.1:{port}",
                "--user",
                "feeder",
                "--csv",
                "EURUSD.csv",
                "--symbol",
                "EURUSD",
                cwd=tmp_path,
            )
            assert sent.returncode == 0, sent.stderr
            assert "sent 5, acked 5" in sent.stdout, (attempt, sent.stdout)
    assert SqliteTickStore(tmp_path / "tradewire-data", readonly=True).count() == 5


def test_export_and_query_failures_are_clean(tmp_path: Path) -> None:
    assert (
        run(
            "user", "add", "feeder", "--role", "provider", cwd=tmp_path, stdin=PASSWORD + "\n"
        ).returncode
        == 0
    )
    with serving(tmp_path) as port:
        sent = run(
            "ticks",
            "send",
            "--to",
            f"127.0.0.1:{port}",
            "--user",
            "feeder",
            "--random-walk",
            "20000",
            "--symbols",
            "EURUSD",
            cwd=tmp_path,
        )
        assert sent.returncode == 0, sent.stderr
    one_line_error(
        run(
            "ticks",
            "export",
            "--out",
            "/missing-dir/x.parquet",
            "--format",
            "parquet",
            cwd=tmp_path,
        ),
        "does not exist",
    )
    one_line_error(
        run("ticks", "export", "--out", "/missing-dir/x.csv", cwd=tmp_path), "does not exist"
    )
    piped = subprocess.run(
        f"'{TRADEWIRE}' ticks query --symbol EURUSD --format csv | head -2",
        shell=True,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        executable="/bin/bash",
    )
    assert len(piped.stdout.splitlines()) == 2
    assert piped.stderr == "", piped.stderr


def test_the_readme_raw_client_answers_pings_and_keeps_running(tmp_path: Path) -> None:
    assert (
        run(
            "user",
            "add",
            "bob",
            "--role",
            "follower",
            "--channel",
            "alpha",
            cwd=tmp_path,
            stdin=PASSWORD + "\n",
        ).returncode
        == 0
    )
    with serving(tmp_path, "[hub]\nheartbeat_s = 0.5\n") as port:  # silent for 1.5 s: dropped
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
        time.sleep(4)
        still_running = reader.poll() is None
    assert reader.stdout is not None
    frames = [line for line in reader.stdout.read().splitlines() if line]
    reader.wait(timeout=5)
    pings = sum("'t': 'ping'" in f for f in frames)
    assert still_running and pings >= 4, frames
    assert "'reason': 'shutdown'" in frames[-1]  # it ran until the hub said bye
