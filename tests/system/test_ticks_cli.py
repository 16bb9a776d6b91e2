"""Ticks from the command line: send an MT5 export, then query, bars and export it back."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet

from tradewire.ticks import read

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
PASSWORD = "ticks-cli-password"
EXPORT = """<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>
2024.01.02\t10:00:00.100\t1.10410\t1.10420\t\t\t6
2024.01.02\t10:00:30.250\t1.10430\t\t\t\t2
2024.01.02\t10:00:59.999\t\t1.10450\t\t\t4
2024.01.02\t10:01:00.000\t1.10390\t1.10400\t\t\t6
2024.01.02\t10:05:00.000\t1.10500\t1.10510\t\t\t6
"""


def run(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TRADEWIRE, *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "TRADEWIRE_PASSWORD": PASSWORD},
    )


@contextlib.contextmanager
def feeder_hub(tmp_path: Path) -> Iterator[int]:
    """A hub (``tradewire serve``) in ``tmp_path`` with a provider ``feeder``; yields its port
    and checks that it stops cleanly."""
    added = run("user", "add", "feeder", "--role", "provider", cwd=tmp_path, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--host", "127.0.0.1", "--port", "0"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        text=True,
        stderr=subprocess.DEVNULL,
    )
    assert hub.stdout is not None
    found = re.search(r":(\d+)\s*$", hub.stdout.readline())
    assert found, "the hub did not start"
    try:
        yield int(found.group(1))
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=10) == 0


def test_send_a_csv_then_query_bars_and_export(tmp_path: Path) -> None:
    (tmp_path / "EURUSD.csv").write_text(EXPORT)
    with feeder_hub(tmp_path) as port:
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
        assert "sent 5, acked 5" in sent.stdout

    query = run(
        "ticks",
        "query",
        "--symbol",
        "EURUSD",
        "--from",
        "2024-01-02T10:00:30",
        "--to",
        "2024-01-02T10:01:00",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert query.returncode == 0, query.stderr
    rows = [json.loads(line) for line in query.stdout.splitlines()]
    assert [(r["bid"], r["ask"]) for r in rows] == [(1.1043, 1.1042), (1.1043, 1.1045)]

    bars = run(
        "ticks", "bars", "--symbol", "EURUSD", "--timeframe", "M1", "--format", "csv", cwd=tmp_path
    )
    assert bars.returncode == 0, bars.stderr
    assert list(csv.reader(bars.stdout.splitlines()))[1:] == [
        ["1704189600000", "1.1041", "1.1043", "1.1041", "1.1043", "3"],
        ["1704189660000", "1.1039", "1.1039", "1.1039", "1.1039", "1"],
        ["1704189900000", "1.105", "1.105", "1.105", "1.105", "1"],
    ]

    assert (
        run("ticks", "export", "--format", "csv", "--out", "all.csv", cwd=tmp_path).returncode == 0
    )
    exported = list(csv.reader((tmp_path / "all.csv").read_text().splitlines()))
    assert exported[0] == ["symbol", "time_ms", "bid", "ask", "last", "volume"]
    assert len(exported) == 6
    assert (
        run(
            "ticks", "export", "--format", "parquet", "--out", "all.parquet", cwd=tmp_path
        ).returncode
        == 0
    )
    table = pyarrow.parquet.read_table(tmp_path / "all.parquet")
    assert table.num_rows == 5 and table.column("bid").to_pylist()[0] == 1.1041

    # the table, for people, shows times in UTC (CSV and JSON keep Unix ms); --local, local
    table = run("ticks", "query", "--symbol", "EURUSD", "--limit", "1", cwd=tmp_path)
    assert "time (UTC)" in table.stdout and "2024-01-02 10:00:00.100" in table.stdout
    assert "1704189600100" not in table.stdout
    bars_table = run("ticks", "bars", "--symbol", "EURUSD", "--local", cwd=tmp_path)
    assert "time (local)" in bars_table.stdout and "1704189600000" not in bars_table.stdout

    # symbols are case-sensitive: a query of eurusd says where EURUSD's ticks are
    lower = run("ticks", "query", "--symbol", "eurusd", cwd=tmp_path)
    assert lower.returncode == 1 and lower.stderr.strip() == (
        "error: no ticks of eurusd; the store has EURUSD (symbols are case-sensitive)"
    )
    none = run("ticks", "bars", "--symbol", "GBPUSD", "--format", "csv", cwd=tmp_path)
    assert none.returncode == 0 and none.stdout.strip() == "time_ms,open,high,low,close,ticks"

    stats = run("ticks", "stats", cwd=tmp_path)
    assert "EURUSD" in stats.stdout and "│ 5 " in stats.stdout
    assert len(read("EURUSD", data=tmp_path / "tradewire-data")) == 5


def test_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    for args, fragment in [
        (("ticks", "query", "--symbol", "EURUSD"), "no tick database"),
        (("ticks", "query", "--symbol", "EUR USD"), "must match"),
        (("ticks", "send", "--to", "nohost", "--random-walk", "5"), "HOST:PORT"),
        (("ticks", "send", "--to", "127.0.0.1:1", "--via", "udp"), "give one of --csv"),
        (("ticks", "send", "--to", "127.0.0.1:1", "--csv", "x.csv"), "does not exist"),
        (
            ("ticks", "send", "--to", "127.0.0.1:1", "--via", "tcp", "--random-walk", "5"),
            "is the hub running",
        ),
        (
            ("ticks", "send", "--to", "127.0.0.1:1", "--via", "udp", "--random-walk", "50000"),
            "is the hub running",
        ),
    ]:
        done = run(*args, cwd=tmp_path)
        assert done.returncode != 0 and fragment in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr


def test_an_export_in_server_time_with_a_one_sided_first_tick_says_what_it_did(
    tmp_path: Path,
) -> None:
    lines = EXPORT.splitlines()
    lines.insert(1, "2024.01.02\t09:59:59.000\t1.10400\t\t\t\t2")  # a bid, no ask yet
    (tmp_path / "server.csv").write_text("\n".join(lines) + "\n")
    with feeder_hub(tmp_path) as port:
        sent = run(
            "ticks", "send", "--to", f"127.0.0.1:{port}", "--user", "feeder",
            "--csv", "server.csv", "--symbol", "eurusd", "--tz", "+02:00", cwd=tmp_path,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        said = " ".join(sent.stdout.split())
        assert "1 tick(s) before the first one with both a bid and an ask were skipped" in said
        assert "(line 2)" in said
        assert "stored under 'eurusd' as given" in said and "--symbol EURUSD" in said
        assert "sent 5, acked 5" in said
    query = run("ticks", "query", "--symbol", "eurusd", "--format", "json", cwd=tmp_path)
    first = json.loads(query.stdout.splitlines()[0])
    assert first["time_ms"] == 1704189600100 - 2 * 3_600_000  # 10:00 at +02:00 is 08:00 UTC
    bad_zone = run(
        "ticks", "send", "--to", "127.0.0.1:1", "--csv", "server.csv", "--symbol", "EURUSD",
        "--tz", "Mars/Olympus", cwd=tmp_path,
    )  # fmt: skip
    assert bad_zone.returncode == 1
    assert bad_zone.stderr.strip() == (
        "error: --tz 'Mars/Olympus': give a zone such as Europe/Athens, or an offset such as +02:00"
    )
