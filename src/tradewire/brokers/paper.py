"""The paper broker: a simulated MT5-like account persisted in SQLite (the embedded default).

One SQLite file per account, so a follower restarted finds its positions. All SQLite work runs
on the broker's own thread. Fills at bid/ask with configurable latency and slippage; realistic
rejections (unknown symbol, volume off-step or out of range, market closed, not enough margin,
requotes with a set probability). Every order, filled or rejected, goes to the ``orders`` table:
the order log that tests count duplicates from.
"""

from __future__ import annotations

import asyncio
import math
import random
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec

from tradewire.brokers.base import (
    Account,
    Fill,
    Mode,
    OrderRequest,
    Position,
    Quote,
    SymbolSpec,
)
from tradewire.brokers.feed import Feed, ReplayFeed, SeededFeed
from tradewire.brokers.ledger import apply_fill, check_volume, fill_price, margin, profit
from tradewire.brokers.symbols import base_name, resolve
from tradewire.clock import Clock, SystemClock, now_ms
from tradewire.exceptions import BrokerError, OrderRejected

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), login TEXT NOT NULL,
    currency TEXT NOT NULL, balance REAL NOT NULL, leverage INTEGER NOT NULL, mode TEXT NOT NULL,
    next_id INTEGER NOT NULL, suffix TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (id TEXT PRIMARY KEY, symbol TEXT NOT NULL,
    side TEXT NOT NULL, volume REAL NOT NULL, price REAL NOT NULL, time_ms INTEGER NOT NULL,
    magic INTEGER NOT NULL, comment TEXT NOT NULL, sl REAL NOT NULL, tp REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, volume REAL NOT NULL, position_id TEXT,
    magic INTEGER NOT NULL, comment TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    price REAL, result_position TEXT);
"""


class PaperSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How a paper account behaves. ``mode``, ``balance``, ``leverage``, ``suffix`` apply when
    the account is created; an existing account keeps its own."""

    login: str = "paper"
    mode: Mode = "hedging"
    balance: Annotated[float, msgspec.Meta(gt=0, le=1e12)] = 10_000.0
    leverage: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    suffix: str = ""  # broker symbol suffix, e.g. ".m" for EURUSD.m
    seed: int = 1  # price feed seed: same seed, same prices in every process
    latency_ms: Annotated[float, msgspec.Meta(ge=0, le=60_000)] = 0.0
    # adverse slippage drawn uniformly from [0, this]
    slippage_points: Annotated[float, msgspec.Meta(ge=0, le=1e6)] = 0.0
    requote_probability: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    market_closed: bool = False
    # Replay an MT5 tick export for one symbol instead of the seeded feed (others stay seeded).
    replay_csv: str = ""
    replay_symbol: str = ""


def _feed_for(settings: PaperSettings, clock: Clock) -> Feed:
    seeded = SeededFeed(settings.seed)
    if not settings.replay_csv:
        return seeded
    if not settings.replay_symbol:
        raise BrokerError("replay_csv needs replay_symbol (the symbol the export is of)")
    try:
        return ReplayFeed(Path(settings.replay_csv), settings.replay_symbol, now_ms(clock), seeded)
    except (OSError, ValueError) as exc:
        raise BrokerError(f"replay_csv {settings.replay_csv}: {exc}") from exc


class OrderRecord(msgspec.Struct, frozen=True):
    id: int
    time_ms: int
    symbol: str
    side: str
    volume: float
    position_id: str | None
    magic: int
    comment: str
    status: str
    reason: str | None
    price: float | None
    result_position: str | None


