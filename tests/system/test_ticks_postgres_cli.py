"""``tradewire ticks query|bars|export|stats --postgres URL`` read what a hub stored in
PostgreSQL, as they read --data's ticks.db; a bad URL is one line that names the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.store.tick_conformance import batch, rows
from tradewire.store.ticks_pg import PostgresTickStore

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([TRADEWIRE, *args], capture_output=True, text=True, timeout=60)


def test_ticks_commands_read_postgres(postgres: str, tmp_path: Path) -> None:
    store = PostgresTickStore(postgres)
    eurusd = [("EURUSD", 60_000 + i, 1.1 + i, 1.2 + i, None, None) for i in range(3)]
    store.append_many(
        [
            (batch(eurusd), ("feeder", "1")),
            (batch(rows("GBPUSD", 0, 2)), None),
        ]
    )
    store.close()
    query = run("ticks", "query", "--symbol", "EURUSD", "--format", "csv", "--postgres", postgres)
    assert query.returncode == 0, query.stderr
    assert query.stdout.splitlines()[1:] == [
        "EURUSD,60000,1.1,1.2,,",
        "EURUSD,60001,2.1,2.2,,",
        "EURUSD,60002,3.1,3.2,,",
    ]
    bars = run("ticks", "bars", "--symbol", "EURUSD", "--format", "csv", "--postgres", postgres)
    assert bars.stdout.splitlines()[1] == "60000,1.1,3.1,1.1,3.1,3", bars.stdout
    out = tmp_path / "all.csv"
    export = run("ticks", "export", "--out", str(out), "--postgres", postgres)
    assert export.returncode == 0 and len(out.read_text().splitlines()) == 1 + 5
    stats = run("ticks", "stats", "--postgres", postgres)
    assert "EURUSD" in stats.stdout and "GBPUSD" in stats.stdout


def test_a_bad_postgres_url_is_one_line_naming_the_option() -> None:
    bad = run("ticks", "query", "--symbol", "EURUSD", "--postgres", "mysql://x@h/db")
    assert bad.returncode != 0 and "--postgres" in bad.stderr and "PostgreSQL URL" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    gone = run(
        "ticks", "query", "--symbol", "EURUSD", "--postgres", "postgresql://u:pw@127.0.0.1:1/x"
    )
    assert gone.returncode != 0 and "PostgreSQL" in gone.stderr and ":pw@" not in gone.stderr
