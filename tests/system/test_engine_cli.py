"""``tradewire follow --accounts``: the copy engine as a process, killed with SIGKILL mid-run and
started again; its status table; and what it refuses."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.system.engine_rig import hub_and_provider, opens
from tests.system.test_copy_cli import PASSWORD, TRADEWIRE, positions, run, spawn

ACCOUNTS = """
[rules]
multiplier = 1.0

[[account]]
name = "h1"
channel = "alpha"
broker = "paper:h1.db?mode=hedging"

[[account]]
name = "n2"
channel = "alpha"
broker = "paper:n2.db?mode=netting"
rules = { multiplier = 2.0 }

[[account]]
name = "m1"
channel = "alpha"
broker = "paper:m1.db?suffix=.m"
rules = { suffix = ".m" }
"""


def test_engine_killed_with_sigkill_restarts_and_every_account_converges_once(
    tmp_path: Path,
) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    address, (provider, hub) = hub_and_provider(tmp_path)
    engine_args = ("follow", "--hub", address, "--user", "eng", "--accounts", "accounts.toml")
    engine = spawn(*engine_args, cwd=tmp_path)
    try:
        time.sleep(1.5)
        for symbol, side, volume in [("EURUSD", "buy", "0.3"), ("XAUUSD", "sell", "0.2")]:
            run("paper", "order", "--broker", "paper:prov.db", symbol, side, volume, cwd=tmp_path)
        time.sleep(0.8)
        engine.send_signal(signal.SIGKILL)  # no goodbye, orders possibly in flight
        engine.wait(timeout=10)
        run("paper", "order", "--broker", "paper:prov.db", "US30", "buy", "1.5", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:prov.db", "EURUSD", "sell", "0.1",
            "--position", "1", cwd=tmp_path)  # fmt: skip
        engine = spawn(*engine_args, cwd=tmp_path)
        provided = positions(tmp_path / "prov.db")
        expected = {
            "h1.db": provided,
            "n2.db": [(s, side, round(v * 2, 2)) for s, side, v in provided],
            "m1.db": [(s + ".m", side, v) for s, side, v in provided],
        }
        deadline = time.monotonic() + 30
        while {db: positions(tmp_path / db) for db in expected} != expected:
            assert time.monotonic() < deadline, {db: positions(tmp_path / db) for db in expected}
            time.sleep(0.2)
        for db in ("h1.db", "m1.db"):  # hedging: one open per provider position, ever
            assert max(opens(tmp_path / db).values()) == 1, opens(tmp_path / db)
        deadline = time.monotonic() + 10  # the status file is rewritten every second
        while True:
            status = subprocess.run(
                [TRADEWIRE, "follow", "--accounts", "accounts.toml", "--status"],
                cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert status.returncode == 0, status.stderr
            rows = [line for line in status.stdout.splitlines() if re.match(r"│ (h1|n2|m1) ", line)]
            if len(rows) == 3 and all("│ yes " in row for row in rows):
                break
            assert time.monotonic() < deadline, status.stdout
            time.sleep(0.5)
        hops = subprocess.run(
            [TRADEWIRE, "journal", "hops", "journals/h1.jsonl", "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert hops.returncode == 0 and '"fill":{"n":' in hops.stdout, hops.stdout + hops.stderr
    finally:
        for proc in (engine, provider, hub):
            proc.terminate()
            proc.wait(timeout=15)


def test_follow_accounts_refuses_what_does_not_go_with_it(tmp_path: Path) -> None:
    (tmp_path / "accounts.toml").write_text(ACCOUNTS)
    # what --status advises for an engine account works with its journal alone
    cleared = run("follow", "--user", "eng", "--journal", "journals/h1.jsonl",
                  "--clear-breaker", "EURUSD", cwd=tmp_path)  # fmt: skip
    assert cleared.strip() == "no such breaker was tripped"
    cases = [
        (["--channel", "alpha"], "--channel does not go with --accounts"),
        (["--multiplier", "2"], "--multiplier does not go with --accounts"),
        ([], "follow --accounts needs --hub"),
        (["--workers", "4"], "--workers 4 is more than the 3 accounts in accounts.toml"),
        (["--workers", "2", "--page", "127.0.0.1:8480"], "--page goes with one engine process"),
        (["--worker", "3/2"], "--worker '3/2': I must be from 0 to N-1"),
        (["--leases", "http://x:1"], "--leases 'http://x:1': expected nats://HOST:PORT[/BUCKET]"),
        (["--leases", "nats://x:1/a.b"], "a bucket is letters, digits, - and _"),
    ]
    for extra, message in cases:
        hub = [] if not extra else ["--hub", "127.0.0.1:1"]
        done = subprocess.run(
            [TRADEWIRE, "follow", "--accounts", "accounts.toml", "--user", "eng", *hub, *extra],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert done.returncode == 1 and message in done.stderr, (extra, done.stderr)
    (tmp_path / "bad.toml").write_text(ACCOUNTS.replace('"n2"', '"h1"'))
    done = subprocess.run(
        [TRADEWIRE, "follow", "--accounts", "bad.toml", "--user", "eng", "--hub", "127.0.0.1:1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "name 'h1' is used twice" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "h1.db").exists()  # nothing opened before the whole file is valid
    token = subprocess.run(
        [TRADEWIRE, "follow", "--accounts", "accounts.toml", "--user", "eng", "--hub",
         "127.0.0.1:1", "--leases", "nats://s3cret@x:1/a.b"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert "put the URL in $TRADEWIRE_LEASES" in token.stderr, token.stderr  # seen in `ps`
    assert token.returncode == 1 and "a bucket is letters" in token.stderr
    alone = subprocess.run(
        [TRADEWIRE, "follow", "--hub", "127.0.0.1:1", "--user", "eng", "--channel", "alpha",
         "--broker", "paper:x.db", "--workers", "2"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert alone.returncode == 1 and "--workers goes with --accounts FILE" in alone.stderr
    assert not (tmp_path / "x.db").exists()


def portfolio(name: str, mode: str, magics: tuple[int, int], magic: str = "") -> str:
    """An account following alpha (x2) and beta, each subscription with its own magic."""
    return f"""
