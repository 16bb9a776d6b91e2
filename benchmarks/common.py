"""What every benchmark shares: process figures from /proc, percentiles, free ports, results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its live children (an engine's workers)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        with contextlib.suppress(OSError):
            total += cpu_seconds(int(child))
    return total


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")
    return path


def raise_fd_limit(wanted: int = 65_536) -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, wanted), hard), hard))


def stop(proc: subprocess.Popen[Any]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def build_c(name: str) -> Path | None:
    """Compile ``benchmarks/NAME.c`` (load generators cheaper than Python); None without cc."""
    source = Path(__file__).parent / f"{name}.c"
    binary = source.with_suffix("")
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    done = subprocess.run(
        ["cc", "-O2", "-o", str(binary), str(source)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        print(f"cannot build {source.name} ({done.stderr.strip()[:80]}); using Python")
        return None
    return binary


def print_hops(hops: dict[str, dict[str, Any]]) -> None:
    """The per-hop table of a copy run (docs/latency.md), one line per hop with fills."""
    for hop, stats in hops.items():
        if stats["n"]:
            print(
                f"{'':10}{hop:>12} p50 {stats['p50_ms']:8.3f}  p99 {stats['p99_ms']:8.3f}  "
                f"max {stats['max_ms']:8.3f} ms"
            )


BIN = Path(__import__("sys").executable).parent
BENCH_PASSWORD = "bench-password"


def bench_hub(
    prefix: str, users: list[tuple[str, str, list[str]]]
) -> tuple[subprocess.Popen[bytes], int, Path, dict[str, str]]:
    """A hub process on a free port with ``users`` (name, role, grants), cheap password
    hashing (the copy benchmarks measure copying, not logins): the process, its port, a
    temporary folder for the run, and the environment its clients need."""
    data = Path(tempfile.mkdtemp(prefix=prefix))
    env = {**os.environ, "TRADEWIRE_PASSWORD": BENCH_PASSWORD, "TRADEWIRE_DATA": str(data / "hub")}
    port = free_port()
    config = data / "hub.toml"
    # Every client of a benchmark comes from 127.0.0.1: 100 terminals and 100 followers with a
    # session each for the hub and for their terminal: broker are 300 from one address, more
    # than the default 200 (the rest were refused per_address and never copied).
    config.write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\nmax_connections_per_address=5000\n'
        "[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n"
    )
    for user, role, grants in users:
        flags = [arg for grant in grants for arg in ("--channel", grant)]
        subprocess.run(
            [str(BIN / "tradewire"), "user", "add", user, "--role", role, *flags,
             "--config", str(config)],
            input=BENCH_PASSWORD + "\n",
            text=True,
            env=env,
            check=True,
            capture_output=True,
        )  # fmt: skip
    hub = subprocess.Popen(
        [str(BIN / "tradewire"), "--log-level", "warning", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    wait_port(port)
    return hub, port, data, env
