"""``python -m tradewire.simulate``: one what-if replay in a process of its own, so that its CPU
and memory never hold up the hub that starts it (hub/services/history/simulations.py).

Reads a :class:`SimulationJob` as JSON on stdin; writes the :class:`Simulation` as JSON on
stdout, or ``{"error": CODE, "msg": ...}`` in one line. It runs at a lower priority, with its
address space capped, and opens the history and tick stores read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sqlite3
import sys
from pathlib import Path
from typing import Any

import msgspec

from tradewire.copy.rules import parse_rules
from tradewire.exceptions import ConfigError, StoreError
from tradewire.model import Deal, Mode
from tradewire.simulate.prices import TICK_AGE_MS, PriceBook, TickLookup
from tradewire.simulate.replay import replay
from tradewire.stats.trades import Point
from tradewire.store.history_sql import POSTGRES, SQLITE, read_deals, read_points
from tradewire.store.tick_stores import open_tick_store


class SimulationJob(msgspec.Struct, frozen=True):
    data_dir: str
    postgres: str  # the hub's [ticks] postgres, "" for its SQLite tick store
    channel: str
    deposit: float
    rules: dict[str, object]
    mode: Mode
    leverage: int
    since_ms: int | None
    until_ms: int | None
    max_moments: int
    memory_mb: int


class JobFailed(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code


def ticks_of(data_dir: Path, postgres: str) -> TickLookup | None:
    """The newest stored tick of a symbol at most TICK_AGE_MS before a time, if any."""
    try:
        store = open_tick_store(data_dir, postgres, readonly=True)
        kept = {symbol: (first, last) for symbol, _, first, last in store.symbol_stats()}
    except StoreError:
        return None
    if not kept:
        return None

    def lookup(symbol: str, ts: int) -> tuple[float, float] | None:
        span = kept.get(symbol)
        if span is None or ts < span[0] or ts - TICK_AGE_MS > span[1]:
            return None
        newest = None
        for row in store.query(symbol, ts - TICK_AGE_MS, ts + 1):
            newest = row
        if newest is None or newest[3] is None:
            return None
        return newest[2], newest[3]

    return lookup


def read_history(job: SimulationJob) -> tuple[list[Point], list[tuple[int, Deal]]]:
    """The period's moments and the deals up to its end, read-only, from where the hub keeps
    them: history.db, or PostgreSQL under ``[ticks] postgres``."""
    dialect = POSTGRES if job.postgres else SQLITE
    try:
        conn: Any
        if job.postgres:
            import psycopg

            conn = psycopg.connect(job.postgres, connect_timeout=10, autocommit=True)
            conn.execute("SET default_transaction_read_only = on")
        else:
            path = Path(job.data_dir) / "history.db"
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            _, points = read_points(conn, job.channel, job.since_ms, job.until_ms, dialect)
            deals = read_deals(conn, job.channel, points[-1].ts, dialect) if points else []
        finally:
            conn.close()
    except Exception as exc:  # sqlite3.Error or psycopg.Error: the store is away
        raise JobFailed("internal", f"history store unavailable: {exc}") from None
    return points, deals


def run(job: SimulationJob) -> bytes:
    try:
        rules = parse_rules(job.rules, "rules")
    except ConfigError as exc:
        raise JobFailed("invalid_rules", str(exc)) from None
    points, deals = read_history(job)
    if not points:
        raise JobFailed("not_found", f"no history of {job.channel!r} in that period")
    full = sum(1 for p in points if p.positions is not None)
    if full > job.max_moments:
        msg = (
            f"{full} changes in that period; a simulation replays at most {job.max_moments}"
            " ([history] simulate_max_moments): give a shorter period"
        )
        raise JobFailed("too_large", msg)
    prices = PriceBook(points, deals, ticks_of(Path(job.data_dir), job.postgres))
    result = asyncio.run(
        replay(job.channel, points, deals, prices, rules, job.deposit, job.mode, job.leverage)
    )
    return msgspec.json.encode(result)


def main() -> None:
    with contextlib.suppress(OSError):
        os.nice(10)  # the hub's own work first
    job = msgspec.json.decode(sys.stdin.buffer.read(), type=SimulationJob)
    limit = job.memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        out = run(job)
    except JobFailed as exc:
        out = msgspec.json.encode({"error": exc.code, "msg": str(exc)})
    except MemoryError:
        msg = f"the simulation needed more than {job.memory_mb} MB: give a shorter period"
        out = msgspec.json.encode({"error": "too_large", "msg": msg})
    sys.stdout.buffer.write(out + b"\n")


if __name__ == "__main__":
    main()