[[account]]
name = "{name}"
broker = "paper:{name}.db?mode={mode}"
{magic}
[[account.subscription]]
channel = "alpha"
rules = {{ multiplier = 2.0, magic = {magics[0]} }}

[[account.subscription]]
channel = "beta"
rules = {{ magic = {magics[1]} }}
"""


PORTFOLIO = portfolio("carol", "hedging", (7400011, 7400012))
NETTING_PORTFOLIO = portfolio("dave", "netting", (7400021, 7400022), "magic = 7400020")


def start_two_providers(tmp_path: Path) -> tuple[str, list[subprocess.Popen[str]]]:
    """Users pa (alpha), pb (beta) and eng (both); a hub and a paper provider on each channel.
    Returns the hub's address and the processes, the hub last."""
    for user, role, channels in (
        ("pa", "provider", ["alpha"]),
        ("pb", "provider", ["beta"]),
        ("eng", "follower", ["alpha", "beta"]),
    ):
        grants = [arg for ch in channels for arg in ("--channel", ch)]
        run("user", "add", user, "--role", role, *grants, cwd=tmp_path, stdin=PASSWORD + "\n")
    hub = spawn("serve", "--host", "127.0.0.1", "--port", "0", cwd=tmp_path)
    assert hub.stdout is not None
    port = re.search(r":(\d+)\s*$", hub.stdout.readline()).group(1)  # type: ignore[union-attr]
    address = f"127.0.0.1:{port}"
    started = [("pa", "alpha"), ("pb", "beta")]
    providers = [spawn(*provide(address, user, channel), cwd=tmp_path) for user, channel in started]
    return address, [*providers, hub]


def provide(address: str, user: str, channel: str) -> list[str]:
    broker = f"paper:{user}.db?mode=hedging"
    return ["provide", "--hub", address, "--user", user, "--channel", channel, "--broker", broker]


