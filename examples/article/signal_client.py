"""SignalClient, ported from the article "Working with sockets in MQL, or How to become a signal
provider" to tradewire.mql5.

The article's Expert Advisor connects to the signal server (port 8081), and on a timer reads
whatever arrived, splits it into ``<<SYMBOL|NET_VOLUME>>`` messages and brings the account's net
position of each symbol to that volume with market orders. The network side here is the MQL5
functions, unchanged in meaning. The trading side is the one seam that cannot run here
(MetaTrader's trade server): a tradewire paper account in netting mode stands in for it
(``--broker paper:FILE``).

    python examples/article/signal_client.py --config tradewire.toml --broker paper:acct.db
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from tradewire.broker_schemes import open_broker
from tradewire.model import OrderRequest, Side
from tradewire.mql5 import (
    GetLastError,
    NetworkContext,
    SocketClose,
    SocketConnect,
    SocketCreate,
    SocketIsConnected,
    SocketIsReadable,
    SocketRead,
    use_context,
)
from tradewire.protocol.legacy import parse_signals


class PaperTerminal:
    """The MQL5 trade functions this EA needs, over a paper account (the documented fake)."""

    def __init__(self, spec: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.broker = self.loop.run_until_complete(open_broker(spec))

    def net_volume(self, symbol: str) -> float:
        positions = self.loop.run_until_complete(self.broker.positions())
        return round(
            sum(
                p.volume if p.side == "buy" else -p.volume for p in positions if p.symbol == symbol
            ),
            2,
        )

    def order(self, symbol: str, volume: float) -> bool:
        side: Side = "buy" if volume > 0 else "sell"
        try:
            self.loop.run_until_complete(
                self.broker.market_order(
                    OrderRequest(symbol=symbol, side=side, volume=round(abs(volume), 2))
                )
            )
            return True
        except Exception as exc:  # the EA logs a failed order and retries on the next signal
            print(f"order {side} {abs(volume):.2f} {symbol} failed: {exc}")
            return False

    def close(self) -> None:
        self.loop.run_until_complete(self.broker.close())
        self.loop.close()


def Sync(terminal: PaperTerminal, symbol: str, target: float) -> None:
    current = terminal.net_volume(symbol)
    delta = round(target - current, 2)
    if abs(delta) >= 0.01 and terminal.order(symbol, delta):
        print(f"synced {symbol} from {current:.2f} to {target:.2f}", flush=True)


def OnTimer(socket: int, pending: bytearray, terminal: PaperTerminal) -> None:
    available = SocketIsReadable(socket)
    if available > 0:
        SocketRead(socket, pending, available, 100)
    messages, rest = parse_signals(bytes(pending))  # the article splits on "<<" and ">>"
    for symbol, net in messages:
        Sync(terminal, symbol, net)
    pending[:] = rest  # keep an incomplete message for next time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="tradewire TOML with the [mql5] section")
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--broker", required=True, help="paper:FILE?mode=netting")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long")
    parser.add_argument("--timer-ms", type=int, default=100, help="EventSetMillisecondTimer")
    args = parser.parse_args()
    spec = (
        args.broker
        if "mode=" in args.broker
        else args.broker + ("&" if "?" in args.broker else "?") + "mode=netting"
    )
    with use_context(NetworkContext.from_config(args.config)):
        socket = SocketCreate()
        if not SocketConnect(socket, args.server, args.port, 1000):
            print(f"cannot connect to {args.server}:{args.port}, error {GetLastError()}")
            return 1
        print(f"connected to {args.server}:{args.port}", flush=True)
        terminal = PaperTerminal(spec)
        pending = bytearray()
        stop_at = time.monotonic() + args.seconds if args.seconds else float("inf")
        try:
            while time.monotonic() < stop_at and SocketIsConnected(socket):
                OnTimer(socket, pending, terminal)
                time.sleep(args.timer_ms / 1000)
        except KeyboardInterrupt:
            pass
        finally:
            SocketClose(socket)
            terminal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
