"""The baseline a user would write: one stdlib asyncio loop, like the article's signal server —
every line the provider sends is written to each subscriber in turn, then acknowledged.

A client's first line says what it is: ``SUB`` or ``PUB``.

    python benchmarks/baseline_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

subscribers: set[asyncio.StreamWriter] = set()


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    role = await reader.readline()
    if role.startswith(b"SUB"):
        subscribers.add(writer)
        writer.write(b"ok\n")
        await reader.read()  # until the subscriber goes
        subscribers.discard(writer)
        return
    while line := await reader.readline():
        for subscriber in list(subscribers):
            subscriber.write(line)
            await subscriber.drain()
        writer.write(b"ok\n")


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096, limit=1 << 20)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
