"""The bridge protocol: what a follower's ``terminal:`` broker asks a MetaTrader 5 terminal
(``TradewireBridge.mq5``, or ``tradewire terminal sim``) in relay requests, and the answers.

Every request is a relay ``body`` with an ``op``; every answer has ``ok``. Transcripts are in
docs/mt5.md. An order carries ``rid``, a request id the terminal keeps in the order comment
(``comment~rid``): before sending an order the terminal looks for a position or deal whose
comment ends with it, so an order resent after a reconnect is executed once.
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from tradewire.model import (
    Account,
    Deal,
    Fill,
    Int64,
    OrderType,
    PendingOrder,
    Position,
    Quote,
    Side,
    SymbolSpec,
)

RID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
RID_LENGTH = 6
RID_SUFFIX = 1 + RID_LENGTH  # "~" and the id, at the end of an order comment
_RID_AT_END = re.compile(r"~[0-9a-z]{6}$")
Rid = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-z]{6}$")]


class _Op(msgspec.Struct, frozen=True, tag_field="op", forbid_unknown_fields=False):
    pass


class AccountOp(_Op, frozen=True, tag="account"):
    pass


class PositionsOp(_Op, frozen=True, tag="positions"):
    pass


class SymbolOp(_Op, frozen=True, tag="symbol"):
    symbol: str


class QuoteOp(_Op, frozen=True, tag="quote"):
    symbol: str


class DealsOp(_Op, frozen=True, tag="deals"):
    """Every buy or sell deal of one position, oldest first (``HistorySelectByPosition``)."""

    position_id: str


class OrderOp(_Op, frozen=True, tag="order"):
    rid: Rid
    symbol: str
    side: Side
    volume: float
    position_id: str | None = None
    magic: int = 0
    comment: str = ""
    sl: float = 0.0
    tp: float = 0.0


class ModifyOp(_Op, frozen=True, tag="modify"):
    """A position's stop-loss and take-profit replaced (``TRADE_ACTION_SLTP``); setting the
    same levels twice changes nothing, so it needs no request id."""

    position_id: str
    sl: float = 0.0
    tp: float = 0.0


class OrdersOp(_Op, frozen=True, tag="orders"):
    """Every pending order of the account."""


class PlaceOp(_Op, frozen=True, tag="place"):
    """A pending order placed (``TRADE_ACTION_PENDING``). Like ``order``, it carries ``rid``
    in its comment, and the terminal answers a resent one with the order it placed already."""

    rid: Rid
    symbol: str
    type: OrderType
    volume: float
    price: float
    stop_limit: float = 0.0
    sl: float = 0.0
    tp: float = 0.0
    expiration: Int64 = 0  # Unix ms, 0: good till cancelled
    magic: int = 0
    comment: str = ""


class ModifyOrderOp(_Op, frozen=True, tag="modify_order"):
    """A pending order moved (``TRADE_ACTION_MODIFY``)."""

    order_id: str
    price: float
    sl: float = 0.0
    tp: float = 0.0
    expiration: Int64 = 0
    stop_limit: float = 0.0


class CancelOp(_Op, frozen=True, tag="cancel"):
    """A pending order removed (``TRADE_ACTION_REMOVE``)."""

    order_id: str


class WatchOp(_Op, frozen=True, tag="watch"):
    """Answered when the account's change counter differs from ``since`` (at once if it does
    already), or after ``wait_ms`` with the same counter: a long poll."""

    since: int = -1
    wait_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 20_000


BridgeOp = (
    AccountOp
    | PositionsOp
    | SymbolOp
    | QuoteOp
    | DealsOp
    | OrderOp
    | ModifyOp
    | OrdersOp
    | PlaceOp
    | ModifyOrderOp
    | CancelOp
    | WatchOp
)


class Answer(msgspec.Struct, frozen=True, omit_defaults=True):
    """One answer shape for every op; ``ok`` false carries ``reason`` (an OrderRejected
    reason such as ``requote`` or ``no_money``) and, for orders, the MT5 ``retcode``."""

    ok: bool
    account: Account | None = None
    positions: list[Position] | None = None
    spec: SymbolSpec | None = None
    quote: Quote | None = None
    fill: Fill | None = None
    deals: list[Deal] | None = None
    orders: list[PendingOrder] | None = None
    order_id: str | None = None  # place: the ticket of the pending order
    duplicate: bool = False  # the order with this rid had been executed already
    version: int | None = None  # watch: the change counter
    reason: str = ""
    detail: str = ""
    retryable: bool = False
    retcode: int | None = None


op_decoder: msgspec.json.Decoder[BridgeOp] = msgspec.json.Decoder(BridgeOp)
answer_decoder = msgspec.json.Decoder(Answer)


def comment_with_rid(comment: str, rid: str) -> str:
    """The order comment the terminal sends: the caller's, cut to leave room for ``~rid``
    within MT5's 31 characters."""
    return f"{comment[: 31 - RID_SUFFIX]}~{rid}"


def has_rid(comment: str, rid: str) -> bool:
    return comment.endswith(f"~{rid}")


def without_rid(comment: str) -> str:
    """A position comment as the follower wrote it (the terminal's ``~rid`` taken off)."""
    return _RID_AT_END.sub("", comment)
