"""The crowd's sentiment: contributions and the aggregate."""

from __future__ import annotations

from typing import Annotated

import msgspec

from tradewire.protocol.frames.base import Frame, FrameSet, RequestId

Volume = Annotated[float, msgspec.Meta(ge=0, le=1e9)]


Count = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


Price = Annotated[float, msgspec.Meta(ge=0, le=1e12)]


class SentimentPut(Frame, frozen=True, tag="sentiment_put"):
    """A user's positions in ``symbol`` for the crowd's sentiment: volumes in lots, position
    counts (1 each side with volume, when left out), volume-weighted entry prices. It replaces
    the user's earlier contribution for the symbol and lapses after ``ttl_s`` or at logout."""

    symbol: str
    long: Volume = 0.0
    short: Volume = 0.0
    long_n: Count | None = None
    short_n: Count | None = None
    long_price: Price = 0.0
    short_price: Price = 0.0
    ttl_s: Annotated[float, msgspec.Meta(gt=0, le=86_400)] | None = None
    id: RequestId = None


class SentimentRow(msgspec.Struct, frozen=True, omit_defaults=True):
    """The crowd in one symbol. ``withheld``: fewer than the hub's minimum of contributors now
    (every other field then zero): forget the earlier figures."""

    symbol: str
    long_volume: float = 0.0
    short_volume: float = 0.0
    long_pct: float = 0.0
    short_pct: float = 0.0
    long_positions: int = 0
    short_positions: int = 0
    contributors: int = 0
    long_price: float = 0.0
    short_price: float = 0.0
    withheld: bool = False


class SentimentUpdate(Frame, frozen=True, tag="sentiment"):
    rows: list[SentimentRow]
    ts: int
    re: RequestId = None


FRAMES = FrameSet(
    "sentiment",
    client=(SentimentPut,),
    server=(SentimentUpdate,),
)
