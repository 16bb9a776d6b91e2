"""``tradewire ticks``: send, query, bars, export, stats."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import itertools
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
import uvloop
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tradewire.brokers.symbols import resolve
from tradewire.cli.common import (
    client_password,
    console,
    data_option,
    fail,
    parse_hub,
    reports_errors,
)
from tradewire.clients.tick_sender import TickSender
from tradewire.config import check_postgres_url
from tradewire.protocol.mt5csv import Skipped
from tradewire.protocol.names import is_symbol
from tradewire.protocol.ticks import TickRow
from tradewire.store.tick_stores import open_tick_store

if TYPE_CHECKING:
    from tradewire.store.ticks import TickStore
from tradewire.ticks.bars import TIMEFRAMES, bars
from tradewire.ticks.sources import from_mt5_csv, from_mt5_terminal, random_walk

COLUMNS = ["symbol", "time_ms", "bid", "ask", "last", "volume"]


def parse_time(value: str | None, default: int) -> int:
    """Unix milliseconds, or an ISO date/time (UTC unless it says otherwise)."""
    if value is None:
        return default
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"time {value!r}: give Unix milliseconds or an ISO date such as 2024-01-02T10:00")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def _zone(value: str) -> tzinfo:
    """``UTC``, an IANA zone (``Europe/Athens``), or a fixed offset (``+02:00``)."""
    offset = re.fullmatch(r"([+-])(\d{1,2}):?(\d{2})?", value)
    if offset:
        sign = 1 if offset.group(1) == "+" else -1
        hours, minutes = int(offset.group(2)), int(offset.group(3) or 0)
        if hours > 14 or minutes > 59:
            fail(f"--tz {value!r}: an offset is at most ±14:00")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"--tz {value!r}: give a zone such as Europe/Athens, or an offset such as +02:00")


def _sent_symbol(value: str) -> str:
    """A symbol to store ticks under; said aloud when it is a known symbol in other case
    (symbols are case-sensitive: eurusd would be a second symbol beside EURUSD)."""
    symbol = _symbol(value)
    if symbol != symbol.upper() and resolve(symbol.upper()) is not None:
        console.print(
            f"[yellow]note:[/] ticks are stored under {symbol!r} as given, beside any "
            f"{symbol.upper()!r} (symbols are case-sensitive); pass --symbol "
            f"{symbol.upper()} if that is what the file holds",
            soft_wrap=True,
        )
    return symbol


def _symbol(value: str) -> str:
    if not is_symbol(value):
        fail(f"symbol {value!r} must match [A-Za-z0-9_.#+-]{{1,32}}")
    return value


@click.group("ticks")
def ticks_group() -> None:
    """Feed, read and export ticks (stored under --data, default ./tradewire-data)."""


@ticks_group.command("send")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="HOST:PORT",
    help="The hub's UDP (8082), TCP lines (7401) or native (7400) listener.",
)
@click.option(
    "--via",
    type=click.Choice(["udp", "tcp", "native"]),
    default="native",
    show_default=True,
    help="Datagrams, text lines, or acknowledged native frames.",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="An MT5 tick export (tab-separated <DATE> <TIME> <BID> <ASK> ...).",
)
@click.option("--symbol", help="The symbol of the --csv file (case-sensitive, as stored).")
@click.option(
    "--tz",
    "zone",
    default="UTC",
    show_default=True,
    help="The time zone of the --csv file's times: MT5 exports are in the broker server's time "
    "(e.g. --tz Europe/Athens for most EET servers, or a fixed offset such as +02:00).",
)
@click.option(
    "--from-mt5",
    "mt5_symbol",
    metavar="SYMBOL",
    help="Import SYMBOL's tick history from the MetaTrader 5 terminal running here (Windows, "
    "pip install 'tradewire[mt5]'), between --from and --until.",
)
@click.option(
    "--from",
    "mt5_from",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="With --from-mt5: the first moment, UTC (2024-01-02 or 2024-01-02T10:00:00).",
)
@click.option(
    "--until",
    "mt5_until",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    help="With --from-mt5: the end, UTC, not included.",
)
@click.option(
    "--random-walk",
    "walk",
    type=click.IntRange(min=1),
    metavar="N",
    help="Send N generated ticks instead of a file.",
)
@click.option(
    "--symbols",
    default="EURUSD,GBPUSD,XAUUSD",
    show_default=True,
    help="Symbols of the random walk.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=None,
    help="Ticks per second [default: as fast as possible].",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10_000),
    default=500,
    show_default=True,
    help="Rows per native frame / per send.",
)
@click.option("--user", default="", help="Hub user (native only; a provider or admin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@reports_errors
def ticks_send(
    target: str,
    via: str,
    csv_path: Path | None,
    symbol: str | None,
    zone: str,
    mt5_symbol: str | None,
    mt5_from: datetime | None,
    mt5_until: datetime | None,
    walk: int | None,
    symbols: str,
    rate: float | None,
    batch: int,
    user: str,
    password_stdin: bool,
) -> None:
    """Replay an MT5 tick export, a terminal's history, or a random walk, to a hub; prints
    sent and acked counts.

    Sending the same file (or history range) again over --via native stores nothing twice: its
    batches are named after the content, and the hub stores a batch once per user.
    """
    host, port = parse_hub(target)
    if sum(x is not None for x in (csv_path, walk, mt5_symbol)) != 1:
        fail("give one of --csv FILE --symbol S, --from-mt5 S --from D --until D, --random-walk N")
    if mt5_symbol is not None:
        if mt5_from is None or mt5_until is None or mt5_until <= mt5_from:
            fail("--from-mt5 needs --from and a later --until (UTC dates)")
        start, end = (d.replace(tzinfo=UTC) for d in (mt5_from, mt5_until))
        rows = from_mt5_terminal(_symbol(mt5_symbol), start, end)
        import_name: str | None = (
            f"mt5-{mt5_symbol}-{int(start.timestamp())}-{int(end.timestamp())}-{batch}"
        )
    elif csv_path is not None:
        if symbol is None:
            fail("--csv needs --symbol (an MT5 export holds one symbol)")
        skipped = Skipped()
        rows = list(from_mt5_csv(csv_path, _sent_symbol(symbol), _zone(zone), skipped))
        if skipped.lines:
            console.print(f"[yellow]note:[/] {skipped}", soft_wrap=True)
        digest = hashlib.sha256(csv_path.read_bytes())
        digest.update(f"\0{symbol}\0{batch}".encode())
        import_name = f"import-{digest.hexdigest()[:24]}"
    else:
        import_name = None
        assert walk is not None
        rows = list(random_walk([_symbol(s) for s in symbols.split(",")], walk))
    password = ""
    if via == "native":
        if not user:
            fail("--via native needs --user (and the password on stdin or TRADEWIRE_PASSWORD)")
        password = client_password(password_stdin)
    sender = TickSender(
        via,  # type: ignore[arg-type]
        host,
        port,
        user=user,
        password=password,
        client_name=import_name,
    )

    async def run() -> float:
        await sender.start()
        started = time.perf_counter()
        with Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("ticks", total=len(rows))
            for index in range(0, len(rows), batch):
                chunk = rows[index : index + batch]
                await sender.send(chunk)
                progress.advance(task, len(chunk))
                if rate is not None:
                    ahead = (index + len(chunk)) / rate - (time.perf_counter() - started)
                    if ahead > 0:
                        await asyncio.sleep(ahead)
            await sender.close()
        return time.perf_counter() - started

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        elapsed = runner.run(run())
    acked = f", acked {sender.acked}" if via == "native" else " (no acks over " + via + ")"
    console.print(
        f"sent {sender.sent}{acked} in {elapsed:.2f} s "
        f"({sender.sent / max(elapsed, 1e-9):,.0f} ticks/s)"
    )


def _print_rows(
    rows: Iterator[tuple[object, ...]], columns: list[str], fmt: str, local: bool = False
) -> None:
    """Print ``rows``; a reader that stops early (``| head``) ends the command quietly. The
    table, for people, shows ``time_ms`` as a time (UTC, or this machine's with ``local``);
    CSV and JSON keep Unix ms for programs."""
    try:
        _write_rows(rows, columns, fmt, local)
        sys.stdout.flush()
    except BrokenPipeError:
        # Nothing more can be printed; point stdout at /dev/null so that Python's own flush
        # at exit does not complain, and stop reading the database.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()  # the query's cursor, before its database is closed


def _when(time_ms: object, local: bool) -> str:
    assert isinstance(time_ms, int)
    moment = datetime.fromtimestamp(time_ms / 1000, None if local else UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def _write_rows(
    rows: Iterator[tuple[object, ...]], columns: list[str], fmt: str, local: bool = False
) -> None:
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, row, strict=True))) + "\n")
    else:
        when = columns.index("time_ms") if "time_ms" in columns else -1
        zone = "local" if local else "UTC"
        table = Table(*(f"time ({zone})" if i == when else c for i, c in enumerate(columns)))
        for row in itertools.islice(rows, 10_000):
            table.add_row(
                *(
                    _when(v, local) if i == when else "" if v is None else str(v)
                    for i, v in enumerate(row)
                )
            )
        console.print(table)


format_option = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


postgres_option = click.option(
    "--postgres",
    default="",
    envvar="TRADEWIRE_POSTGRES",
    metavar="URL",
    help="Read the ticks a hub stores in PostgreSQL ([ticks] postgres), not --data's "
    "ticks.db; the password comes from PGPASSWORD or ~/.pgpass.",
)


def _reader(data_dir: Path, postgres: str) -> TickStore:
    check_postgres_url(postgres, "--postgres")
    return open_tick_store(data_dir, postgres, readonly=True)


local_option = click.option(
    "--local", is_flag=True, help="Show times in this machine's zone in the table, not UTC."
)


@ticks_group.command("query")
@click.option("--symbol", required=True)
@click.option("--from", "from_", help="Start (Unix ms or ISO time, inclusive).")
@click.option("--to", help="End (Unix ms or ISO time, exclusive).")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@format_option
@local_option
@data_option
@postgres_option
@reports_errors
def ticks_query(
    symbol: str,
    from_: str | None,
    to: str | None,
    limit: int | None,
    fmt: str,
    local: bool,
    data_dir: Path,
    postgres: str,
) -> None:
    """Print stored ticks of one symbol (times in UTC in the table; Unix ms in CSV and
    JSON)."""
    symbol, start, end = _symbol(symbol), parse_time(from_, 0), parse_time(to, 2**62)
    store = _reader(data_dir, postgres)
    try:
        rows = _found(store, symbol, store.query(symbol, start, end, limit))
        _print_rows(rows, COLUMNS, fmt, local)
    finally:
        store.close()


def _found(store: TickStore, symbol: str, rows: Iterable[TickRow]) -> Iterator[TickRow]:
    """``rows``; when there are none, and the store holds the symbol spelled another way
    (symbols are case-sensitive: eurusd is not EURUSD), a one-line error saying so."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        others = [
            name for name, *_ in store.symbol_stats()
            if name.lower() == symbol.lower() and name != symbol
        ]  # fmt: skip
        if others:
            fail(
                f"no ticks of {symbol}; the store has {', '.join(others)} (symbols are "
                "case-sensitive)"
            )
        return iter(())
    return itertools.chain([first], rows)


