"""The paper broker: a simulated MT5-like account persisted in SQLite (the embedded default).

One SQLite file per account, so a follower restarted finds its positions. All SQLite work runs
on the paper desk's threads (:mod:`tradewire.brokers.paper.desk`), an account's work in turn.
Reads answer from the account as last read or written here, so a follower's round costs no thread
hop; an order always applies to the file's own state, and a change another process makes to the
file is noticed within 0.2 s. Fills at bid/ask with configurable latency and slippage; realistic
rejections (unknown symbol, volume off-step or out of range, market closed, not enough margin,
requotes with a set probability). Every order, filled or rejected, goes to the ``orders`` table:
the order log that tests count duplicates from.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import msgspec

from tradewire.brokers.base import (
    Account,
    Deal,
    Fill,
    Mode,
    OrderRequest,
    PendingOrder,
    Position,
    Quote,
    Side,
    SymbolSpec,
)
from tradewire.brokers.ledger import (
    Mid,
    apply_fill,
    check_volume,
    fill_price,
    margin,
    profit,
    replace_pos,
)
from tradewire.brokers.paper import pending as paper_pending
from tradewire.brokers.paper.desk import DESK
from tradewire.brokers.paper.feed import Feed, ReplayFeed, SeededFeed
from tradewire.brokers.stop_rules import (
    check_pending,
    check_stops,
    pending_triggered,
    triggered,
)
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
    price REAL, result_position TEXT, profit REAL, entry TEXT);
CREATE INDEX IF NOT EXISTS orders_by_position ON orders (result_position);
CREATE INDEX IF NOT EXISTS orders_by_time ON orders (time_ms);
CREATE TABLE IF NOT EXISTS modifications (id INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL,
    position_id TEXT NOT NULL, sl REAL NOT NULL, tp REAL NOT NULL, status TEXT NOT NULL,
    reason TEXT);
CREATE TABLE IF NOT EXISTS pins (symbol TEXT PRIMARY KEY, bid REAL NOT NULL, ask REAL NOT NULL);
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


AccountRow = tuple[str, str, float, int, str]  # login, currency, balance, leverage, mode
_reads = itertools.count()


class Snapshot:
    """The account as read on a desk thread; ``taken`` orders reads of one process."""

    __slots__ = ("data_version", "orders", "positions", "row", "taken")

    def __init__(
        self,
        data_version: int,
        row: AccountRow,
        positions: list[Position],
        orders: list[PendingOrder],
    ) -> None:
        self.data_version, self.row, self.positions = data_version, row, positions
        self.orders = orders
        self.taken = next(_reads)

    def but(
        self, *, positions: list[Position] | None = None, orders: list[PendingOrder] | None = None
    ) -> Snapshot:
        """The same account with other positions or orders."""
        return Snapshot(
            self.data_version,
            self.row,
            self.positions if positions is None else positions,
            self.orders if orders is None else orders,
        )


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
    profit: float | None = None  # realised by a fill (closing deals; 0 for an opening one)
    entry: str | None = None  # a fill's DEAL_ENTRY: in, out or inout


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
        self.lock = threading.Lock()  # the desk runs this account's SQLite work in turn
        self._db: sqlite3.Connection | None = None
        self._changed = asyncio.Condition()
        self._version = 0
        self._data_version = 0
        self._snapshot: Snapshot | None = None  # the account as last read or written here
        self._newest: Snapshot | None = None  # the same on the desk's thread, under the lock
        self.mode: Mode = settings.mode
        # Prices pinned with `tradewire paper quote` (in the file, so every process sees them).
        self._pins: dict[str, tuple[float, float]] = {}

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
        await broker._run(broker._init_db, create, given)
        broker._take(await broker._run(broker._read))
        DESK.watch(broker)
        return broker

    async def close(self) -> None:
        await DESK.unwatch(self)
        if self._db is not None:
            await self._run(self._close_db)

    def _close_db(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _run(self, fn: Callable[..., T], *args: object) -> T:
        """Run ``fn`` on a desk thread, in turn with this account's other SQLite work."""
        return await DESK.run(self, fn, *args)

    def _read(self) -> Snapshot:
        """On the desk's thread: the account as the file holds it now."""
        self._pins = {
            symbol: (bid, ask)
            for symbol, bid, ask in self._conn().execute("SELECT symbol, bid, ask FROM pins")
        }
        snapshot = Snapshot(
            self._data_version_now(),
            self._account_row(),
            self._load_positions(),
            paper_pending.load(self._conn()),
        )
        self._newest = snapshot
        return snapshot

    def _current(self) -> Snapshot:
        """On the desk's thread, in a write transaction: the account as the file holds it, from
        the last read or write here unless another process wrote since."""
        newest = self._newest
        if newest is not None and self._data_version_now() == newest.data_version:
            return newest
        return self._read()

    def _take(self, snapshot: Snapshot) -> None:
        """On the loop: remember ``snapshot`` unless a newer one is already here."""
        if self._snapshot is None or snapshot.taken >= self._snapshot.taken:
            self._snapshot = snapshot
            self._data_version = snapshot.data_version

    def changed_elsewhere(self) -> Snapshot | None:
        """On a desk thread (the desk's watcher): the account anew if another process wrote
        to its file since the last look, or if a stop-loss or take-profit triggered."""
        if self._db is None:
            return None
        fresh = self._read() if self._data_version_now() != self._data_version else None
        return self._trigger_market() or fresh

    def _trigger_market(self) -> Snapshot | None:
        """Pending orders first (a fill may come with stops), then stop-losses and
        take-profits; the account after, or None when nothing happened."""
        filled = self._trigger_pending()
        return self._trigger_stops() or filled

    def _trigger_stops(self) -> Snapshot | None:
        """On the desk's thread: close every position whose stop the price reached, at market
        (the broker's side of SL/TP: it holds with no follower running). Returns the account
        after, or None when nothing triggered."""
        newest = self._newest
        if newest is None or not any(p.sl or p.tp for p in newest.positions):
            return None
        if not any(self._hit(p) for p in newest.positions):
            return None
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            closed = None
            for pos in self._current().positions:  # again, under the write lock
                kind = self._hit(pos)
                if not kind:
                    continue
                spec, quote = self._spec_quote(pos.symbol)
                side: Side = "sell" if pos.side == "buy" else "buy"
                level = pos.sl if kind == "sl" else pos.tp
                order = OrderRequest(
                    pos.symbol,
                    side,
                    pos.volume,
                    pos.id,
                    pos.magic,
                    f"[{kind} {level:.{spec.digits}f}]",
                )
                price = fill_price(side, quote.bid, quote.ask)
                _, closed = self._apply(order, spec, price, now_ms(self.clock))
                self._newest = closed
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            self._newest = None
            raise
        return closed

    def _hit(self, position: Position) -> str:
        if not (position.sl or position.tp):
            return ""
        try:
            return triggered(position, self._spec_quote(position.symbol)[1])
        except OrderRejected:
            return ""  # a symbol no longer quoted cannot trigger

    async def take_change(self, change: object) -> None:
        assert isinstance(change, Snapshot)
        self._take(change)
        await self._notify()

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
            db.executescript(SCHEMA + paper_pending.SCHEMA)
            _add_deal_columns(db)
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

    def _account_row(self) -> AccountRow:
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
        return self._account_of(self._account_row(), self._load_positions())

    def _account_of(
        self, row: AccountRow, positions: list[Position], mid: Mid | None = None
    ) -> Account:
        """The account with its floating profit and margin at current prices (no SQLite)."""
        login, currency, balance, leverage, mode = row
        mid = mid or self._mids()
        quotes: dict[str, tuple[SymbolSpec, Quote]] = {}
        floating, used = 0.0, 0.0
        for pos in positions:
            spec, q = quotes.get(pos.symbol) or quotes.setdefault(
                pos.symbol, self._spec_quote(pos.symbol)
            )
            close = q.bid if pos.side == "buy" else q.ask
            floating += profit(pos, spec, close, pos.volume, mid)
            used += margin(spec, pos.volume, pos.price, leverage, mid)
        return Account(
            login,
            currency,
            round(balance, 2),
            round(balance + floating, 2),
            leverage,
            mode,  # type: ignore[arg-type]
            margin=round(used, 2),
        )

    def _mids(self) -> Mid:
        """Mids at this moment, each worked out once (an account values many positions)."""
        known: dict[str, float | None] = {}

        def mid(base: str) -> float | None:
            if base not in known:
                known[base] = self._mid(base)
            return known[base]

        return mid

    def _spec_quote(self, symbol: str) -> tuple[SymbolSpec, Quote]:
        spec = resolve(symbol, self.settings.suffix)
        base = base_name(symbol, self.settings.suffix)
        pin = self._pins.get(symbol)
        if spec is not None and pin is not None:
            return spec, Quote(symbol, pin[0], pin[1], now_ms(self.clock))
        quote = self.feed.quote(spec, base, now_ms(self.clock)) if spec else None
        if spec is None or quote is None:
            raise OrderRejected("unknown_symbol", f"{symbol} is not traded on this account")
        return spec, quote

    def _execute(
        self, order: OrderRequest, slip_points: float, refusal: OrderRejected | None = None
    ) -> tuple[Fill, Snapshot]:
        db = self._conn()
        stamp = now_ms(self.clock)
        try:
            if refusal is not None:
                raise refusal
            spec, quote = self._spec_quote(order.symbol)
            check_volume(spec, order.volume)
            if order.sl or order.tp:
                check_stops(order.side, order.sl, order.tp, quote, spec)
            price = fill_price(order.side, quote.bid, quote.ask)
            price = round(
                price + (1 if order.side == "buy" else -1) * slip_points * spec.point, spec.digits
            )
            db.execute("BEGIN IMMEDIATE")
            try:
                done = self._apply(order, spec, price, stamp)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            self._newest = done[1]
            return done
        except OrderRejected as exc:
            _log_order(db, stamp, order, "rejected", reason=exc.reason)
            raise

    def _new_id(self) -> str:
        """The next ticket: positions and pending orders share one sequence, as in MT5."""
        db = self._conn()
        (next_id,) = db.execute("SELECT next_id FROM account").fetchone()
        db.execute("UPDATE account SET next_id = next_id + 1")
        return str(next_id)

    def _apply(
        self,
        order: OrderRequest,
        spec: SymbolSpec,
        price: float,
        stamp: int,
        opened_id: str | None = None,
    ) -> tuple[Fill, Snapshot]:
        """``opened_id``: the identifier a position it opens gets (a triggered pending order's
        ticket), instead of a new one."""
        db = self._conn()
        current = self._current()
        positions, row = current.positions, current.row
        mid = self._mids()
        before = self._account_of(row, positions, mid)

        def new_id() -> str:
            return opened_id or self._new_id()

        applied = apply_fill(self.mode, positions, order, spec, price, stamp, new_id, mid)
        used_after = sum(
            margin(resolve(p.symbol, self.settings.suffix) or spec, p.volume, p.price, row[3], mid)
            for p in applied.positions
        )
        if used_after > before.margin + 1e-9 and used_after > before.equity + applied.realized:
            raise OrderRejected(
                "no_money",
                f"margin {used_after:.2f} exceeds equity {before.equity:.2f}",
                retryable=True,
            )
        # Only the rows the fill changed: apply_fill keeps the others as they were.
        kept = {id(p) for p in applied.positions}
        gone = [(p.id,) for p in positions if id(p) not in kept]
        unchanged = {id(p) for p in positions}
        db.executemany("DELETE FROM positions WHERE id = ?", gone)
        db.executemany(
            "INSERT OR REPLACE INTO positions VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (p.id, p.symbol, p.side, p.volume, p.price, p.time, p.magic, p.comment, p.sl, p.tp)
                for p in applied.positions
                if id(p) not in unchanged
            ],
        )
        db.execute("UPDATE account SET balance = balance + ?", (applied.realized,))
        order_id = _log_order(
            db,
            stamp,
            order,
            "filled",
            price=price,
            result_position=applied.position_id,
            deal=(applied.realized, applied.entry),
        )
        fill = Fill(
            order_id, order.symbol, order.side, order.volume, price, stamp, applied.position_id
        )
        after = (row[0], row[1], row[2] + applied.realized, row[3], row[4])
        ordered = sorted(applied.positions, key=_stored_order)  # as _load_positions reads them
        return fill, Snapshot(current.data_version, after, ordered, current.orders)

    def _orders(self) -> list[OrderRecord]:
        rows = self._conn().execute("SELECT * FROM orders ORDER BY id")
        return [OrderRecord(*row) for row in rows]

    def _modify(self, position_id: str, sl: float, tp: float) -> Snapshot:
        db = self._conn()
        stamp = now_ms(self.clock)
        db.execute("BEGIN IMMEDIATE")
        try:
            current = self._current()
            pos = next((p for p in current.positions if p.id == position_id), None)
            if pos is None:
                raise OrderRejected("position_not_found", f"no position {position_id}")
            spec, quote = self._spec_quote(pos.symbol)
            check_stops(pos.side, sl, tp, quote, spec)
            db.execute("UPDATE positions SET sl = ?, tp = ? WHERE id = ?", (sl, tp, position_id))
            db.execute(
                "INSERT INTO modifications (time_ms, position_id, sl, tp, status) "
                "VALUES (?,?,?,?,'done')",
                (stamp, position_id, sl, tp),
            )
        except OrderRejected as exc:
            db.execute(
                "INSERT INTO modifications (time_ms, position_id, sl, tp, status, reason) "
                "VALUES (?,?,?,?,'rejected',?)",
                (stamp, position_id, sl, tp, exc.reason),
            )
            db.execute("COMMIT")
            raise
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        changed = [
            replace_pos(p, sl=sl, tp=tp) if p.id == position_id else p for p in current.positions
        ]
        snapshot = current.but(positions=changed)
        self._newest = snapshot
        return snapshot

    def _modifications(self) -> list[tuple[str, float, float, str]]:
        rows = self._conn().execute(
            "SELECT position_id, sl, tp, status FROM modifications ORDER BY id"
        )
        return [(pid, sl, tp, status) for pid, sl, tp, status in rows]

    def _pin(self, symbol: str, bid: float | None, ask: float | None) -> Snapshot:
        db = self._conn()
        if bid is None or ask is None:
            db.execute("DELETE FROM pins WHERE symbol = ?", (symbol,))
        else:
            db.execute("INSERT OR REPLACE INTO pins VALUES (?,?,?)", (symbol, bid, ask))
        snapshot = self._read()
        return self._trigger_market() or snapshot

    # ---- pending orders (on the desk's thread) --------------------------------------------------

    def _write(self, change: Callable[[Snapshot, int], Snapshot]) -> Snapshot:
        """Run ``change`` (current account, time) in one write transaction; a refusal it
        raises is still logged (it commits), anything else rolls back."""
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            after = change(self._current(), now_ms(self.clock))
        except OrderRejected:
            db.execute("COMMIT")
            self._newest = None
            raise
        except BaseException:
            db.execute("ROLLBACK")
            self._newest = None
            raise
        db.execute("COMMIT")
        self._newest = after
        return after

    def _place(self, order: PendingOrder) -> tuple[str, Snapshot]:
        placed: list[str] = []

        def change(current: Snapshot, stamp: int) -> Snapshot:
            spec, quote = self._spec_quote(order.symbol)
            ticket = self._new_id()
            try:
                check_volume(spec, order.volume)
                check_pending(order, quote, spec, stamp)
            except OrderRejected as exc:
                paper_pending.log(self._conn(), stamp, ticket, "place", "rejected", exc.reason)
                raise
            new = msgspec.structs.replace(order, id=ticket, time=stamp)
            paper_pending.save(self._conn(), new)
            paper_pending.log(self._conn(), stamp, ticket, "place")
            placed.append(ticket)
            return current.but(orders=[*current.orders, new])

        after = self._write(change)
        return placed[0], after

    def _change_order(self, order_id: str, changes: dict[str, float | int]) -> Snapshot:
        def change(current: Snapshot, stamp: int) -> Snapshot:
            old = next((o for o in current.orders if o.id == order_id), None)
            if old is None:
                raise OrderRejected("order_not_found", f"no pending order {order_id}")
            new = msgspec.structs.replace(old, **changes)
            spec, quote = self._spec_quote(old.symbol)
            try:
                check_pending(new, quote, spec, stamp)
            except OrderRejected as exc:
                paper_pending.log(self._conn(), stamp, order_id, "modify", "rejected", exc.reason)
                raise
            paper_pending.save(self._conn(), new)
            paper_pending.log(self._conn(), stamp, order_id, "modify")
            return current.but(orders=[new if o.id == order_id else o for o in current.orders])

        return self._write(change)

    def _cancel(self, order_id: str) -> Snapshot:
        def change(current: Snapshot, stamp: int) -> Snapshot:
            if not any(o.id == order_id for o in current.orders):
                raise OrderRejected("order_not_found", f"no pending order {order_id}")
            paper_pending.delete(self._conn(), order_id)
            paper_pending.log(self._conn(), stamp, order_id, "cancel")
            return current.but(orders=[o for o in current.orders if o.id != order_id])

        return self._write(change)

    def _due(self, order: PendingOrder, stamp: int) -> str:
        """What the market does to ``order`` now: "expire", "trigger" or ""."""
        if order.expiration and order.expiration <= stamp:
            return "expire"
        try:
            quote = self._spec_quote(order.symbol)[1]
        except OrderRejected:
            return ""
        return "trigger" if pending_triggered(order, quote) else ""

    def _trigger_pending(self) -> Snapshot | None:
        """On the desk's thread: expire, convert or fill the pending orders the clock or the
        price reached. A filled one opens the position with its own ticket as identifier."""
        newest = self._newest
        stamp = now_ms(self.clock)
        if newest is None or not any(self._due(o, stamp) for o in newest.orders):
            return None

        def change(current: Snapshot, stamp: int) -> Snapshot:
            db = self._conn()
            for order in current.orders:  # again, under the write lock
                due = self._due(order, stamp)
                if not due:
                    continue
                current = self._current()
                rest = [o for o in current.orders if o.id != order.id]
                if due == "expire":
                    paper_pending.delete(db, order.id)
                    paper_pending.log(db, stamp, order.id, "expire")
                    current = current.but(orders=rest)
                elif order.type.endswith("stop_limit"):  # the stop reached: now a limit
                    limit = msgspec.structs.replace(
                        order, type=f"{order.side}_limit", price=order.stop_limit, stop_limit=0.0
                    )
                    paper_pending.save(db, limit)
                    paper_pending.log(db, stamp, order.id, "convert")
                    current = current.but(orders=[*rest, limit])
                else:
                    current = self._fill_pending(order, current.but(orders=rest), stamp)
                self._newest = current
            return current

        return self._write(change)

    def _fill_pending(self, order: PendingOrder, without: Snapshot, stamp: int) -> Snapshot:
        db = self._conn()
        paper_pending.delete(db, order.id)
        self._newest = without
        spec, quote = self._spec_quote(order.symbol)
        request = OrderRequest(
            order.symbol, order.side, order.volume, None, order.magic, order.comment,
            order.sl, order.tp,
        )  # fmt: skip
        try:
            _, after = self._apply(
                request, spec, fill_price(order.side, quote.bid, quote.ask), stamp, order.id
            )
        except OrderRejected as exc:  # no margin for it now: the broker cancels it
            paper_pending.log(db, stamp, order.id, "trigger", "rejected", exc.reason)
            return without
        paper_pending.log(db, stamp, order.id, "trigger")
        return after

    def _pending_history(self) -> list[paper_pending.PendingLogRecord]:
        return paper_pending.history(self._conn())

    def _deals(self, where: str, value: object) -> list[Deal]:
        rows = self._conn().execute(
            "SELECT id, result_position, symbol, side, volume, price, time_ms, magic, comment,"
            f" profit, entry FROM orders WHERE {where} AND status = 'filled' ORDER BY id",
            (value,),
        )
        # (ticket, position, symbol, side, volume, price, time, magic, comment, profit, entry)
        return [
            Deal(
                str(r[0]),
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                r[6],
                r[7],
                r[9] or 0.0,
                r[8],
                r[10] or "in",
            )
            for r in rows
        ]

    def _data_version_now(self) -> int:
        return int(self._conn().execute("PRAGMA data_version").fetchone()[0])

    # ---- Broker protocol -----------------------------------------------------------------------

    async def account(self) -> Account:
        assert self._snapshot is not None, "use PaperBroker.open()"
        return self._account_of(self._snapshot.row, self._snapshot.positions)

    def held_now(self) -> tuple[Account, list[Position], list[PendingOrder]]:
        """The account, positions and pending orders at once (base.HeldInMemory)."""
        snapshot = self._snapshot
        assert snapshot is not None, "use PaperBroker.open()"
        account = self._account_of(snapshot.row, snapshot.positions)
        return account, list(snapshot.positions), list(snapshot.orders)

    async def positions(self) -> list[Position]:
        assert self._snapshot is not None, "use PaperBroker.open()"
        return list(self._snapshot.positions)

    async def symbol(self, name: str) -> SymbolSpec | None:
        return resolve(name, self.settings.suffix)

    async def quote(self, symbol: str) -> Quote:
        return self._spec_quote(symbol)[1]  # the feed is pure: no SQLite, no thread

    async def position_deals(self, position_id: str) -> list[Deal]:
        """The filled orders of one position (each fill is one deal here)."""
        return await self._run(self._deals, "result_position = ?", position_id)

    async def deals_since(self, since_ms: int) -> list[Deal]:
        """Every deal from ``since_ms`` on, oldest first (a paper account charges no commission
        or swap)."""
        return await self._run(self._deals, "time_ms >= ?", since_ms)

    async def modify_position(self, position_id: str, sl: float, tp: float) -> None:
        """Set a position's stop-loss and take-profit (0: none). Raises OrderRejected
        (``position_not_found``, ``invalid_stops``)."""
        snapshot: Snapshot | None = None
        try:
            snapshot = await self._run(self._modify, position_id, sl, tp)
        finally:
            if snapshot is not None:
                self._take(snapshot)
            await self._notify()

    async def modifications(self) -> list[tuple[str, float, float, str]]:
        """Every SL/TP modification asked of this account: (position, sl, tp, status)."""
        return await self._run(self._modifications)

    async def pin(self, symbol: str, bid: float | None, ask: float | None = None) -> None:
        """Pin ``symbol``'s price for every process using this account until the next pin
        (``bid=None``: unpin), and trigger the stops it reaches at once."""
        if bid is not None and ask is not None:
            spec = resolve(symbol, self.settings.suffix)
            if spec is None:
                raise OrderRejected("unknown_symbol", f"{symbol} is not traded on this account")
            if not (math.isfinite(bid) and math.isfinite(ask) and 0 < bid <= ask):
                raise OrderRejected(
                    "invalid_price", f"bid {bid} and ask {ask}: need 0 < bid <= ask"
                )
        self._take(await self._run(self._pin, symbol, bid, ask))
        await self._notify()

    async def orders(self) -> list[PendingOrder]:
        assert self._snapshot is not None, "use PaperBroker.open()"
        return list(self._snapshot.orders)

    async def place_order(self, order: PendingOrder) -> str:
        """Place a pending order; returns its ticket. Raises OrderRejected (``invalid_price``,
        ``invalid_stops``, ``invalid_expiration``, volume and symbol reasons)."""
        result = await self._changing(self._place, order)
        return result[0]

    async def modify_order(
        self,
        order_id: str,
        price: float,
        sl: float,
        tp: float,
        expiration: int = 0,
        stop_limit: float = 0.0,
    ) -> None:
        """Move a pending order (its volume cannot change: cancel and place another)."""
        changes = {"price": price, "sl": sl, "tp": tp, "expiration": expiration}
        if stop_limit:
            changes["stop_limit"] = stop_limit
        await self._changing(self._change_order, order_id, changes)

    async def cancel_order(self, order_id: str) -> None:
        await self._changing(self._cancel, order_id)

    async def pending_history(self) -> list[paper_pending.PendingLogRecord]:
        """Every action on this account's pending orders, oldest first."""
        return await self._run(self._pending_history)

    async def _changing(self, fn: Callable[..., T], *args: object) -> T:
        """Run a change on the desk; take the account it leaves and tell the watchers."""
        try:
            result = await self._run(fn, *args)
        finally:
            newest = self._newest
            if newest is not None:
                self._take(newest)
            await self._notify()
        return result

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
        snapshot: Snapshot | None = None
        try:
            fill, snapshot = await self._run(self._execute, order, slip, refusal)
            return fill
        finally:
            if snapshot is not None:
                self._take(snapshot)
            await self._notify()  # a rejection is news too: it is in the order log

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


def _stored_order(position: Position) -> tuple[int, int]:
    """The order of ``ORDER BY time_ms, CAST(id AS INTEGER)``."""
    return position.time, int(position.id) if position.id.isdigit() else 0


def _log_order(
    db: sqlite3.Connection,
    stamp: int,
    order: OrderRequest,
    status: str,
    *,
    reason: str | None = None,
    price: float | None = None,
    result_position: str | None = None,
    deal: tuple[float, str] | None = None,
) -> str:
    """One row of the account's order log; returns its id. ``deal``: a fill's realised profit
    and entry."""
    profit, entry = deal if deal is not None else (None, None)
    cur = db.execute(
        "INSERT INTO orders (time_ms, symbol, side, volume, position_id, magic, comment, "
        "status, reason, price, result_position, profit, entry) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
            profit,
            entry,
        ),
    )
    return str(cur.lastrowid)


def _add_deal_columns(db: sqlite3.Connection) -> None:
    """Accounts made before fills kept their profit and entry get the two columns (their old
    fills read as opening deals with no profit)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(orders)")}
    for column, kind in (("profit", "REAL"), ("entry", "TEXT")):
        if column not in have:
            db.execute(f"ALTER TABLE orders ADD COLUMN {column} {kind}")
