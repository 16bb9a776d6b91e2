"""The hub's own fan-out cost, without any load generator in the way.

Starts a hub in this process, connects N subscribers, then times ``Channel.commit`` (one
encoded 1.5 KB state written to every subscriber's transport) S times, draining the sockets
between rounds. Usage:

    .venv/bin/python benchmarks/fanout_loop.py --subscribers 1000 --states 50
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import uvloop

from tradewire.config import AuthSettings, Config, HubSettings
from tradewire.hub.server import Hub
from tradewire.store.db import StateDB
from tradewire.store.passwords import Passwords


async def run(subscribers: int, states: int) -> None:
    data = Path(tempfile.mkdtemp(prefix="tw-loop-"))
    auth = AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024)
    db = StateDB(data)
    db.add_user("f", Passwords(auth).hash("pw"), "follower", ["a"], 0)
    db.close()
    hub = Hub(
        Config(
            hub=HubSettings(host="127.0.0.1", port=0, max_connections_per_address=subscribers + 10),
            auth=auth,
        ),
        data,
    )
    host, port = (await hub.start())[0]
    readers = []
    writers = []  # kept referenced: a collected StreamWriter closes its connection
    for _ in range(subscribers):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(
            b'{"t":"hello","v":1,"user":"f","password":"pw"}\n{"t":"sub","id":1,"ch":"a"}\n'
        )
        await reader.readline()
        await reader.readline()
        readers.append(reader)
        writers.append(writer)
    channel = hub.parts.channels.get("a")
    line = b"x" * 1500 + b"\n"
    times = []
    for _ in range(states):
        started = time.perf_counter()
        channel.commit(line)
        times.append(time.perf_counter() - started)
        for reader in readers:
            await reader.readexactly(len(line))
    times.sort()
    p50 = times[len(times) // 2]
    print(
        f"commit to {subscribers} subscribers: p50 {p50 * 1e3:.2f} ms "
        f"({p50 / subscribers * 1e6:.1f} us per subscriber), max {times[-1] * 1e3:.2f} ms"
    )
    await hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--states", type=int, default=50)
    args = parser.parse_args()
    uvloop.run(run(args.subscribers, args.states))


if __name__ == "__main__":
    main()
