"""Tick ingest: UDP datagrams with zero loss (tradewire's listener against the stdlib asyncio
datagram endpoint), native batches acknowledged durable, TCP lines, and the storage alone.

UDP: a sender (C with sendmmsg when a compiler is there, else Python processes) offers a fixed
rate of ``SYMBOL BID`` datagrams for 3 s; a rate passes when every datagram was received
(tradewire: stored in ticks.db, counted after a clean stop; asyncio: counted by the endpoint).
The highest passing rate of the ladder is reported.

    .venv/bin/python benchmarks/ticks.py
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import build_c, free_port, stop, wait_port, write_result

BIN = Path(sys.executable).parent
PASSWORD = "bench-password"
RATES = [25_000, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 400_000, 500_000, 600_000]
SECONDS = 3.0


def udp_sender(port: int, rate: float, seconds: float, offset: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8 << 20)
    target = ("127.0.0.1", port)
    payloads = [b"EURUSD %.5f\0" % (1.1 + (offset + i) * 1e-5) for i in range(1000)]
    sent, started = 0, time.perf_counter()
    total = int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - started) * rate) + 200)
        while sent < due:
            sock.sendto(payloads[sent % 1000], target)
            sent += 1
        time.sleep(0.0005)


def offer(port: int, rate: float, senders: int = 2) -> int:
    sender = build_c("udp_sender")
    if sender is not None:  # one C process with sendmmsg: leaves a core to the receiver
        subprocess.run(
            [str(sender), str(port), str(rate), str(SECONDS)], check=True, capture_output=True
        )
        return int(rate * SECONDS)
    procs = [
        mp.Process(target=udp_sender, args=(port, rate / senders, SECONDS, i * 1000))
        for i in range(senders)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    return int(rate * SECONDS)


def tradewire_hub(
    listeners: str, postgres: str = ""
) -> tuple[subprocess.Popen[bytes], Path, int, int]:
    data = Path(tempfile.mkdtemp(prefix="tw-ticks-"))
    subprocess.run(
        [
            str(BIN / "tradewire"),
            "user",
            "add",
            "feeder",
            "--role",
            "provider",
            "--data",
            str(data),
        ],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
    )
    port, side = (
        free_port(),
        free_port(socket.SOCK_DGRAM if listeners == "udp" else socket.SOCK_STREAM),
    )
    section = "udp_ticks" if listeners == "udp" else "tcp_ticks"
    (data / "hub.toml").write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\n[auth]\nargon2_time_cost=1\n'
        f"argon2_memory_kib=1024\n[listeners.{section}]\nenabled=true\nport={side}\n"
        + (f'[ticks]\npostgres="{postgres}"\n' if postgres else "")
    )
    hub = subprocess.Popen(
        [
            str(BIN / "tradewire"),
            "--log-level",
            "warning",
            "serve",
            "--config",
            str(data / "hub.toml"),
            "--data",
            str(data),
        ],
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    return hub, data, port, side


def stored_rows(data: Path, postgres: str = "") -> int:
    if postgres:
        import psycopg

        with psycopg.connect(postgres) as pg:
            row = pg.execute("SELECT count(*) FROM ticks").fetchone()
            return int(row[0]) if row else 0
    from tradewire.store.ticks import SqliteTickStore

    if not (data / "ticks.db").exists():
        return 0
    store = SqliteTickStore(data, readonly=True)
    try:
        return store.count()
    finally:
        store.close()


def udp_tradewire(rate: float) -> dict[str, Any]:
    hub, data, _, port = tradewire_hub("udp")
    time.sleep(0.3)
    offered = offer(port, rate)
    time.sleep(1.0)
    stop(hub)
    received = stored_rows(data)
    return {"rate": rate, "offered": offered, "received": received, "lost": offered - received}


ASYNCIO_RECEIVER = """
import asyncio, sys, time
class Counter(asyncio.DatagramProtocol):
    n = 0
    def datagram_received(self, data, addr):
        Counter.n += 1
async def main(port, seconds):
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(Counter, local_addr=("127.0.0.1", port))
    print("ready", flush=True)
    await asyncio.sleep(seconds)
    print(Counter.n, flush=True)
