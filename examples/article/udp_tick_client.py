"""The article's UDP tick sender, ported: on every tick, one datagram ``SYMBOL BID`` (the text
of ``Symbol()+" "+DoubleToString(bid,digits)``, NUL terminator included, as
``StringToCharArray`` makes it) to the collector on port 8082.

MQL5's Socket* functions speak TCP only; the article reaches UDP through Windows' ws2_32.dll.
Python's ``socket`` module takes the DLL's place here. Ticks come from tradewire's seeded paper
feed (the stand-in for a terminal's OnTick), ``--ticks`` of them.

    python examples/article/udp_tick_client.py --port 8082 --symbol EURUSD --ticks 1000
"""

from __future__ import annotations

import argparse
import socket as ws2_32
import sys

from tradewire.brokers.paper.feed import SeededFeed
from tradewire.brokers.symbols import resolve
from tradewire.mql5 import StringToCharArray


def DoubleToString(value: float, digits: int) -> str:
    return f"{value:.{digits}f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8082)
    parser.add_argument("--symbol", default="EURUSD")
    parser.add_argument("--ticks", type=int, default=1000)
    args = parser.parse_args()
    spec = resolve(args.symbol)
    if spec is None:
        print(f"unknown symbol {args.symbol}")
        return 1
    feed = SeededFeed(seed=7)
    sock = ws2_32.socket(ws2_32.AF_INET, ws2_32.SOCK_DGRAM)  # WSASocket(AF_INET, SOCK_DGRAM)
    for n in range(args.ticks):  # OnTick
        quote = feed.quote(spec, args.symbol, 1_700_000_000_000 + n * 250)
        if quote is None:
            continue
        bid = quote.bid
        data = StringToCharArray(args.symbol + " " + DoubleToString(bid, spec.digits))
        sock.sendto(data, (args.server, args.port))  # sendto() of ws2_32.dll
    sock.close()
    print(f"sent {args.ticks} ticks of {args.symbol}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
