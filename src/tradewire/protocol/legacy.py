"""The formats of the MQL5 article "Working with sockets in MQL, or How to become a signal
provider" (PROTOCOL.md section 2). Pure functions over values."""

from __future__ import annotations

from collections.abc import Iterable

from tradewire.protocol.messages import Position


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
    return b"".join([signal_message(s, nets[s]) for s in sorted(nets)] +
                    [signal_message(s, 0.0) for s in sorted(flat)])
