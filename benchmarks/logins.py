"""Login throughput with the default argon2id cost, and event-loop lag during a login storm.

Starts a hub in this process (uvloop), opens N connections that all send hello at once, and
meanwhile measures event-loop lag with a 5 ms sleep probe. Usage:

    .venv/bin/python benchmarks/logins.py --clients 1000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import uvloop

from tradewire.config import Config, HubSettings
from tradewire.hub.server import Hub
from tradewire.store.db import StateDB
from tradewire.store.passwords import Passwords

PASSWORD = "bench-password"


async def run(clients: int, as_json: bool) -> None:
    data = Path(tempfile.mkdtemp(prefix="tw-logins-"))
    config = Config(
        hub=HubSettings(
            host="127.0.0.1",
            port=0,
            max_connections_per_address=50_000,
            max_pending_logins=clients,
            # This measures throughput: every login may wait its turn (the hub's default answers
            # auth_timeout after 10 s, and 1,000 logins at this cost take longer than that).
            auth_timeout_s=300,
        ),
    )
    db = StateDB(data)
    db.add_user("bob", Passwords(config.auth).hash(PASSWORD), "follower", ["alpha"], 0)
    db.close()
    hub = Hub(config, data)
    host, port = (await hub.start())[0]
    lags: list[float] = []
    stop = asyncio.Event()

    async def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append(time.perf_counter() - started - 0.005)

    async def login() -> bool:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b'{"t":"hello","v":1,"user":"bob","password":"' + PASSWORD.encode() + b'"}\n')
        line = await reader.readline()
        writer.close()
        return b"welcome" in line

    probe_task = asyncio.create_task(probe())
    started = time.perf_counter()
    results = await asyncio.gather(*(login() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    stop.set()
    await probe_task
    await hub.stop()
    lags.sort()
    print(
        f"clients={clients} welcomed={sum(results)} in {elapsed:.2f} s "
        f"-> {sum(results) / elapsed:.0f} logins/s "
        f"(argon2id t={config.auth.argon2_time_cost} m={config.auth.argon2_memory_kib} KiB, "
        f"{config.hub.auth_workers} workers)"
    )
    print(
        f"event-loop lag during the storm: p50={lags[len(lags) // 2] * 1e3:.2f} ms "
        f"p99={lags[int(len(lags) * 0.99)] * 1e3:.2f} ms max={lags[-1] * 1e3:.2f} ms"
    )
    if as_json:
        import json

        print(
            json.dumps(
                {
                    "clients": clients,
                    "welcomed": sum(results),
                    "seconds": elapsed,
                    "logins_per_s": sum(results) / elapsed,
                    "lag_p50_ms": lags[len(lags) // 2] * 1e3,
                    "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1e3,
                    "lag_max_ms": lags[-1] * 1e3,
                }
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    uvloop.run(run(args.clients, args.json))


if __name__ == "__main__":
    main()
