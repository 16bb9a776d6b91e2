"""Tick formats (PROTOCOL.md 1.2 and section 2), pure.

A tick row is ``(symbol, time_ms, bid, ask, last, volume)``; ``ask``, ``last`` and ``volume``
may be ``None``. Text ticks (UDP datagrams, TCP lines) are ``SYMBOL BID`` (the article's form,
with the NUL that MQL5's ``StringToCharArray`` appends) or ``SYMBOL BID ASK TIME_MS``; a missing
time is the receive time. Rules for every path: symbol ``[A-Za-z0-9_.#+-]{1,32}``; prices finite
and not negative; time not before 1970 and not more than a day ahead of the receiver's clock.
"""

from __future__ import annotations

import math
from typing import Any

from tradewire.exceptions import ProtocolError
from tradewire.protocol.names import is_symbol

TickRow = tuple[str, int, float, float | None, float | None, float | None]
DAY_MS = 86_400_000
MAX_ROWS = 10_000  # per native frame


class TickError(ProtocolError):
    """A tick is malformed; ``reason`` is short and stable (counted per reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _price(value: object, name: str, optional: bool) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TickError(f"{name} is not a number")
    price = float(value)
    if not math.isfinite(price) or price < 0:
        raise TickError(f"{name} must be finite and >= 0")
    return price


def check_row(
    symbol: object,
    time_ms: object,
    bid: object,
    ask: object,
    last: object,
    volume: object,
    now_ms: int,
) -> TickRow:
    """Validate one tick; returns it normalised. Raises :class:`TickError`."""
    if not isinstance(symbol, str) or not is_symbol(symbol):
        raise TickError("symbol must match [A-Za-z0-9_.#+-]{1,32}")
    if isinstance(time_ms, bool) or not isinstance(time_ms, int):
        raise TickError("time_ms is not an integer")
    if time_ms < 0 or time_ms > now_ms + DAY_MS:
        raise TickError("time_ms is before 1970 or more than a day ahead")
    bid_value = _price(bid, "bid", optional=False)
    assert bid_value is not None
    return (
        symbol,
        time_ms,
        bid_value,
        _price(ask, "ask", True),
        _price(last, "last", True),
        _price(volume, "volume", True),
    )


_KNOWN_SYMBOLS: dict[bytes, str] = {}  # validated symbol bytes -> str (hot path cache)
_MAX_KNOWN = 10_000


def _symbol(raw: bytes) -> str:
    symbol = _KNOWN_SYMBOLS.get(raw)
    if symbol is None:
        try:
            symbol = raw.decode("ascii")
        except UnicodeDecodeError:
            raise TickError("not ASCII") from None
        if not is_symbol(symbol):
            raise TickError("symbol must match [A-Za-z0-9_.#+-]{1,32}")
        if len(_KNOWN_SYMBOLS) < _MAX_KNOWN:
            _KNOWN_SYMBOLS[raw] = symbol
    return symbol


def parse_text(data: bytes, now_ms: int) -> TickRow:
    """One text tick (a datagram or a line). Raises :class:`TickError`.

    The hot path of the UDP and TCP listeners: it works on bytes (``float`` parses them
    directly) and remembers validated symbols, but applies exactly the rules of check_row.
    """
    fields = data.rstrip(b"\x00 \t\r\n").split()
    count = len(fields)
    if count != 2 and count != 4:
        raise TickError("expected SYMBOL BID or SYMBOL BID ASK TIME_MS")
    symbol = _symbol(fields[0])
    try:
        bid = float(fields[1])
        ask = float(fields[2]) if count == 4 else None
        time_ms = int(fields[3]) if count == 4 else now_ms
    except ValueError:
        raise TickError("a field is not a number") from None
    if not (bid >= 0 and bid != math.inf) or (
        ask is not None and not (ask >= 0 and ask != math.inf)
    ):
        raise TickError(
            "bid must be finite and >= 0"
            if not (bid >= 0 and bid != math.inf)
            else "ask must be finite and >= 0"
        )
    if time_ms < 0 or time_ms > now_ms + DAY_MS:
        raise TickError("time_ms is before 1970 or more than a day ahead")
    return (symbol, time_ms, bid, ask, None, None)


def check_rows(rows: list[list[Any]], now_ms: int) -> list[TickRow] | tuple[int, str]:
    """Validate a native frame's rows: the rows, or ``(index, reason)`` of the first bad one."""
    if len(rows) > MAX_ROWS:
        return (MAX_ROWS, f"at most {MAX_ROWS} rows per frame")
    checked: list[TickRow] = []
    for index, row in enumerate(rows):
        if not isinstance(row, list) or not 4 <= len(row) <= 6:
            return (index, "a row is [symbol, time_ms, bid, ask, last?, volume?]")
        padded = row + [None] * (6 - len(row))
        try:
            checked.append(
                check_row(padded[0], padded[1], padded[2], padded[3], padded[4], padded[5], now_ms)
            )
        except TickError as exc:
            return (index, exc.reason)
        if checked[-1][3] is None:
            return (index, "ask is required in native rows")
    return checked