def test_one_account_follows_two_channels_with_one_order_per_change(tmp_path: Path) -> None:
    """Issue 25: a hedging account on alpha (×2) and beta: it holds the sum, each channel's
    positions under its own magic, one order per provider change; the hub takes the engine's
    report of each channel (no ``forbidden`` in its audit log)."""
    (tmp_path / "accounts.toml").write_text(PORTFOLIO + NETTING_PORTFOLIO)
    address, processes = start_two_providers(tmp_path)
    engine = spawn("follow", "--hub", address, "--user", "eng", "--accounts", "accounts.toml",
                   cwd=tmp_path)  # fmt: skip
    held: list[tuple[str, str, float, int]] = []

    def converge(expected: list[tuple[str, str, float, int]], db: str = "carol.db") -> None:
        nonlocal held
        deadline = time.monotonic() + 30
        while True:
            with sqlite3.connect(tmp_path / db) as conn:
                held = sorted(conn.execute("SELECT symbol, side, volume, magic FROM positions"))
            if held == expected:
                return
            assert time.monotonic() < deadline, held
            time.sleep(0.2)

    try:
        time.sleep(1.5)
        run("paper", "order", "--broker", "paper:pa.db", "EURUSD", "buy", "0.1", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:pb.db", "EURUSD", "buy", "0.2", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:pb.db", "XAUUSD", "sell", "0.1", cwd=tmp_path)
        converge([("EURUSD", "buy", 0.2, 7400011), ("EURUSD", "buy", 0.2, 7400012),
                  ("XAUUSD", "sell", 0.1, 7400012)])  # fmt: skip
        # netting: one position per symbol, the channels' sum, the account's magic
        converge([("EURUSD", "buy", 0.4, 7400020), ("XAUUSD", "sell", 0.1, 7400020)], "dave.db")
        explained = run("follow", "--accounts", "accounts.toml", "--explain", "dave:EURUSD",
                        cwd=tmp_path)  # fmt: skip
        assert explained.startswith("  EURUSD: +0.4 = alpha +0.2 + beta +0.2 (alpha +0.2 = 0.1 ×")
        unknown = subprocess.run(
            [TRADEWIRE, "follow", "--accounts", "accounts.toml", "--explain", "erin"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert unknown.returncode == 1 and unknown.stderr.strip() == (
            "error: no account 'erin' (accounts: carol/alpha, carol/beta, dave)"
        )
        run("paper", "order", "--broker", "paper:pa.db", "EURUSD", "sell", "0.1",
            "--position", "1", cwd=tmp_path)  # fmt: skip
        converge([("EURUSD", "buy", 0.2, 7400012), ("XAUUSD", "sell", 0.1, 7400012)])
        converge([("EURUSD", "buy", 0.2, 7400020), ("XAUUSD", "sell", 0.1, 7400020)], "dave.db")
        time.sleep(4.5)  # two rounds of reports, and time for a duplicate to show
        for db in ("carol.db", "dave.db"):
            with sqlite3.connect(tmp_path / db) as conn:
                sent = conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0]
            assert sent == 4, (db, sent)  # three opens and one close: one order per change
        for journal in ("carol.alpha", "carol.beta", "dave"):
            assert (tmp_path / "journals" / f"{journal}.jsonl").exists()
        assert (tmp_path / "journals" / "dave.shares.json").exists()
    finally:
        for proc in (engine, *processes):
            proc.terminate()
            proc.wait(timeout=15)
    with sqlite3.connect(tmp_path / "tradewire-data" / "state.db") as conn:
        events = [row[0] for row in conn.execute("SELECT event FROM audit WHERE user = 'eng'")]
    assert "forbidden" not in events, events


def test_a_portfolio_with_one_magic_or_one_channel_twice_is_refused(tmp_path: Path) -> None:
    cases = [
        (PORTFOLIO.replace("7400012", "7400011"), "both use magic 7400011"),
        (PORTFOLIO.replace('"beta"', '"alpha"'), "channel 'alpha' is subscribed twice"),
    ]
    for text, message in cases:
        (tmp_path / "accounts.toml").write_text(text)
        done = subprocess.run(
            [TRADEWIRE, "follow", "--accounts", "accounts.toml", "--user", "eng",
             "--hub", "127.0.0.1:1", "--password-stdin"],
            cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
            input=PASSWORD + "\n",
        )  # fmt: skip
        assert done.returncode == 1 and message in done.stderr, (message, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_follow_with_two_channels_and_a_rules_file_each(tmp_path: Path) -> None:
    """Issue 25: `tradewire follow --channel alpha --channel beta --rules a --rules b` onto a
    netting account holds the sum of the two (alpha +0.2, beta -0.3: one position of -0.1),
    and --status shows it in sync."""
    (tmp_path / "a.toml").write_text("multiplier = 2.0\nmagic = 7400041\n")
    (tmp_path / "b.toml").write_text("magic = 7400042\n")
    address, processes = start_two_providers(tmp_path)
    two = ["--user", "eng", "--channel", "alpha", "--channel", "beta"]
    engine = spawn("follow", "--hub", address, *two, "--rules", "a.toml", "--rules", "b.toml",
                   "--broker", "paper:e.db?mode=netting", cwd=tmp_path)  # fmt: skip
    try:
        time.sleep(1.5)
        run("paper", "order", "--broker", "paper:pa.db", "EURUSD", "buy", "0.1", cwd=tmp_path)
        run("paper", "order", "--broker", "paper:pb.db", "EURUSD", "sell", "0.3", cwd=tmp_path)
        deadline = time.monotonic() + 30
        while positions(tmp_path / "e.db") != [("EURUSD", "sell", 0.1)]:
            assert time.monotonic() < deadline, positions(tmp_path / "e.db")
            time.sleep(0.2)
        deadline = time.monotonic() + 10
        while True:
            status = subprocess.run(
                [TRADEWIRE, "follow", *two, "--status"],
                cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if (
                status.returncode == 0
                and "on alpha, beta" in status.stdout
                and "│ yes" in status.stdout
            ):
                break
            assert time.monotonic() < deadline, status.stdout + status.stderr
            time.sleep(0.5)
        with sqlite3.connect(tmp_path / "e.db") as conn:
            assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 2
    finally:
        for proc in (engine, *processes):
            proc.terminate()
            proc.wait(timeout=15)
    done = subprocess.run(
        [TRADEWIRE, "follow", "--hub", address, *two, "--rules", "a.toml", "--rules", "b.toml",
         "--rules", "a.toml", "--broker", "paper:e.db"],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "error: 3 --rules files for 2 channels: give one for all, or one per --channel in the "
        "same order"
    )
