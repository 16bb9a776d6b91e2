"""The ``terminal:`` broker: a MetaTrader 5 terminal running ``TradewireBridge.mq5``, driven
through the hub's relay (docs/mt5.md).

``--broker 'terminal:term1?hub=127.0.0.1:7400&user=bob'`` logs in to the hub as ``bob`` (the
password from ``$TRADEWIRE_PASSWORD``, or the variable named by ``password_env``) and asks the
terminal listening as ``term1``; ``bob`` needs the grant ``relay:term1``. Other keys: ``tls=1``,
``ca=FILE``, ``timeout_s`` (one request, default 10) and ``order_timeout_s`` (how long an order
is resent under the same request id while the terminal is away, default 30).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.clients.relay import RelayClient
from tradewire.exceptions import BrokerError, ConnectionLost, HubRefused, OrderRejected
from tradewire.model import (
    Account,
    Deal,
    Fill,
    OrderRequest,
    PendingOrder,
    Position,
    Quote,
    SymbolSpec,
)
from tradewire.protocol.bridge import (
    RID_ALPHABET,
    RID_LENGTH,
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
    answer_decoder,
    without_rid,
)

log = logging.getLogger(__name__)
_AWAY = frozenset({"unreachable", "timeout"})  # the terminal may come back: ask again
SPEC_TTL_S = 300.0


class TerminalOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    hub: str
    user: str
    password_env: str = "TRADEWIRE_PASSWORD"
    tls: bool = False
    ca: str | None = None
    timeout_s: float = msgspec.field(default=10.0)
    order_timeout_s: float = 30.0


def new_rid() -> str:
    return "".join(secrets.choice(RID_ALPHABET) for _ in range(RID_LENGTH))


class TerminalBroker:
    def __init__(
        self, client: HubClient, name: str, options: TerminalOptions, owns_client: bool = True
    ) -> None:
        """``owns_client``: close ``client`` with the broker (not when it is shared, as in the
        demo, where the follower's own hub session carries the relay too)."""
        self._client = client
        self._owns_client = owns_client
        self._relay = RelayClient(client)
        self.name = name
        self._options = options
        # Symbol specs change rarely (a broker's contract update): one relay round trip per
        # symbol every SPEC_TTL_S, not one per copy round.
        self._specs: dict[str, tuple[float, SymbolSpec | None]] = {}

    async def _ask(self, op: BridgeOp, timeout_s: float | None = None) -> Answer:
        try:
            raw = await self._relay.request(
                self.name, msgspec.to_builtins(op), timeout_s or self._options.timeout_s
            )
        except HubRefused as exc:
            raise BrokerError(f"terminal {self.name}: {exc}") from exc
        except ConnectionLost as exc:
            raise BrokerError(f"terminal {self.name}: {exc}") from exc
        try:
            return answer_decoder.decode(msgspec.json.encode(raw))
        except msgspec.ValidationError as exc:
            raise BrokerError(f"terminal {self.name} answered nonsense: {exc}") from exc

    @staticmethod
    def _refused(answer: Answer) -> OrderRejected:
        detail = answer.detail + (f" (retcode {answer.retcode})" if answer.retcode else "")
        return OrderRejected(answer.reason or "rejected", detail.strip(), answer.retryable)

    async def account(self) -> Account:
        answer = await self._ask(AccountOp())
        if answer.account is None:
            raise BrokerError(f"terminal {self.name}: no account in {answer}")
        return answer.account

    async def positions(self) -> list[Position]:
        answer = await self._ask(PositionsOp())
        return [
            msgspec.structs.replace(p, comment=without_rid(p.comment))
            for p in answer.positions or []
        ]

    async def symbol(self, name: str) -> SymbolSpec | None:
        cached = self._specs.get(name)
        if cached is not None and time.monotonic() - cached[0] < SPEC_TTL_S:
            return cached[1]
        spec = (await self._ask(SymbolOp(symbol=name))).spec
        self._specs[name] = (time.monotonic(), spec)
        return spec

    async def quote(self, symbol: str) -> Quote:
        answer = await self._ask(QuoteOp(symbol=symbol))
        if not answer.ok or answer.quote is None:
            raise self._refused(answer)
        return answer.quote

    async def position_deals(self, position_id: str) -> list[Deal]:
        answer = await self._ask(DealsOp(position_id=position_id))
        if not answer.ok:  # a bridge older than the deals op: its history is unknown here
            return []
        return [
            msgspec.structs.replace(d, comment=without_rid(d.comment)) for d in answer.deals or []
        ]

    async def modify_position(self, position_id: str, sl: float, tp: float) -> None:
        answer = await self._ask(ModifyOp(position_id=position_id, sl=sl, tp=tp))
        if not answer.ok:
            raise self._refused(answer)

    async def orders(self) -> list[PendingOrder]:
        answer = await self._ask(OrdersOp())
        return [
            msgspec.structs.replace(o, comment=without_rid(o.comment)) for o in answer.orders or []
        ]

    async def place_order(self, order: PendingOrder) -> str:
        op = PlaceOp(
            rid=new_rid(), symbol=order.symbol, type=order.type, volume=order.volume,
            price=order.price, stop_limit=order.stop_limit, sl=order.sl, tp=order.tp,
            expiration=order.expiration, magic=order.magic, comment=order.comment,
        )  # fmt: skip
        answer = await self._until_answered(op)
        if not answer.ok or answer.order_id is None:
            raise self._refused(answer)
        return answer.order_id

    async def modify_order(
        self,
        order_id: str,
        price: float,
        sl: float,
        tp: float,
        expiration: int = 0,
        stop_limit: float = 0.0,
    ) -> None:
        op = ModifyOrderOp(
            order_id=order_id, price=price, sl=sl, tp=tp, expiration=expiration,
            stop_limit=stop_limit,
        )  # fmt: skip
        answer = await self._ask(op)
        if not answer.ok:
            raise self._refused(answer)

    async def cancel_order(self, order_id: str) -> None:
        answer = await self._ask(CancelOp(order_id=order_id))
        if not answer.ok:
            raise self._refused(answer)

    async def market_order(self, order: OrderRequest) -> Fill:
        """Sent under one request id until the terminal answers: a terminal that went away
        mid-order and comes back finds the id in its deals and answers with that fill."""
        op = OrderOp(
            rid=new_rid(),
            symbol=order.symbol,
            side=order.side,
            volume=order.volume,
            position_id=order.position_id,
            magic=order.magic,
            comment=order.comment,
            sl=order.sl,
            tp=order.tp,
        )
        answer = await self._until_answered(op)
        if not answer.ok or answer.fill is None:
            raise self._refused(answer)
        if answer.duplicate:
            log.info(
                "terminal %s had executed order %s already: answered from its deals, "
                "not executed again",
                self.name,
                op.rid,
            )
        return answer.fill

    async def _until_answered(self, op: OrderOp | PlaceOp) -> Answer:
        """Ask under one request id until the terminal answers, however often the way there
        breaks (it executes a request id once, and answers a repeat with what it did)."""
        deadline = time.monotonic() + self._options.order_timeout_s
        pause = 0.05
        while True:
            try:
                raw = await self._relay.request(
                    self.name, msgspec.to_builtins(op), self._options.timeout_s
                )
                break
            except (HubRefused, ConnectionLost) as exc:
                code = exc.code if isinstance(exc, HubRefused) else "unreachable"
                if code == "rate_limited" and isinstance(exc, HubRefused):
                    pause = max(pause, exc.retry_after_s or 0.0)
                elif code not in _AWAY:
                    raise BrokerError(f"terminal {self.name}: {exc}") from exc
                if time.monotonic() + pause > deadline:
                    raise BrokerError(
                        f"terminal {self.name} did not confirm order {op.rid} within "
                        f"{self._options.order_timeout_s:g} s ({code}); it may still be "
                        "executed there, so the account is read again before any new order"
                    ) from exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
        return answer_decoder.decode(msgspec.json.encode(raw))

    async def changes(self) -> AsyncIterator[None]:
        version, missed = -1, False
        while True:
            try:
                answer = await self._ask(WatchOp(since=version), timeout_s=30.0)
            except BrokerError:
                missed = True  # something may change while the terminal is away
                await asyncio.sleep(1.0)
                continue
            changed = version != -1 and answer.version != version
            version = answer.version if answer.version is not None else version
            if changed or missed:
                missed = False
                yield None

    async def close(self) -> None:
        await self._relay.close()
        if self._owns_client:
            await self._client.close()
