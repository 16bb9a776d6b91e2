"""A FAKE of MetaQuotes' ``MetaTrader5`` package, which runs only on Windows next to a terminal.

It implements the documented subset the ``mt5:`` broker and ``ticks send --from-mt5`` use, with
the package's conventions: results are named tuples, a call that fails returns ``None`` and
``last_error()`` says why as ``(code, message)``, ``order_send`` answers an ``OrderSendResult``
whose ``retcode`` says what happened, ``copy_ticks_range`` returns a numpy structured array.
The trading arithmetic is the paper broker's (tradewire.brokers.ledger, a seeded feed).
"""

from __future__ import annotations

import time
import types
from collections import namedtuple
from datetime import datetime
from typing import Any

import msgspec
import numpy as np

from tradewire.brokers.ledger import apply_fill, margin
from tradewire.brokers.paper.feed import SeededFeed
from tradewire.brokers.stop_rules import check_pending, check_stops
from tradewire.brokers.symbols import resolve
from tradewire.exceptions import OrderRejected
from tradewire.model import OrderRequest, PendingOrder, Position, Quote

AccountInfo = namedtuple(
    "AccountInfo", "login leverage balance equity margin currency margin_mode server"
)
TradePosition = namedtuple(
    "TradePosition",
    "ticket time time_msc type magic identifier volume price_open sl tp symbol comment",
)
SymbolInfo = namedtuple(
    "SymbolInfo",
    "name visible digits trade_contract_size volume_min volume_step volume_max "
    "currency_base currency_profit filling_mode",
)
Tick = namedtuple("Tick", "time bid ask last volume time_msc flags volume_real")
OrderSendResult = namedtuple(
    "OrderSendResult", "retcode deal order volume price bid ask comment request_id request"
)
TradeDeal = namedtuple(
    "TradeDeal",
    "ticket order time time_msc type entry magic position_id volume price symbol comment profit"
    " commission swap",
)
TradeOrder = namedtuple(
    "TradeOrder",
    "ticket time_setup_msc type type_time time_expiration volume_current price_open "
    "price_stoplimit sl tp symbol magic comment",
)
PENDING_CODES = {
    "buy_limit": 2, "sell_limit": 3, "buy_stop": 4, "sell_stop": 5,
    "buy_stop_limit": 6, "sell_stop_limit": 7,
}  # fmt: skip
PENDING_NAMES = {code: name for name, code in PENDING_CODES.items()}
TICK_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("bid", "<f8"),
        ("ask", "<f8"),
        ("last", "<f8"),
        ("volume", "<u8"),
        ("time_msc", "<i8"),
        ("flags", "<u4"),
        ("volume_real", "<f8"),
    ]
)


