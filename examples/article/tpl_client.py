"""TplClient, ported from the article "Working with sockets in MQL, or How to become a signal
provider" to tradewire.mql5, line by line where MQL5 allows.

The MQL5 script connects to the template server (port 8080), reads everything until the server
closes, takes the symbol (10 bytes) and period (10 bytes) from the head and saves the rest as a
chart template. MQL5 would then call ChartApplyTemplate; here the file lands in the files
folder ([mql5] files_dir) under templates/, which is where a terminal would look for it.

    python examples/article/tpl_client.py --config tradewire.toml --port 8080
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradewire.mql5 import (
    ERR_NETSOCKET_IO_ERROR,
    INVALID_HANDLE,
    CharArrayToString,
    GetLastError,
    NetworkContext,
    ResetLastError,
    SocketClose,
    SocketConnect,
    SocketCreate,
    SocketRead,
    current_context,
    use_context,
)


def OnStart(server: str, port: int, name: str) -> int:
    socket = SocketCreate()
    if socket == INVALID_HANDLE:
        print(f"SocketCreate failed, error {GetLastError()}")
        return 1
    if not SocketConnect(socket, server, port, 1000):
        print(f"connection to {server}:{port} failed, error {GetLastError()}")
        SocketClose(socket)
        return 1
    data = bytearray()
    ResetLastError()
    while SocketRead(socket, data, 65536, 5000) > 0:  # until the server closes
        pass
    error = GetLastError()
    SocketClose(socket)
    if error != ERR_NETSOCKET_IO_ERROR or len(data) <= 20:
        print(f"no template received ({len(data)} bytes, error {error})")
        return 1
    symbol = CharArrayToString(data, 0, 10)
    period = int(CharArrayToString(data, 10, 10))
    target = current_context().files_dir / "templates" / f"{name}.tpl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bytes(data[20:]))
    print(f"template for {symbol} period {period} saved to {target} ({len(data) - 20} bytes)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="tradewire TOML with the [mql5] section")
    parser.add_argument("--server", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--name", default="chart", help="file name to save the template as")
    args = parser.parse_args()
    with use_context(NetworkContext.from_config(args.config)):
        return OnStart(args.server, args.port, args.name)


if __name__ == "__main__":
    sys.exit(main())