@ticks_group.command("bars")
@click.option("--symbol", required=True)
@click.option("--timeframe", type=click.Choice(TIMEFRAMES), default="M1", show_default=True)
@click.option("--from", "from_", help="Start (Unix ms or ISO time).")
@click.option("--to", help="End (Unix ms or ISO time, exclusive).")
@format_option
@local_option
@data_option
@postgres_option
@reports_errors
def ticks_bars(
    symbol: str,
    timeframe: str,
    from_: str | None,
    to: str | None,
    fmt: str,
    local: bool,
    data_dir: Path,
    postgres: str,
) -> None:
    """OHLC bars from bids, with the tick count of each bar."""
    symbol, start, end = _symbol(symbol), parse_time(from_, 0), parse_time(to, 2**62)
    store = _reader(data_dir, postgres)
    try:
        rows = _found(store, symbol, store.query(symbol, start, end))
        out = ((b.time_ms, b.open, b.high, b.low, b.close, b.ticks) for b in bars(rows, timeframe))
        _print_rows(out, ["time_ms", "open", "high", "low", "close", "ticks"], fmt, local)
    finally:
        store.close()


@ticks_group.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet"]),
    default="csv",
    show_default=True,
    help="parquet needs the 'parquet' extra (pyarrow).",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--symbol", default=None, help="Only this symbol [default: all].")