class PaperBroker:
    """A paper account in ``path``. Use ``await PaperBroker.open(...)``."""

    def __init__(
        self,
        path: Path,
        settings: PaperSettings,
        clock: Clock | None = None,
        feed: Feed | None = None,
    ) -> None:
        self.path = path
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.feed: Feed = feed or _feed_for(settings, clock or SystemClock())
        self._rng = random.Random(settings.seed * 7919 + 17)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="tw-paper")
        self._db: sqlite3.Connection | None = None
        self._changed = asyncio.Condition()
        self._version = 0
        self._data_version = 0
        self._poller: asyncio.Task[None] | None = None
        self.mode: Mode = settings.mode

    @classmethod
    async def open(
        cls,
        path: Path,
        settings: PaperSettings | None = None,
        clock: Clock | None = None,
        feed: Feed | None = None,
        *,
        create: bool = True,
        given: frozenset[str] = frozenset(),
    ) -> PaperBroker:
        """Open the account in ``path``, creating it if ``create`` (its directory must exist).

        ``given``: the settings the user spelled out; one that contradicts an existing account
        (``mode``, ``suffix``, ``leverage``, ``login``) is an error, not silently ignored.
        """
        broker = cls(path, settings or PaperSettings(), clock, feed)
        try:
            await broker._run(broker._init_db, create, given)
        except BrokerError:
            broker._executor.shutdown(wait=False)
            raise
        broker._data_version = await broker._run(broker._data_version_now)
        broker._poller = asyncio.get_running_loop().create_task(broker._poll_external())
        return broker

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._db is not None:
            await self._run(self._db.close)
        self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` on the broker's SQLite thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # ---- database (on the broker thread) -------------------------------------------------------

    def _init_db(self, create: bool, given: frozenset[str]) -> None:
        if not self.path.exists():
            if not create:
                raise BrokerError(
                    f"no paper account at {self.path} (trade on it first, e.g. "
                    "`tradewire paper order`, or check the file name)"
                )
            if not self.path.parent.is_dir():
                raise BrokerError(
                    f"paper account {self.path}: directory {self.path.parent} "
                    "does not exist (create it first)"
                )
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
            row = db.execute("SELECT mode, suffix, leverage, login FROM account").fetchone()
            if row is None:
                s = self.settings
                db.execute(
                    "INSERT INTO account VALUES (1,?,?,?,?,?,1,?)",
                    (s.login, "USD", s.balance, s.leverage, s.mode, s.suffix),
                )
            else:  # the account's own mode and symbol suffix win over the settings
                for key, value in zip(("mode", "suffix", "leverage", "login"), row, strict=True):
                    if key in given and getattr(self.settings, key) != value:
                        db.close()
                        raise BrokerError(
                            f"paper account {self.path} has {key}={value}; "
                            f"?{key}={getattr(self.settings, key)} contradicts it (leave it "
                            "out, or use another file for a new account)"
                        )
                self.mode = row[0]
                self.settings = msgspec.structs.replace(self.settings, mode=row[0], suffix=row[1])
        except sqlite3.Error as exc:
            raise BrokerError(f"paper account {self.path}: {exc}") from exc
        self._db = db

    def _conn(self) -> sqlite3.Connection:
        assert self._db is not None, "use PaperBroker.open()"
        return self._db

    def _load_positions(self) -> list[Position]:
        rows = self._conn().execute(
            "SELECT id, symbol, side, volume, price, time_ms, sl, tp, magic, comment "
            "FROM positions ORDER BY time_ms, CAST(id AS INTEGER)"
        )
        return [Position(*row) for row in rows]

    def _account_row(self) -> tuple[str, str, float, int, str]:
        row = (
            self._conn()
            .execute("SELECT login, currency, balance, leverage, mode FROM account")
            .fetchone()
        )
        return row  # type: ignore[no-any-return]

    def _mid(self, base: str) -> float | None:
        spec = resolve(base)
        q = self.feed.quote(spec, base, now_ms(self.clock)) if spec else None
        return None if q is None else (q.bid + q.ask) / 2

    def _account(self) -> Account:
        login, currency, balance, leverage, mode = self._account_row()
        floating, used = 0.0, 0.0
        for pos in self._load_positions():
            spec, q = self._spec_quote(pos.symbol)
            close = q.bid if pos.side == "buy" else q.ask
            floating += profit(pos, spec, close, pos.volume, self._mid)
            used += margin(spec, pos.volume, pos.price, leverage, self._mid)
        return Account(
            login,
            currency,
            round(balance, 2),
            round(balance + floating, 2),
            leverage,
            mode,  # type: ignore[arg-type]
            margin=round(used, 2),
        )

    def _spec_quote(self, symbol: str) -> tuple[SymbolSpec, Quote]:
        spec = resolve(symbol, self.settings.suffix)
        base = base_name(symbol, self.settings.suffix)
        quote = self.feed.quote(spec, base, now_ms(self.clock)) if spec else None
        if spec is None or quote is None:
            raise OrderRejected("unknown_symbol", f"{symbol} is not traded on this account")
        return spec, quote

    def _execute(
        self, order: OrderRequest, slip_points: float, refusal: OrderRejected | None = None
    ) -> Fill:
        db = self._conn()
        stamp = now_ms(self.clock)
        try:
            if refusal is not None:
                raise refusal
            spec, quote = self._spec_quote(order.symbol)
            check_volume(spec, order.volume)
            price = fill_price(order.side, quote.bid, quote.ask)
            price = round(
                price + (1 if order.side == "buy" else -1) * slip_points * spec.point, spec.digits
            )
            db.execute("BEGIN IMMEDIATE")
            try:
                fill = self._apply(order, spec, price, stamp)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return fill
        except OrderRejected as exc:
            _log_order(db, stamp, order, "rejected", reason=exc.reason)
            raise

    def _apply(self, order: OrderRequest, spec: SymbolSpec, price: float, stamp: int) -> Fill:
        db = self._conn()
        before = self._account()
        positions = self._load_positions()

        def new_id() -> str:
            (next_id,) = db.execute("SELECT next_id FROM account").fetchone()
            db.execute("UPDATE account SET next_id = next_id + 1")
            return str(next_id)

        applied = apply_fill(self.mode, positions, order, spec, price, stamp, new_id, self._mid)
        leverage = before.leverage
        used_after = sum(
            margin(
                resolve(p.symbol, self.settings.suffix) or spec,
                p.volume,
                p.price,
                leverage,
                self._mid,
            )
            for p in applied.positions
        )
        if used_after > before.margin + 1e-9 and used_after > before.equity + applied.realized:
            raise OrderRejected(
                "no_money",
                f"margin {used_after:.2f} exceeds equity {before.equity:.2f}",
                retryable=True,
            )
        db.execute("DELETE FROM positions")
        db.executemany(
            "INSERT INTO positions VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    p.id,
                    p.symbol,
                    p.side,
                    p.volume,
                    p.price,
                    p.time,
                    p.magic,
                    p.comment,
                    p.sl,
                    p.tp,
                )
                for p in applied.positions
            ],
        )
        db.execute("UPDATE account SET balance = balance + ?", (applied.realized,))
        order_id = _log_order(
            db, stamp, order, "filled", price=price, result_position=applied.position_id
        )
        return Fill(
            order_id,
            order.symbol,
            order.side,
            order.volume,
            price,
            stamp,
            applied.position_id,
        )

    def _orders(self) -> list[OrderRecord]:
        rows = self._conn().execute("SELECT * FROM orders ORDER BY id")
        return [OrderRecord(*row) for row in rows]

    def _data_version_now(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    # ---- Broker protocol -----------------------------------------------------------------------

    async def account(self) -> Account:
        return await self._run(self._account)

    async def positions(self) -> list[Position]:
        return await self._run(self._load_positions)

    async def symbol(self, name: str) -> SymbolSpec | None:
        return resolve(name, self.settings.suffix)

    async def quote(self, symbol: str) -> Quote:
        return (await self._run(self._spec_quote, symbol))[1]

    async def market_order(self, order: OrderRequest) -> Fill:
        """Execute ``order`` at market after the configured latency. Raises OrderRejected."""
        if not math.isfinite(order.volume) or order.volume <= 0:
            # Refused before the order log: a NaN volume cannot even be recorded.
            raise OrderRejected("volume_range", f"{order.volume} is not a positive number of lots")
        s = self.settings
        if s.latency_ms > 0:
            await asyncio.sleep(s.latency_ms / 1000)
        refusal = None
        if s.market_closed:
            refusal = OrderRejected("market_closed", "the market is closed", retryable=True)
        elif s.requote_probability and self._rng.random() < s.requote_probability:
            refusal = OrderRejected("requote", "price changed", retryable=True)
        slip = self._rng.uniform(0, s.slippage_points) if s.slippage_points else 0.0
        try:
            return await self._run(self._execute, order, slip, refusal)
        finally:
            await self._notify()

    async def changes(self) -> AsyncIterator[None]:
        seen = [self._version]  # a cell the predicate reads: the newest version this caller saw
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self._version != seen[0])
                seen[0] = self._version
            yield None

    async def order_log(self) -> list[OrderRecord]:
        """Every order this account received, filled or rejected, oldest first."""
        return await self._run(self._orders)

    def configure(self, **changes: object) -> None:
        """Change latency, slippage, requotes or market hours while running (tests, demo)."""
        self.settings = msgspec.structs.replace(self.settings, **changes)

    async def _notify(self) -> None:
        async with self._changed:
            self._version += 1
            self._changed.notify_all()

    async def _poll_external(self) -> None:
        """Notice changes another process made to this account's file."""
        while True:
            await asyncio.sleep(0.2)
            version = await self._run(self._data_version_now)
            if version != self._data_version:
                self._data_version = version
                await self._notify()


def _log_order(
    db: sqlite3.Connection,
    stamp: int,
    order: OrderRequest,
    status: str,
    *,
    reason: str | None = None,
    price: float | None = None,
    result_position: str | None = None,
) -> str:
    """One row of the account's order log; returns its id."""
    cur = db.execute(
        "INSERT INTO orders (time_ms, symbol, side, volume, position_id, magic, comment, "
        "status, reason, price, result_position) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (
            stamp,
            order.symbol,
            order.side,
            order.volume,
            order.position_id,
            order.magic,
            order.comment,
            status,
            reason,
            price,
            result_position,
        ),
    )
    return str(cur.lastrowid)
