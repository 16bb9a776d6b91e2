"""One hostile account against a hub with its default limits (issue 26): each attack runs from
4 connections as fast as they go for ``--seconds``, and the hub's RSS is read before, at its
peak during, and 5 s after. The target: the hub grows by less than 100 MB under each.

    .venv/bin/python benchmarks/attacks.py --seconds 15

Attacks: ``file_get`` pipelined and never read (reply amplification), new files, new topics of
16 KB, jobs of 16 KB tasks, topic sub/unsub floods, a banned address reconnecting (audit
rows), and idle connections held on the web port.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from common import free_port, raise_fd_limit, rss_kib, stop, wait_port, write_result

PASSWORD = "bench-password"
BIN = Path(sys.executable).parent
CONNECTIONS = 4


def line(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame).encode() + b"\n"


def start_hub(data: Path, port: int, web: int) -> subprocess.Popen[bytes]:
    config = data / "hub.toml"
    config.write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\n'
        f"[web]\nenabled=true\nport={web}\n"
        "[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n"
    )
    tw = str(BIN / "tradewire")
    common = ["--data", str(data), "--config", str(config)]
    run = {"input": PASSWORD + "\n", "text": True, "check": True, "capture_output": True}
    subprocess.run([tw, "user", "add", "mallory", "--role", "provider", *common], **run)  # type: ignore[call-overload]
    subprocess.run([tw, "user", "grant", "mallory", "topic:spam.*", "--data", str(data)], **run)  # type: ignore[call-overload]
    proc = subprocess.Popen(
        [tw, "--log-level", "error", "serve", *common], stdout=subprocess.DEVNULL
    )
    wait_port(port)
    wait_port(web)
    return proc


async def session(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
    writer.write(line({"t": "hello", "v": 1, "user": "mallory", "password": PASSWORD}))
    welcome = json.loads(await reader.readline())
    assert welcome["t"] == "welcome", welcome
    return reader, writer


async def pump(port: int, until: float, batch: Callable[[int], bytes], read: bool = True) -> int:
    """One connection writing ``batch(n)`` as fast as the hub takes it (reading its answers
    unless ``read`` is false); how many batches went out."""
    reader, writer = await session(port)

    async def discard() -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while await reader.read(1 << 20):
                pass

    draining = asyncio.create_task(discard()) if read else None
    sent = 0
    try:
        while time.monotonic() < until:
            writer.write(batch(sent))
            sent += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(writer.drain(), max(0.01, until - time.monotonic()))
    except ConnectionError:
        pass
    finally:
        writer.transport.abort()
        if draining is not None:
            draining.cancel()
    return sent


FILE = base64.b64encode(b"x" * 45_000).decode()
VALUE = {"pad": "v" * 16_000}


def file_gets(n: int) -> bytes:
    return line({"t": "file_get", "name": "big", "id": n}) * 100


def file_puts(n: int) -> bytes:
    name = f"f{time.monotonic_ns()}-{n}"
    return line({"t": "file_put", "name": name, "data": FILE, "meta": {}, "id": n})


def topic_pubs(n: int) -> bytes:
    return line({"t": "topic_pub", "topic": f"spam.{time.monotonic_ns()}", "value": VALUE, "id": n})


def jobs(n: int) -> bytes:
    tasks = [{"fast": 5, "slow": 30, "pad": "j" * 15_000} for _ in range(3)]
    return line({"t": "job_submit", "fn": "tradewire.jobs.sweep:backtest", "tasks": tasks, "id": n})


def sub_unsub(n: int) -> bytes:
    names = [f"spam.{n}.{k}.*" for k in range(100)]
    return line({"t": "sub", "topics": names, "id": n}) + line({"t": "unsub", "topics": names})


async def banned_reconnects(port: int, until: float) -> int:
    tries = 0
    while time.monotonic() < until:
        with contextlib.suppress(OSError, ValueError):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(line({"t": "hello", "v": 1, "user": "mallory", "password": "wrong"}))
            await asyncio.wait_for(reader.readline(), 2)
            writer.transport.abort()
        tries += 1
    return tries


async def idle_web(web: int, until: float) -> int:
    held = []
    while time.monotonic() < until and len(held) < 2000:
        with contextlib.suppress(OSError):
            held.append((await asyncio.open_connection("127.0.0.1", web))[1])
    await asyncio.sleep(max(0.0, until - time.monotonic()))
    for writer in held:
        writer.transport.abort()
    return len(held)


async def measure(pid: int, attack: Awaitable[Any]) -> dict[str, Any]:
    before = rss_kib(pid)
    peak = before
    task = asyncio.ensure_future(attack)
    while not task.done():
        peak = max(peak, rss_kib(pid))
        await asyncio.sleep(0.2)
    sent = task.result()
    await asyncio.sleep(5)
    after = rss_kib(pid)
    return {
        "rss_before_mib": round(before / 1024, 1),
        "rss_peak_mib": round(peak / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "growth_mib": round((peak - before) / 1024, 1),
        "sent": sent,
    }


async def run(seconds: float) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="tw-attacks-"))
    port, web = free_port(), free_port()
    hub = start_hub(data, port, web)
    results: dict[str, Any] = {}
    try:
        reader, writer = await session(port)
        writer.write(line({"t": "file_put", "name": "big", "data": FILE, "meta": {}, "id": 1}))
        await reader.readline()
        writer.close()

        def four(batch: Callable[[int], bytes], read: bool = True) -> Awaitable[Any]:
            until = time.monotonic() + seconds
            return asyncio.gather(*(pump(port, until, batch, read) for _ in range(CONNECTIONS)))

        attacks: dict[str, Callable[[], Awaitable[Any]]] = {
            "reply amplification (file_get, never read)": lambda: four(file_gets, read=False),
            "new files of 45 KB": lambda: four(file_puts),
            "new topics of 16 KB": lambda: four(topic_pubs),
            "jobs of 3 x 15 KB tasks": lambda: four(jobs),
            "topic sub/unsub of 100 prefixes": lambda: four(sub_unsub),
            "idle web connections": lambda: idle_web(web, time.monotonic() + seconds),
            "banned address reconnecting": lambda: banned_reconnects(
                port, time.monotonic() + seconds
            ),
        }
        for name, attack in attacks.items():
            results[name] = await measure(hub.pid, attack())
            row = results[name]
            print(
                f"{name:45s} RSS {row['rss_before_mib']:7.1f} -> peak {row['rss_peak_mib']:7.1f}"
                f" -> after {row['rss_after_mib']:7.1f} MiB (+{row['growth_mib']} MiB)",
                flush=True,
            )
    finally:
        stop(hub)
    results["data"] = str(data)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each attack")
    args = parser.parse_args()
    raise_fd_limit()
    results = asyncio.run(run(args.seconds))
    data = Path(results.pop("data"))
    results["state_db_mib"] = round((data / "state.db").stat().st_size / 2**20, 1)
    results["jobs_db_mib"] = round(sum(p.stat().st_size for p in data.glob("jobs.db*")) / 2**20, 1)
    worst = max(v["growth_mib"] for v in results.values() if isinstance(v, dict))
    print(f"largest growth {worst} MiB (target: under 100 MB)")
    write_result("attacks", {"seconds": args.seconds, "connections": CONNECTIONS, **results})


if __name__ == "__main__":
    main()
