"""``tradewire terminal sim``: the bridge EA's side of the bridge protocol, on a paper account.

THIS IS A FAKE, at the one seam that cannot run here: MetaTrader 5 itself. It answers what
``mql5/Experts/Tradewire/TradewireBridge.mq5`` answers, the same way (docs/mt5.md):

* it logs in like any client and listens under its name through the relay;
* it handles one request at a time in arrival order, as an EA's single thread does, so a
  ``positions`` asked after an ``order`` sees that order's fill;
* an order's request id goes into the order comment (``comment~rid``); before executing, it
  looks for a position or an executed order whose comment ends with that id and, if one exists,
  answers with that fill (``duplicate``) instead of trading again;
* ``watch`` is a long poll on the account's change counter.

The paper account (``paper:FILE``) stands in for the trading server: fills, margin, netting and
hedging as tested in tests/brokers.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from tradewire.brokers.paper.broker import PaperBroker
from tradewire.brokers.retcodes import DONE, retcode_of
from tradewire.clients.relay import Incoming
from tradewire.exceptions import OrderRejected
from tradewire.model import Fill, OrderRequest, PendingOrder
from tradewire.protocol.bridge import (
    AccountOp,
    Answer,
    BridgeOp,
    CancelOp,
    DealsOp,
    ModifyOp,
    ModifyOrderOp,
    OrderOp,
    OrdersOp,
    PlaceOp,
    PositionsOp,
    QuoteOp,
    SymbolOp,
    WatchOp,
    comment_with_rid,
    has_rid,
    op_decoder,
)

log = logging.getLogger(__name__)


class TerminalSim:
    def __init__(self, broker: PaperBroker, answer_delay_s: float = 0.0) -> None:
        self.broker = broker
        self.answer_delay_s = answer_delay_s  # after acting, before answering (kill tests)
        self.version = 0
        self.duplicates = 0  # orders asked again and answered from the deal history
        self._one_at_a_time = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._watcher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self._count_changes())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)

    async def answer(self, message: Incoming) -> Any:
        """The relay callback: one request body in, one answer out."""
        try:
            op = op_decoder.decode(msgspec.json.encode(message.body))
        except msgspec.ValidationError as exc:
            return Answer(ok=False, reason="bad_request", detail=str(exc))
        if isinstance(op, WatchOp):  # a long poll holds no turn
            return await self._watch(op)
        async with self._one_at_a_time:
            answer = await self._handle(op)
            if self.answer_delay_s:
                await asyncio.sleep(self.answer_delay_s)
            return answer

    async def _handle(self, op: BridgeOp) -> Answer:
        broker = self.broker
        if isinstance(op, AccountOp):
            return Answer(ok=True, account=await broker.account())
        if isinstance(op, PositionsOp):
            return Answer(ok=True, positions=await broker.positions())
        if isinstance(op, SymbolOp):
            return Answer(ok=True, spec=await broker.symbol(op.symbol))
        if isinstance(op, QuoteOp):
            try:
                return Answer(ok=True, quote=await broker.quote(op.symbol))
            except OrderRejected as exc:
                return Answer(ok=False, reason=exc.reason, detail=exc.detail)
        if isinstance(op, DealsOp):
            return Answer(ok=True, deals=await broker.position_deals(op.position_id))
        if isinstance(op, OrdersOp):
            return Answer(ok=True, orders=await broker.orders())
        try:
            if isinstance(op, ModifyOp):
                await broker.modify_position(op.position_id, op.sl, op.tp)
            elif isinstance(op, ModifyOrderOp):
                await broker.modify_order(
                    op.order_id, op.price, op.sl, op.tp, op.expiration, op.stop_limit
                )
            elif isinstance(op, CancelOp):
                await broker.cancel_order(op.order_id)
            elif isinstance(op, PlaceOp):
                return await self._place(op)
        except OrderRejected as exc:
            return self._refusal(exc)
        if not isinstance(op, OrderOp):
            return Answer(ok=True, retcode=DONE)
        assert isinstance(op, OrderOp)
        return await self._order(op)

    async def _order(self, op: OrderOp) -> Answer:
        done = await self._executed(op.rid)
        if done is not None:
            log.info("order %s was executed already: answering with its fill", op.rid)
            self.duplicates += 1
            return Answer(ok=True, fill=done, duplicate=True)
        request = OrderRequest(
            op.symbol,
            op.side,
            op.volume,
            op.position_id,
            op.magic,
            comment_with_rid(op.comment, op.rid),
            op.sl,
            op.tp,
        )
        try:
            fill = await self.broker.market_order(request)
        except OrderRejected as exc:
            return self._refusal(exc)
        return Answer(ok=True, fill=fill, retcode=DONE)

    @staticmethod
    def _refusal(exc: OrderRejected) -> Answer:
        return Answer(
            ok=False,
            reason=exc.reason,
            detail=exc.detail,
            retryable=exc.retryable,
            retcode=retcode_of(exc.reason),
        )

    async def _place(self, op: PlaceOp) -> Answer:
        """Placed once: a resent request finds its order (pending, or the position it opened
        when it triggered) by the request id in the comment."""
        for order in await self.broker.orders():
            if has_rid(order.comment, op.rid):
                self.duplicates += 1
                return Answer(ok=True, order_id=order.id, duplicate=True)
        for position in await self.broker.positions():
            if has_rid(position.comment, op.rid):
                self.duplicates += 1
                return Answer(ok=True, order_id=position.id, duplicate=True)
        pending = PendingOrder(
            "", op.symbol, op.type, op.volume, op.price, 0, op.stop_limit, op.sl, op.tp,
            op.expiration, op.magic, comment_with_rid(op.comment, op.rid),
        )  # fmt: skip
        return Answer(ok=True, order_id=await self.broker.place_order(pending), retcode=DONE)

    async def _executed(self, rid: str) -> Fill | None:
        """The fill of an order that carried ``rid`` (the paper account's deal history)."""
        for order in reversed(await self.broker.order_log()):
            if order.status == "filled" and has_rid(order.comment, rid):
                assert order.price is not None and order.result_position is not None
                return Fill(
                    str(order.id),
                    order.symbol,
                    "buy" if order.side == "buy" else "sell",
                    order.volume,
                    order.price,
                    order.time_ms,
                    order.result_position,
                )
        return None

    async def _watch(self, op: WatchOp) -> Answer:
        async with self._changed:
            if self.version == op.since:
                try:
                    async with asyncio.timeout(op.wait_ms / 1000):
                        await self._changed.wait_for(lambda: self.version != op.since)
                except TimeoutError:
                    pass
            return Answer(ok=True, version=self.version)

    async def _count_changes(self) -> None:
        async for _ in self.broker.changes():
            async with self._changed:
                self.version += 1
                self._changed.notify_all()
