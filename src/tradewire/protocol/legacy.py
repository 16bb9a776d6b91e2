"""The formats of the MQL5 article "Working with sockets in MQL, or How to become a signal
provider" (PROTOCOL.md section 2). Pure functions over values."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from tradewire.protocol.messages import Position
from tradewire.protocol.names import is_symbol


def net_volumes(positions: Iterable[Position]) -> dict[str, float]:
    """Buys minus sells per symbol (the article's SignalServer sends net volume)."""
    nets: dict[str, float] = {}
    for p in positions:
        nets[p.symbol] = nets.get(p.symbol, 0.0) + (p.volume if p.side == "buy" else -p.volume)
    return {symbol: round(net, 8) for symbol, net in nets.items()}


def signal_message(symbol: str, net: float) -> bytes:
    """``<<SYMBOL|NET>>`` with two decimals, ``0.00`` when flat (never ``-0.00``)."""
    text = f"{net:.2f}"
    if text == "-0.00":
        text = "0.00"
    return f"<<{symbol}|{text}>>".encode("ascii")


def signal_update(nets: dict[str, float], previous: dict[str, float]) -> bytes:
    """Every symbol's net now, plus ``0.00`` for symbols held before and flat now."""
    flat = [s for s in previous if s not in nets and abs(previous[s]) >= 0.005]
    return b"".join(
        [signal_message(s, nets[s]) for s in sorted(nets)]
        + [signal_message(s, 0.0) for s in sorted(flat)]
    )


TEMPLATE_FIELD = 10  # bytes of each NUL-padded header field of the template transfer


def template_header_problem(meta: Mapping[str, object]) -> str | None:
    """Why ``meta`` cannot head a template transfer, or ``None``: it needs ``symbol`` (1-10
    ASCII characters) and ``period`` (minutes, 1 to 43200 as in MT5's monthly chart)."""
    symbol, period = meta.get("symbol"), meta.get("period")
    if (
        not isinstance(symbol, str)
        or not 0 < len(symbol) <= TEMPLATE_FIELD
        or not symbol.isascii()
        or "\0" in symbol
    ):
        return 'meta needs "symbol": 1 to 10 ASCII characters'
    if isinstance(period, bool) or not isinstance(period, int) or not 0 < period <= 43_200:
        return 'meta needs "period": whole minutes from 1 to 43200'
    return None


def template_payload(symbol: str, period: int, template: bytes) -> bytes:
    """What the template listener sends: symbol and period as NUL-padded 10-byte fields, then
    the template file's bytes unchanged."""
    return (
        symbol.encode("ascii").ljust(TEMPLATE_FIELD, b"\0")
        + str(period).encode("ascii").ljust(TEMPLATE_FIELD, b"\0")
        + template
    )


def parse_template_payload(payload: bytes) -> tuple[str, int, bytes]:
    """The client side: ``(symbol, period, template bytes)``; raises ``ValueError``."""
    if len(payload) < 2 * TEMPLATE_FIELD:
        raise ValueError(
            f"a template transfer starts with {2 * TEMPLATE_FIELD} header bytes; got {len(payload)}"
        )
    symbol = payload[:TEMPLATE_FIELD].rstrip(b"\0").decode("ascii")
    period_text = payload[TEMPLATE_FIELD : 2 * TEMPLATE_FIELD].rstrip(b"\0")
    if not symbol or not period_text.isdigit():
        raise ValueError("the template header needs a symbol and a period in minutes")
    return symbol, int(period_text), payload[2 * TEMPLATE_FIELD :]


MAX_SIGNAL_MESSAGE = 64  # "<<" + symbol (32) + "|" + a volume, with room to spare


def parse_signals(buffer: bytes) -> tuple[list[tuple[str, float]], bytes]:
    """The client side of the signal stream: complete ``<<SYMBOL|NET>>`` messages in
    ``buffer`` and the bytes to keep for the next read (an unfinished message). Garbage
    between messages is skipped; a message that is not SYMBOL|number is dropped whole; an
    unfinished tail longer than any message can be is dropped too (bounded memory)."""
    found: list[tuple[str, float]] = []
    position = 0
    while (start := buffer.find(b"<<", position)) >= 0:
        end = buffer.find(b">>", start + 2)
        if end < 0:
            tail = buffer[start:]
            return found, tail if len(tail) <= MAX_SIGNAL_MESSAGE else b""
        symbol, sep, net = buffer[start + 2 : end].partition(b"|")
        position = end + 2
        try:
            name = symbol.decode("ascii")
            value = float(net)
        except (UnicodeDecodeError, ValueError):
            continue
        if sep and is_symbol(name) and math.isfinite(value):
            found.append((name, value))
    return found, b"<" if buffer.endswith(b"<") else b""