class FakeMetaTrader5(types.ModuleType):
    # the package's constants (values as in MQL5)
    TRADE_ACTION_DEAL = 1
    TRADE_ACTION_PENDING = 5
    TRADE_ACTION_SLTP = 6
    TRADE_ACTION_MODIFY = 7
    TRADE_ACTION_REMOVE = 8
    ORDER_TYPE_BUY, ORDER_TYPE_SELL = 0, 1
    POSITION_TYPE_BUY, POSITION_TYPE_SELL = 0, 1
    DEAL_TYPE_BUY, DEAL_TYPE_SELL = 0, 1
    ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 1, 2
    ORDER_TIME_GTC = 0
    ACCOUNT_MARGIN_MODE_RETAIL_NETTING, ACCOUNT_MARGIN_MODE_RETAIL_HEDGING = 0, 2
    COPY_TICKS_ALL = -1
    TRADE_RETCODE_DONE = 10009
    RES_S_OK, RES_E_INTERNAL_FAIL_INIT = 1, -10005

    def __init__(self, mode: str = "hedging", filling_mode: int = 1) -> None:
        super().__init__("MetaTrader5")
        self.mode = mode
        self.filling_mode = filling_mode  # SYMBOL_FILLING_FOK
        self.balance = 10_000.0
        self.leverage = 100
        self.positions: list[Position] = []
        self.pending: list[PendingOrder] = []
        self.deals: list[Any] = []
        self.requests: list[dict[str, Any]] = []
        self.next_ticket = 5001
        self.commission_per_lot = 0.0  # charged on every deal, as some brokers do
        self.error: tuple[int, str] = (self.RES_S_OK, "Success")
        self.initialized: dict[str, Any] | None = None
        self.refuse_login = False
        self.forced_retcodes: list[int] = []  # answered by the next order_send calls
        self.broken: set[str] = set()  # functions that return None (a lost terminal)
        self.feed = SeededFeed(1)

    # ---- helpers ----------------------------------------------------------------------------

    def _fail(self, code: int, message: str) -> None:
        self.error = (code, message)

    def _ok(self) -> None:
        self.error = (self.RES_S_OK, "Success")

    def _mid(self, symbol: str) -> float | None:
        return self.feed.mid(symbol, int(time.time() * 1000))

    def _ready(self, name: str) -> bool:
        if self.initialized is None:
            self._fail(-10004, "No IPC connection")
            return False
        if name in self.broken:
            self._fail(-10001, "Terminal: Call failed")
            return False
        return True

    # ---- the package's functions --------------------------------------------------------------

    def initialize(self, path: str | None = None, **kwargs: Any) -> bool:
        if self.refuse_login:
            self._fail(-6, "Terminal: Authorization failed")
            return False
        self.initialized = {"path": path, **kwargs}
        self._ok()
        return True

    def shutdown(self) -> None:
        self.initialized = None

    def last_error(self) -> tuple[int, str]:
        return self.error

    def account_info(self) -> AccountInfo | None:
        if not self._ready("account_info"):
            return None
        used = sum(
            margin(
                resolve(p.symbol) or resolve("EURUSD"), p.volume, p.price, self.leverage, self._mid
            )  # type: ignore[arg-type]
            for p in self.positions
        )
        hedging = self.mode == "hedging"
        mode = (
            self.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
            if hedging
            else self.ACCOUNT_MARGIN_MODE_RETAIL_NETTING
        )
        self._ok()
        return AccountInfo(
            51234567,
            self.leverage,
            self.balance,
            self.balance,
            round(used, 2),
            "USD",
            mode,
            "Fake-Demo",
        )

    def positions_get(
        self, symbol: str | None = None, ticket: int | None = None
    ) -> tuple[Any, ...] | None:
        if not self._ready("positions_get"):
            return None
        self._ok()
        return tuple(
            TradePosition(
                int(p.id),
                p.time // 1000,
                p.time,
                0 if p.side == "buy" else 1,
                p.magic,
                int(p.id),
                p.volume,
                p.price,
                p.sl,
                p.tp,
                p.symbol,
                p.comment,
            )
            for p in self.positions
            if (symbol is None or p.symbol == symbol) and (ticket is None or int(p.id) == ticket)
        )

    def symbol_info(self, name: str) -> SymbolInfo | None:
        if not self._ready("symbol_info"):
            return None
        spec = resolve(name)
        if spec is None:
            self._fail(-1, "Terminal: Call failed")  # the package's answer to an unknown name
            return None
        self._ok()
        return SymbolInfo(
            name, False, spec.digits, spec.contract_size, spec.volume_min, spec.volume_step,
            spec.volume_max, spec.base, spec.quote, self.filling_mode,
        )  # fmt: skip

    def symbol_select(self, name: str, enable: bool = True) -> bool:
        return resolve(name) is not None

    def symbol_info_tick(self, name: str) -> Tick | None:
        if not self._ready("symbol_info_tick"):
            return None
        spec = resolve(name)
        quote = self.feed.quote(spec, name, int(time.time() * 1000)) if spec else None
        if quote is None:
            self._fail(-1, "Terminal: Call failed")
            return None
        self._ok()
        return Tick(quote.time_ms // 1000, quote.bid, quote.ask, 0.0, 0, quote.time_ms, 6, 0.0)

    def order_send(self, request: dict[str, Any]) -> OrderSendResult | None:
        if not self._ready("order_send"):
            return None
        self.requests.append(dict(request))
        spec = resolve(request.get("symbol", ""))
        if request["action"] == self.TRADE_ACTION_SLTP:
            return self._sltp(request)
        if request["action"] in (
            self.TRADE_ACTION_PENDING,
            self.TRADE_ACTION_MODIFY,
            self.TRADE_ACTION_REMOVE,
        ):
            return self._pending_request(request)
        side = "buy" if request["type"] == self.ORDER_TYPE_BUY else "sell"

        def answer(
            retcode: int, comment: str, volume: float = 0.0, price: float = 0.0
        ) -> OrderSendResult:
            self._ok()
            deal = self.deals[-1].ticket if retcode == 10009 else 0
            order = self.deals[-1].order if retcode == 10009 else 0
            return OrderSendResult(
                retcode, deal, order, volume, price, 0.0, 0.0, comment, 1, request
            )

        if self.forced_retcodes:
            return answer(self.forced_retcodes.pop(0), "forced by the test")
        if spec is None:
            return answer(10013, "Invalid request")
        allowed = {0: 1, 1: 2}.get(request["type_filling"], 0)
        if request["type_filling"] != self.ORDER_FILLING_RETURN and not self.filling_mode & allowed:
            return answer(10030, "Unsupported filling mode")
        if len(request.get("comment", "")) > 31:
            return answer(10013, "Invalid request")
        order = OrderRequest(
            request["symbol"], side, request["volume"],  # type: ignore[arg-type]
            str(request["position"]) if request.get("position") else None,
            request.get("magic", 0), request.get("comment", ""),
            request.get("sl", 0.0), request.get("tp", 0.0),
        )  # fmt: skip
        now_ms = int(time.time() * 1000)
        if order.sl or order.tp:
            try:
                check_stops(order.side, order.sl, order.tp, self._quote(order.symbol), spec)
            except OrderRejected as exc:
                return answer(10016, exc.detail)

        def new_id() -> str:
            self.next_ticket += 1
            return str(self.next_ticket)

        try:
            applied = apply_fill(
                self.mode, self.positions, order, spec, request["price"], now_ms, new_id, self._mid
            )  # type: ignore[arg-type]
        except OrderRejected as exc:
            return answer(10036 if exc.reason == "position_not_found" else 10014, exc.reason)
        self.positions = applied.positions
        self.balance += applied.realized
        self.next_ticket += 1
        self.deals.append(
            TradeDeal(
                self.next_ticket,
                self.next_ticket,
                now_ms // 1000,
                now_ms,
                0 if side == "buy" else 1,
                {"in": 0, "out": 1, "inout": 2}[applied.entry],  # DEAL_ENTRY_*
                order.magic,
                int(applied.position_id),
                order.volume,
                request["price"],
                order.symbol,
                order.comment,
                round(applied.realized, 2),
                -round(self.commission_per_lot * order.volume, 2),
                0.0,
            )
        )
        self.balance -= round(self.commission_per_lot * order.volume, 2)
        return answer(10009, "Request executed", order.volume, request["price"])

    def _quote(self, symbol: str) -> Quote:
        spec = resolve(symbol)
        quote = self.feed.quote(spec, symbol, int(time.time() * 1000)) if spec else None
        assert quote is not None
        return quote

    def _sltp(self, request: dict[str, Any]) -> OrderSendResult:
        """TRADE_ACTION_SLTP: a position's stops replaced, checked as the server checks them."""
        pos = next((p for p in self.positions if int(p.id) == request.get("position")), None)
        if pos is None:
            return OrderSendResult(
                10036, 0, 0, 0.0, 0.0, 0.0, 0.0, "Position not found", 1, request
            )
        spec = resolve(pos.symbol)
        assert spec is not None
        try:
            check_stops(pos.side, request["sl"], request["tp"], self._quote(pos.symbol), spec)
        except OrderRejected as exc:
            return OrderSendResult(10016, 0, 0, 0.0, 0.0, 0.0, 0.0, exc.detail, 1, request)
        self.positions = [
            msgspec.structs.replace(p, sl=request["sl"], tp=request["tp"]) if p is pos else p
            for p in self.positions
        ]
        self._ok()
        return OrderSendResult(10009, 0, 0, 0.0, 0.0, 0.0, 0.0, "Request executed", 1, request)

    def orders_get(self, ticket: int | None = None) -> tuple[Any, ...] | None:
        if not self._ready("orders_get"):
            return None
        self._ok()
        return tuple(
            TradeOrder(
                int(o.id), o.time, PENDING_CODES[o.type], 2 if o.expiration else 0,
                o.expiration // 1000, o.volume, o.price, o.stop_limit, o.sl, o.tp, o.symbol,
                o.magic, o.comment,
            )
            for o in self.pending
            if ticket is None or int(o.id) == ticket
        )  # fmt: skip

    def _pending_request(self, request: dict[str, Any]) -> OrderSendResult:
        """TRADE_ACTION_PENDING / MODIFY / REMOVE, checked as the server checks them."""

        def answer(retcode: int, comment: str, order: int = 0) -> OrderSendResult:
            self._ok()
            return OrderSendResult(retcode, 0, order, 0.0, 0.0, 0.0, 0.0, comment, 1, request)

        now = int(time.time() * 1000)
        if request["action"] == self.TRADE_ACTION_PENDING:
            self.next_ticket += 1
            order = PendingOrder(
                str(self.next_ticket), request["symbol"], PENDING_NAMES[request["type"]],
                request["volume"], request["price"], now, request.get("stoplimit", 0.0),
                request.get("sl", 0.0), request.get("tp", 0.0),
                _expiration_ms(request), request.get("magic", 0), request.get("comment", ""),
            )  # fmt: skip
        else:
            old = next((o for o in self.pending if int(o.id) == request["order"]), None)
            if old is None:
                return answer(10013, "Invalid request: no such order")
            if request["action"] == self.TRADE_ACTION_REMOVE:
                self.pending = [o for o in self.pending if o is not old]
                return answer(10009, "Request executed", int(old.id))
            order = msgspec.structs.replace(
                old, price=request["price"], sl=request["sl"], tp=request["tp"],
                stop_limit=request.get("stoplimit") or old.stop_limit,
                expiration=_expiration_ms(request),
            )  # fmt: skip
        spec = resolve(order.symbol)
        if spec is None:
            return answer(10013, "Invalid request")
        try:
            check_pending(order, self._quote(order.symbol), spec, now)
        except OrderRejected as exc:
            code = {"invalid_price": 10015, "invalid_expiration": 10022}.get(exc.reason, 10016)
            return answer(code, exc.detail)
        self.pending = [order if o.id == order.id else o for o in self.pending]
        if order not in self.pending:
            self.pending.append(order)
        return answer(10009, "Request executed", int(order.id))

    def history_deals_get(
        self, *args: Any, ticket: int | None = None, position: int | None = None, **kwargs: Any
    ) -> tuple[Any, ...] | None:
        if not self._ready("history_deals_get"):
            return None
        self._ok()
        if args:  # history_deals_get(date_from, date_to): datetimes or Unix seconds
            low, high = (a.timestamp() if isinstance(a, datetime) else float(a) for a in args)
            return tuple(d for d in self.deals if low <= d.time <= high)
        return tuple(
            d
            for d in self.deals
            if (ticket is None or d.ticket == ticket)
            and (position is None or d.position_id == position)
        )

    def copy_ticks_range(
        self, symbol: str, date_from: datetime, date_to: datetime, flags: int
    ) -> Any:
        if not self._ready("copy_ticks_range"):
            return None
        spec = resolve(symbol)
        if spec is None:
            self._fail(-2, "Invalid params")
            return None
        start, end = int(date_from.timestamp() * 1000), int(date_to.timestamp() * 1000)
        rows = []
        for ms in range(start, end, 250):  # a tick every 250 ms
            quote = self.feed.quote(spec, symbol, ms)
            assert quote is not None
            rows.append((ms // 1000, quote.bid, quote.ask, 0.0, 0, ms, 6, 0.0))
        self._ok()
        return np.array(rows, dtype=TICK_DTYPE)


def _expiration_ms(request: dict[str, Any]) -> int:
    """A request's expiration (whole seconds, with ORDER_TIME_SPECIFIED) in Unix ms."""
    return int(request.get("expiration", 0)) * 1000 if request.get("type_time") == 2 else 0