@data_option
@postgres_option
@reports_errors
def ticks_export(fmt: str, out: Path, symbol: str | None, data_dir: Path, postgres: str) -> None:
    """Write stored ticks to a CSV or Parquet file."""
    if symbol is not None:
        _symbol(symbol)
    if not out.parent.is_dir():
        fail(f"--out {out}: directory {out.parent} does not exist (create it first)")
    store = _reader(data_dir, postgres)
    try:
        rows = store.query(symbol, 0, 2**62) if symbol else store.all_rows()
        if fmt == "csv":
            with _writable(out) as fh:
                writer = csv.writer(fh, lineterminator="\n")
                writer.writerow(COLUMNS)
                count = 0
                for count, row in enumerate(rows, start=1):  # noqa: B007 (count is used after)
                    writer.writerow(row)
        else:
            try:
                import pyarrow
                import pyarrow.parquet
            except ImportError:
                fail("parquet export needs pyarrow: .venv/bin/pip install 'tradewire[parquet]'")
            materialised = list(rows)
            count = len(materialised)
            table = pyarrow.table(
                {name: [r[i] for r in materialised] for i, name in enumerate(COLUMNS)}
            )
            try:
                pyarrow.parquet.write_table(table, out)
            except OSError as exc:
                fail(f"--out {out}: cannot write: {exc}")
    finally:
        store.close()
    console.print(f"wrote {count} ticks to {out}")


@ticks_group.command("stats")
@data_option
@postgres_option
@reports_errors
def ticks_stats(data_dir: Path, postgres: str) -> None:
    """Per symbol: count, first/last time, rate; per listener: received, malformed, drops."""
    store = _reader(data_dir, postgres)
    try:
        symbols, listeners = store.symbol_stats(), store.listener_stats()
    finally:
        store.close()
    table = Table("symbol", "ticks", "first (UTC)", "last (UTC)", "ticks/s")
    for symbol, count, first, last in symbols:
        span = max(last - first, 1) / 1000
        table.add_row(symbol, str(count), _utc(first), _utc(last), f"{count / span:,.1f}")
    console.print(table if symbols else "no ticks stored yet")
    if listeners:
        lt = Table("listener", "received", "malformed", "kernel drops", "as of (UTC)")
        for name, received, malformed, drops, updated in listeners:
            lt.add_row(name, str(received), str(malformed), str(drops), _utc(updated))
        console.print(lt)


def _writable(path: Path) -> TextIO:
    try:
        return path.open("w", newline="", encoding="utf-8")
    except OSError as exc:
        fail(f"--out {path}: cannot write: {exc.strerror}")


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
