"""A SIMULATED TERMINAL ACCOUNT for the EAs compiled under g++ (tests/mql5/shim/trade.hpp): a
paper account (tradewire's paper broker: fills, netting and hedging, stops, pending orders and
their triggers) answering the terminal functions the shim forwards over a local socket.

A fake at the one seam that cannot run here (MetaTrader 5 itself), documented as such: its
answers are the paper broker's, in MT5's shapes and return codes; nothing in it knows what the
EAs do. Line protocol: see trade.hpp.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tradewire.brokers.mt5.broker import PENDING_TYPES
from tradewire.brokers.paper.broker import PaperBroker
from tradewire.brokers.retcodes import DONE, retcode_of
from tradewire.exceptions import OrderRejected
from tradewire.model import Deal, OrderRequest, PendingOrder

TYPE_NAMES = {code: name for name, code in PENDING_TYPES.items()}
DEAL, PENDING, SLTP, MODIFY, REMOVE = 1, 5, 6, 7, 8


def _escape(value: object) -> str:
    text = (
        value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    )
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            out.append({"t": "\t", "n": "\n"}.get(text[i + 1], text[i + 1]))
            i += 2
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


class AccountServer:
    """Serves ``broker`` to shimmed EAs on 127.0.0.1. ``hold_next_deal_s``: after executing
    the next market order, wait this long before answering (a terminal killed mid-order)."""

    def __init__(self, broker: PaperBroker) -> None:
        self.broker = broker
        self.version = 0
        self.hold_next_deal_s = 0.0
        self.deals_held = asyncio.Event()  # set once a held deal was executed
        self._server: asyncio.Server | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self._watch = asyncio.create_task(self._count())
        port = self._server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _count(self) -> None:
        async for _ in self.broker.changes():
            self.version += 1

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                op, *args = line.decode().rstrip("\n").split("\t")
                records = await self._answer(op, args)
                out = [f"OK {len(records)}"]
                out += ["\t".join(f"{k}={_escape(v)}" for k, v in r.items()) for r in records]
                writer.write(("\n".join(out) + "\n").encode())
                await writer.drain()
        writer.close()

    async def _answer(self, op: str, args: list[str]) -> list[dict[str, Any]]:
        broker = self.broker
        if op == "version":
            return [{"version": self.version}]
        if op == "account":
            a = await broker.account()
            return [
                {
                    "login": a.login if a.login.isdigit() else 1001,
                    "currency": a.currency,
                    "balance": a.balance,
                    "equity": a.equity,
                    "margin": a.margin,
                    "leverage": a.leverage,
                    "mode": a.mode,
                }
            ]
        if op == "positions":
            return [
                {
                    "id": p.id,
                    "symbol": p.symbol,
                    "side": p.side,
                    "volume": p.volume,
                    "price": p.price,
                    "time": p.time,
                    "sl": p.sl,
                    "tp": p.tp,
                    "magic": p.magic,
                    "comment": p.comment,
                }
                for p in await broker.positions()
            ]
        if op == "orders":
            return [
                {
                    "id": o.id,
                    "symbol": o.symbol,
                    "type_code": PENDING_TYPES[o.type],
                    "volume": o.volume,
                    "price": o.price,
                    "stop_limit": o.stop_limit,
                    "sl": o.sl,
                    "tp": o.tp,
                    "expiration": o.expiration,
                    "time": o.time,
                    "magic": o.magic,
                    "comment": o.comment,
                }
                for o in await broker.orders()
            ]
        if op == "history":  # every fill is a deal; its ticket is the order's (paper: one each)
            return [_deal_row(d) for d in await broker.deals_since(0)]
        if op == "deals":
            return [_deal_row(d) for d in await broker.position_deals(args[0])]
        if op == "symbol":
            spec = await broker.symbol(args[0])
            if spec is None:
                return []
            quote = await broker.quote(args[0])
            return [
                {
                    "contract_size": spec.contract_size,
                    "digits": spec.digits,
                    "volume_min": spec.volume_min,
                    "volume_step": spec.volume_step,
                    "volume_max": spec.volume_max,
                    "base": spec.base,
                    "quote": spec.quote,
                    "bid": quote.bid,
                    "ask": quote.ask,
                    "time_ms": quote.time_ms,
                }
            ]
        if op == "send":
            fields = dict(arg.split("=", 1) for arg in args)
            return [await self._send({k: _unescape(v) for k, v in fields.items()})]
        raise ValueError(f"unknown op {op}")

    async def _send(self, r: dict[str, str]) -> dict[str, Any]:
        """OrderSend: MqlTradeResult's fields, from the paper account."""
        action, broker = int(r["action"]), self.broker
        sl, tp = float(r["sl"]), float(r["tp"])
        expiration = int(r["expiration"]) * 1000 if int(r["type_time"]) == 2 else 0
        try:
            if action == DEAL:
                side = "buy" if int(r["type"]) == 0 else "sell"
                position = r["position"] if r["position"] != "0" else None
                fill = await broker.market_order(
                    OrderRequest(
                        r["symbol"],
                        side,
                        float(r["volume"]),
                        position,  # type: ignore[arg-type]
                        int(r["magic"]),
                        r["comment"],
                        sl,
                        tp,
                    )
                )
                if self.hold_next_deal_s:
                    held, self.hold_next_deal_s = self.hold_next_deal_s, 0.0
                    self.deals_held.set()
                    await asyncio.sleep(held)
                return {
                    "retcode": DONE,
                    "deal": fill.order_id,
                    "order": fill.order_id,
                    "volume": fill.volume,
                    "price": fill.price,
                    "comment": "done",
                }
            if action == SLTP:
                await broker.modify_position(r["position"], sl, tp)
                return {"retcode": DONE, "comment": "done"}
            if action == PENDING:
                ticket = await broker.place_order(
                    PendingOrder(
                        "",
                        r["symbol"],
                        TYPE_NAMES[int(r["type"])],
                        float(r["volume"]),
                        float(r["price"]),
                        0,
                        float(r["stoplimit"]),
                        sl,
                        tp,
                        expiration,
                        int(r["magic"]),
                        r["comment"],
                    )
                )
                return {"retcode": DONE, "order": ticket, "comment": "done"}
            if action == MODIFY:
                await broker.modify_order(
                    r["order"], float(r["price"]), sl, tp, expiration, float(r["stoplimit"])
                )
                return {"retcode": DONE, "order": r["order"], "comment": "done"}
            if action == REMOVE:
                await broker.cancel_order(r["order"])
                return {"retcode": DONE, "order": r["order"], "comment": "done"}
        except OrderRejected as exc:
            return {"retcode": retcode_of(exc.reason), "comment": exc.detail}
        return {"retcode": 10013, "comment": f"action {action} is not simulated"}


def _deal_row(d: Deal) -> dict[str, Any]:
    """A deal as the shim's HistoryDeal* functions read it."""
    return {
        "ticket": d.ticket,
        "order": d.ticket,
        "position_id": d.position_id,
        "symbol": d.symbol,
        "side": d.side,
        "volume": d.volume,
        "price": d.price,
        "time": d.time,
        "magic": d.magic,
        "comment": d.comment,
        "profit": d.profit,
        "entry": ("in", "out", "inout", "out_by").index(d.entry),
        "commission": d.commission,
        "swap": d.swap,
    }
