"""The ``mt5:`` broker: a MetaTrader 5 terminal on this (Windows) machine, through MetaQuotes'
``MetaTrader5`` package (``pip install 'tradewire[mt5]'``; it installs on Windows only and is
imported only when an ``mt5:`` account is opened).

``--broker 'mt5:?login=51234567&server=Broker-Demo'`` (the password from ``$MT5_PASSWORD``, or
the variable ``password_env`` names); ``path`` names the terminal64.exe to start, ``deviation``
the accepted slippage in points, ``timeout_ms`` how long ``initialize`` may take. With no key at
all it attaches to the terminal already running and logged in.

The package is synchronous and not thread-safe: every call runs on one worker thread. A call
that returns ``None`` is an error whose text comes from ``last_error()``; an order's ``retcode``
becomes an ``OrderRejected`` reason (tradewire.brokers.retcodes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import msgspec

from tradewire.brokers.ledger import check_volume
from tradewire.brokers.retcodes import FILLED, reason_of
from tradewire.exceptions import BrokerError, OrderRejected
from tradewire.model import (
    Account,
    Deal,
    DealEntry,
    Fill,
    OrderRequest,
    OrderType,
    PendingOrder,
    Position,
    Quote,
    SymbolSpec,
)

T = TypeVar("T")
# SYMBOL_FILLING_MODE flags (MQL5 reference, "Symbol Properties"); the package's
# ORDER_FILLING_* values are what a request takes.
SYMBOL_FILLING_FOK = 1
SYMBOL_FILLING_IOC = 2
MAX_COMMENT = 31
POLL_S = 0.5
# ENUM_ORDER_TYPE values of the pending types (MQL5 reference, "Order Properties")
PENDING_TYPES: dict[OrderType, int] = {
    "buy_limit": 2,
    "sell_limit": 3,
    "buy_stop": 4,
    "sell_stop": 5,
    "buy_stop_limit": 6,
    "sell_stop_limit": 7,
}
_TYPE_NAMES = {code: name for name, code in PENDING_TYPES.items()}
ORDER_TIME_GTC, ORDER_TIME_SPECIFIED = 0, 2


def _expiry(expiration_ms: int) -> dict[str, int]:
    """MT5 expirations are whole seconds: rounded up, so an order never expires early."""
    if not expiration_ms:
        return {"type_time": ORDER_TIME_GTC}
    return {"type_time": ORDER_TIME_SPECIFIED, "expiration": -(-expiration_ms // 1000)}


class Mt5Options(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    path: str | None = None
    login: int | None = None
    server: str | None = None
    password_env: str = "MT5_PASSWORD"
    timeout_ms: int = 60_000
    deviation: int = 20


def filling_for(mt5: Any, filling_mode: int) -> int:
    """The ORDER_FILLING_* a symbol allows, from its ``filling_mode`` bitmask."""
    if filling_mode & SYMBOL_FILLING_FOK:
        return int(mt5.ORDER_FILLING_FOK)
    if filling_mode & SYMBOL_FILLING_IOC:
        return int(mt5.ORDER_FILLING_IOC)
    return int(mt5.ORDER_FILLING_RETURN)


class Mt5Broker:
    def __init__(self, mt5: Any, options: Mt5Options) -> None:
        self._mt5 = mt5
        self._options = options
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mt5")

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _failed(self, what: str) -> BrokerError:
        code, message = self._mt5.last_error()
        return BrokerError(f"mt5: {what} failed: {message} ({code})")

    # ---- on the worker thread --------------------------------------------------------------------

    def _account(self) -> Account:
        info = self._mt5.account_info()
        if info is None:
            raise self._failed("account_info")
        hedging = info.margin_mode == self._mt5.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
        return Account(
            str(info.login),
            info.currency,
            info.balance,
            info.equity,
            info.leverage,
            "hedging" if hedging else "netting",
            margin=info.margin,
        )

    def _positions(self) -> list[Position]:
        found = self._mt5.positions_get()
        if found is None:
            raise self._failed("positions_get")
        return [
            Position(
                str(p.ticket),
                p.symbol,
                "buy" if p.type == self._mt5.POSITION_TYPE_BUY else "sell",
                p.volume,
                p.price_open,
                p.time_msc,
                sl=p.sl,
                tp=p.tp,
                magic=p.magic,
                comment=p.comment,
            )
            for p in found
        ]

    def _symbol(self, name: str) -> SymbolSpec | None:
        info = self._mt5.symbol_info(name)
        if info is None:
            return None
        if not info.visible:
            self._mt5.symbol_select(name, True)  # into Market Watch, so that ticks arrive
        return SymbolSpec(
            name,
            info.trade_contract_size,
            info.digits,
            info.volume_min,
            info.volume_step,
            info.volume_max,
            info.currency_base,
            info.currency_profit,
        )

    def _quote(self, symbol: str) -> Quote:
        tick = self._mt5.symbol_info_tick(symbol)
        if tick is None:
            raise OrderRejected("unknown_symbol", f"{symbol} is not offered by this account")
        return Quote(symbol, tick.bid, tick.ask, tick.time_msc)

    def _order(self, order: OrderRequest) -> Fill:
        mt5 = self._mt5
        info = mt5.symbol_info(order.symbol)
        if info is None:
            raise OrderRejected("unknown_symbol", f"{order.symbol} is not offered by this account")
        spec = self._symbol(order.symbol)
        assert spec is not None
        check_volume(spec, order.volume)
        quote = self._quote(order.symbol)
        request: dict[str, Any] = {
            "action": mt5.TRADE_ACTION_DEAL,
            "symbol": order.symbol,
            "volume": order.volume,
            "type": mt5.ORDER_TYPE_BUY if order.side == "buy" else mt5.ORDER_TYPE_SELL,
            "price": quote.ask if order.side == "buy" else quote.bid,
            "deviation": self._options.deviation,
            "magic": order.magic,
            "comment": order.comment[:MAX_COMMENT],
            "type_time": mt5.ORDER_TIME_GTC,
            "type_filling": filling_for(mt5, info.filling_mode),
        }
        if order.sl or order.tp:  # set on the position the deal opens, at once
            request.update(sl=order.sl, tp=order.tp)
        if order.position_id is not None:
            if not order.position_id.isdigit() or not mt5.positions_get(
                ticket=int(order.position_id)
            ):
                raise OrderRejected("position_not_found", f"no position {order.position_id}")
            request["position"] = int(order.position_id)
        result = mt5.order_send(request)
        if result is None:
            raise self._failed("order_send")
        if result.retcode not in FILLED:
            reason, retryable = reason_of(result.retcode)
            raise OrderRejected(reason, f"{result.comment} (retcode {result.retcode})", retryable)
        deals = mt5.history_deals_get(ticket=result.deal) or ()
        deal = deals[0] if deals else None
        return Fill(
            str(result.order),
            order.symbol,
            order.side,
            result.volume,
            result.price,
            deal.time_msc if deal is not None else int(time.time() * 1000),
            str(deal.position_id if deal is not None else result.order),
        )

    def _deals(self, position_id: str) -> list[Deal]:
        if not position_id.isdigit():
            return []
        found = self._mt5.history_deals_get(position=int(position_id))
        if found is None:
            raise self._failed("history_deals_get")
        return self._trade_deals(found)

    def _deals_since(self, since_ms: int) -> list[Deal]:
        # Unix seconds, as the package takes them; a day ahead covers a broker server whose
        # clock runs ahead of ours (deal times are the server's).
        found = self._mt5.history_deals_get(since_ms // 1000, int(time.time()) + 86_400)
        if found is None:
            raise self._failed("history_deals_get")
        return [d for d in self._trade_deals(found) if d.time >= since_ms]

    def _trade_deals(self, found: Any) -> list[Deal]:
        """The buy and sell deals of ``found``, oldest first (balance operations left out)."""
        mt5 = self._mt5
        trades = (mt5.DEAL_TYPE_BUY, mt5.DEAL_TYPE_SELL)
        entries: tuple[DealEntry, ...] = ("in", "out", "inout", "out_by")  # DEAL_ENTRY_*
        return [
            Deal(
                str(d.ticket),
                str(d.position_id),
                d.symbol,
                "buy" if d.type == mt5.DEAL_TYPE_BUY else "sell",
                d.volume,
                d.price,
                d.time_msc,
                magic=d.magic,
                profit=d.profit,
                comment=d.comment,
                entry=entries[d.entry] if 0 <= d.entry < len(entries) else "in",
                commission=getattr(d, "commission", 0.0) + getattr(d, "fee", 0.0),
                swap=getattr(d, "swap", 0.0),
            )
            for d in sorted(found, key=lambda d: (d.time_msc, d.ticket))
            if d.type in trades
        ]

    def _modify(self, position_id: str, sl: float, tp: float) -> None:
        mt5 = self._mt5
        found = mt5.positions_get(ticket=int(position_id)) if position_id.isdigit() else None
        if not found:
            raise OrderRejected("position_not_found", f"no position {position_id}")
        request = {
            "action": mt5.TRADE_ACTION_SLTP,
            "symbol": found[0].symbol,
            "position": int(position_id),
            "sl": sl,
            "tp": tp,
        }
        self._send(request)

    def _send(self, request: dict[str, Any]) -> Any:
        """``order_send``; a refusal as OrderRejected, a lost terminal as BrokerError."""
        result = self._mt5.order_send(request)
        if result is None:
            raise self._failed("order_send")
        if result.retcode not in FILLED:
            reason, retryable = reason_of(result.retcode)
            raise OrderRejected(reason, f"{result.comment} (retcode {result.retcode})", retryable)
        return result

    def _orders(self) -> list[PendingOrder]:
        found = self._mt5.orders_get()
        if found is None:
            raise self._failed("orders_get")
        return [
            PendingOrder(
                str(o.ticket),
                o.symbol,
                _TYPE_NAMES[o.type],
                o.volume_current,
                o.price_open,
                o.time_setup_msc,
                stop_limit=o.price_stoplimit,
                sl=o.sl,
                tp=o.tp,
                expiration=o.time_expiration * 1000 if o.type_time == ORDER_TIME_SPECIFIED else 0,
                magic=o.magic,
                comment=o.comment,
            )
            for o in found
            if o.type in _TYPE_NAMES
        ]

    def _place(self, order: PendingOrder) -> str:
        mt5 = self._mt5
        spec = self._symbol(order.symbol)
        if spec is None:
            raise OrderRejected("unknown_symbol", f"{order.symbol} is not offered by this account")
        check_volume(spec, order.volume)
        request: dict[str, Any] = {
            "action": mt5.TRADE_ACTION_PENDING,
            "symbol": order.symbol,
            "volume": order.volume,
            "type": PENDING_TYPES[order.type],
            "price": order.price,
            "stoplimit": order.stop_limit,
            "sl": order.sl,
            "tp": order.tp,
            "magic": order.magic,
            "comment": order.comment[:MAX_COMMENT],
            **_expiry(order.expiration),
        }
        return str(self._send(request).order)

    def _existing(self, order_id: str) -> int:
        """The ticket of a pending order there is, or OrderRejected("order_not_found")."""
        if not order_id.isdigit() or not self._mt5.orders_get(ticket=int(order_id)):
            raise OrderRejected("order_not_found", f"no pending order {order_id}")
        return int(order_id)

    def _modify_order(
        self, order_id: str, price: float, sl: float, tp: float, expiration: int, stop_limit: float
    ) -> None:
        ticket = self._existing(order_id)
        request: dict[str, Any] = {
            "action": self._mt5.TRADE_ACTION_MODIFY,
            "order": ticket,
            "price": price,
            "stoplimit": stop_limit,
            "sl": sl,
            "tp": tp,
            **_expiry(expiration),
        }
        self._send(request)

    def _cancel(self, order_id: str) -> None:
        ticket = self._existing(order_id)
        self._send({"action": self._mt5.TRADE_ACTION_REMOVE, "order": ticket})

    def _fingerprint(self) -> tuple[object, ...]:
        info = self._mt5.account_info()
        found = self._mt5.positions_get() or ()
        pending = self._mt5.orders_get() or ()
        balance = info.balance if info is not None else None
        return (
            balance,
            tuple(sorted((p.ticket, p.volume, p.sl, p.tp) for p in found)),
            tuple(sorted((o.ticket, o.price_open, o.sl, o.tp) for o in pending)),
        )

    # ---- Broker protocol -------------------------------------------------------------------------

    async def account(self) -> Account:
        return await self._call(self._account)

    async def positions(self) -> list[Position]:
        return await self._call(self._positions)

    async def symbol(self, name: str) -> SymbolSpec | None:
        return await self._call(self._symbol, name)

    async def quote(self, symbol: str) -> Quote:
        return await self._call(self._quote, symbol)

    async def position_deals(self, position_id: str) -> list[Deal]:
        return await self._call(self._deals, position_id)

    async def deals_since(self, since_ms: int) -> list[Deal]:
        """The account's buy and sell deals from ``since_ms`` on, oldest first."""
        return await self._call(self._deals_since, since_ms)

    async def modify_position(self, position_id: str, sl: float, tp: float) -> None:
        await self._call(self._modify, position_id, sl, tp)

    async def orders(self) -> list[PendingOrder]:
        return await self._call(self._orders)

    async def place_order(self, order: PendingOrder) -> str:
        return await self._call(self._place, order)

    async def modify_order(
        self,
        order_id: str,
        price: float,
        sl: float,
        tp: float,
        expiration: int = 0,
        stop_limit: float = 0.0,
    ) -> None:
        await self._call(self._modify_order, order_id, price, sl, tp, expiration, stop_limit)

    async def cancel_order(self, order_id: str) -> None:
        await self._call(self._cancel, order_id)

    async def market_order(self, order: OrderRequest) -> Fill:
        return await self._call(self._order, order)

    async def changes(self) -> AsyncIterator[None]:
        """The package has no events: positions and balance are compared every half second."""
        seen = await self._call(self._fingerprint)
        while True:
            await asyncio.sleep(POLL_S)
            now = await self._call(self._fingerprint)
            if now != seen:
                seen = now
                yield None

    async def close(self) -> None:
        await self._call(self._mt5.shutdown)
        self._thread.shutdown(wait=False)
