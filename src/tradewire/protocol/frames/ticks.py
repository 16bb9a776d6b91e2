"""Ticks: a batch sent to be stored, and live ticks for a subscriber."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from tradewire.model import Int64
from tradewire.protocol.frames.base import Frame, FrameSet, RequestId

TickValue = Annotated[float, msgspec.Meta(ge=0)]  # finite: checked over the column


class PublishTicks(Frame, frozen=True, tag="ticks"):
    """Ticks, acked once all are durable; a frame resent with the same ``id`` by the same user
    is stored once. Either ``rows`` ``[symbol, time_ms, bid, ask, last?, volume?]``, or
    columns: ``symbols``, ``sym`` (an index into symbols per tick; not needed for one symbol),
    ``time_ms``, ``bid``, ``ask``, and optionally ``last`` and ``volume``
    (protocol/tick_columns.py)."""

    rows: list[list[Any]] | None = None
    id: RequestId = None
    symbols: list[str] | None = None
    sym: list[Annotated[int, msgspec.Meta(ge=0)]] | None = None
    time_ms: list[Int64] | None = None
    bid: list[TickValue] | None = None
    ask: list[TickValue] | None = None
    last: list[TickValue] | None = None
    volume: list[TickValue] | None = None


class TicksUpdate(Frame, frozen=True, tag="ticks"):
    """Live ticks for a subscriber: rows ``[symbol, time_ms, bid, ask, last, volume]``."""

    rows: list[list[Any]]


FRAMES = FrameSet(
    "ticks",
    client=(PublishTicks,),
    server=(TicksUpdate,),
)
