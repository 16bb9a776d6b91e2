"""The hub's periodic ban reload with 200,000 ban rows in state.db: a full reload (what the hub
did every 5 s before issue 12) against the reload of rows changed since the last one (what it
does now), each through BanBook.load as the hub calls it.

    .venv/bin/python benchmarks/ban_reload.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from common import write_result

from tradewire.clock import SystemClock
from tradewire.config import BanSettings
from tradewire.hub.guard import BanBook
from tradewire.store.db import StateDB

ROWS = 200_000
RUNS = 7


def main() -> None:
    db = StateDB(Path(tempfile.mkdtemp()) / "data")
    now = int(time.time() * 1000)
    rows = [
        (f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", now + 600_000, 1, now - 60_000)
        for n in range(ROWS)
    ]
    db.run(lambda conn: conn.executemany("INSERT INTO bans VALUES (?,?,?,?)", rows))
    book = BanBook(BanSettings(), SystemClock())
    results = {}
    for name, since in (("full_reload_ms", None), ("incremental_reload_ms", now - 5000)):
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            book.load(db.load_bans(since))
            times.append((time.perf_counter() - started) * 1000)
        results[name] = round(statistics.median(times), 2)
        print(f"{name.replace('_', ' ')}: median {results[name]} ms of {RUNS} ({ROWS:,} ban rows)")
    db.close()
    write_result("ban_reload", {"rows": ROWS, **results})


if __name__ == "__main__":
    main()