asyncio.run(main(int(sys.argv[1]), float(sys.argv[2])))
"""


def udp_asyncio(rate: float) -> dict[str, Any]:
    port = free_port(socket.SOCK_DGRAM)
    receiver = subprocess.Popen(
        [sys.executable, "-c", ASYNCIO_RECEIVER, str(port), str(SECONDS + 2)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdout is not None
    receiver.stdout.readline()
    offered = offer(port, rate)
    received = int(receiver.stdout.readline())
    receiver.wait()
    return {"rate": rate, "offered": offered, "received": received, "lost": offered - received}


def ladder(measure: Any) -> tuple[float, list[dict[str, Any]]]:
    steps, best = [], 0.0
    for rate in RATES:
        step = measure(rate)
        steps.append(step)
        print(
            f"  offered {rate:>8,.0f}/s: received {step['received']:>9,} of "
            f"{step['offered']:,} (lost {step['lost']:,})",
            flush=True,
        )
        if step["lost"] == 0:
            best = rate
        elif step["lost"] > step["offered"] * 0.2:
            break  # far past the knee
    return best, steps


def send_stream(via: str, rows: int, postgres: str = "") -> dict[str, Any]:
    """Rows through a hub process with tradewire's TickSender (native: acknowledged durable);
    the clock runs from the first row sent to the last acknowledged (native) or written.
    ``postgres``: the hub stores ticks there ([ticks] postgres), not in ticks.db."""
    import asyncio

    from tradewire.clients.tick_sender import TickSender
    from tradewire.ticks.sources import random_walk

    hub, data, port, side = tradewire_hub("tcp" if via == "tcp" else "udp", postgres)
    ticks = list(random_walk(["EURUSD", "GBPUSD", "XAUUSD"], rows, seed=3))

    async def run() -> None:
        sender = TickSender(
            via,
            "127.0.0.1",
            side if via == "tcp" else port,  # type: ignore[arg-type]
            user="feeder",
            password=PASSWORD,
        )
        await sender.start()
        for at in range(0, rows, 5000):
            await sender.send(ticks[at : at + 5000])
        await sender.flush()
        await sender.close()

    started = time.perf_counter()
    asyncio.run(run())
    deadline = time.monotonic() + 60  # TCP lines are not acknowledged: wait until stored
    while stored_rows(data, postgres) < rows and time.monotonic() < deadline:
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    stop(hub)
    stored = stored_rows(data, postgres)
    return {"rows": rows, "stored": stored, "seconds": elapsed, "rows_per_s": stored / elapsed}


def storage_only(rows: int, postgres: str = "") -> dict[str, Any]:
    from tradewire.protocol.tick_columns import TickColumns
    from tradewire.store.tick_stores import open_tick_store

    store = open_tick_store(Path(tempfile.mkdtemp(prefix="tw-store-")), postgres)
    batch = [("EURUSD", 1_700_000_000_000 + i, 1.1, 1.1001, None, None) for i in range(5000)]
    started = time.perf_counter()
    for n in range(rows // 5000):
        shifted = [(s, t + n * 5000, b, a, la, v) for s, t, b, a, la, v in batch]
        store.append_many([(TickColumns.from_rows(shifted), None)])
    elapsed = time.perf_counter() - started
    store.close()
    return {"rows": rows, "seconds": elapsed, "rows_per_s": rows / elapsed}


def start_postgres() -> Any:
    """The tests' PostgreSQL (initdb/pg_ctl in a temporary folder), or None if not installed."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.pg import Postgres, binaries

    if binaries() is None:
        return None
    server = Postgres()
    server.start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    print("UDP, tradewire listener (stored):")
    results["udp_tradewire_zero_loss"], results["udp_tradewire"] = ladder(udp_tradewire)
    print("UDP, stdlib asyncio datagram endpoint (counted only):")
    results["udp_asyncio_zero_loss"], results["udp_asyncio"] = ladder(udp_asyncio)
    for via in ("native", "tcp"):
        results[via] = send_stream(via, args.rows)
        print(
            f"{via}: {results[via]['stored']:,} rows in {results[via]['seconds']:.1f} s -> "
            f"{results[via]['rows_per_s']:,.0f} rows/s",
            flush=True,
        )
    results["storage"] = storage_only(args.rows)
    print(f"storage alone: {results['storage']['rows_per_s']:,.0f} rows/s")
    postgres = start_postgres()
    if postgres is None:
        print("PostgreSQL: not installed here (make test installs it): skipped")
    else:
        try:
            results["native_postgres"] = send_stream("native", args.rows, postgres.new_database())
            results["storage_postgres"] = storage_only(args.rows, postgres.new_database())
        finally:
            postgres.stop()
        print(
            f"native into PostgreSQL: {results['native_postgres']['rows_per_s']:,.0f} rows/s "
            f"acknowledged durable; PostgreSQL storage alone: "
            f"{results['storage_postgres']['rows_per_s']:,.0f} rows/s",
            flush=True,
        )
    print(
        f"UDP zero loss: tradewire {results['udp_tradewire_zero_loss']:,.0f}/s, "
        f"asyncio {results['udp_asyncio_zero_loss']:,.0f}/s"
    )
    print(f"wrote {write_result('ticks', results)}")


if __name__ == "__main__":
    main()
