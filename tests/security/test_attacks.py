"""Attacks on a hub process: password guessing, a login storm, slowloris. Each test prints the
figures that docs/reliability.md reports."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from pathlib import Path

from tests.conftest import PASSWORD, add_user, state_frame
from tests.security.hubproc import PingProbe, hub_process, login

ATTEMPTS = 10_000


async def test_ten_thousand_wrong_passwords_from_one_address(tmp_path: Path) -> None:
    add_user(tmp_path / "data", "bob", "follower", ["alpha"])
    outcomes: dict[str, int] = {}
    with hub_process(tmp_path, "") as port:

        async def guess(n: int) -> None:
            _, writer, reply = await login(port, "bob", f"guess-{n}", local_host="127.0.0.2")
            code = str(reply.get("code", reply.get("t", "closed")))
            outcomes[code] = outcomes.get(code, 0) + 1
            writer.close()

        for n in range(5):  # the first five are checked and fail
            await guess(n)
        started = time.perf_counter()
        legit_ok = False
        for batch in range(5, ATTEMPTS, 100):
            await asyncio.gather(*(guess(n) for n in range(batch, min(batch + 100, ATTEMPTS))))
            if batch == 5005:  # the real user, from another address, mid-attack
                _, writer, welcome = await login(port, "bob", local_host="127.0.0.3")
                legit_ok = welcome.get("t") == "welcome"
                writer.close()
        elapsed = time.perf_counter() - started
    with sqlite3.connect(tmp_path / "data" / "state.db") as conn:
        checked = conn.execute(
            "SELECT count(*) FROM audit WHERE event = 'login_failed' AND address = '127.0.0.2'"
        ).fetchone()[0]
        banned = conn.execute("SELECT address FROM bans").fetchall()
    print(
        f"\n{ATTEMPTS} wrong passwords: {outcomes}; password checks made: {checked}; "
        f"{ATTEMPTS - 5} refused in {elapsed:.1f} s; real user from another address "
        f"logged in: {legit_ok}"
    )
    assert outcomes == {"auth_failed": 5, "banned": ATTEMPTS - 5}
    assert checked == 5  # every attempt after the fifth was refused before any hashing
    assert banned == [("127.0.0.2",)]
    assert legit_ok


async def test_thousand_simultaneous_logins(tmp_path: Path) -> None:
    """Default argon2id cost, from 200 addresses (one address gets at most ban.max_failures
    checks at a time): 256 logins may wait for a check, the rest get server_busy. Fairness and
    bounds, not speed (that is benchmarks/logins.py): on a busy machine some of the 256 may wait
    past auth_timeout_s, which is a bounded wait, not a failure."""
    add_user(tmp_path / "data", "bob", "follower", ["alpha"])
    add_user(tmp_path / "data", "probe", "follower", ["alpha"])
    # The login path's capacity: the cap on checks of one name from new addresses (NameGate,
    # tests/security/test_guessing.py) would refuse most of this storm before any hashing.
    config = (
        "[hub]\nmax_connections_per_address = 5000\n"
        "[auth]\nargon2_time_cost = 2\nargon2_memory_kib = 19456\n"
        "[ban]\nname_max_checks = 100000\n"
    )
    from tradewire.config import AuthSettings
    from tradewire.store.db import StateDB
    from tradewire.store.passwords import Passwords

    db = StateDB(tmp_path / "data")  # real cost hashes for this test (the fixture's are cheap)
    for user in ("bob", "probe"):
        db.delete_user(user, 0)
        db.add_user(user, Passwords(AuthSettings()).hash(PASSWORD), "follower", ["alpha"], 0)
    db.close()
    with hub_process(tmp_path, config) as port:
        async with PingProbe(port, "probe") as probe:
            await asyncio.sleep(0.2)
            started = time.perf_counter()
            replies = await asyncio.gather(
                *(login(port, "bob", local_host=f"127.0.1.{n % 200 + 1}") for n in range(1000))
            )
            elapsed = time.perf_counter() - started
            await asyncio.sleep(0.2)
        for _, writer, _ in replies:
            writer.close()
        _, writer, after = await login(port, "bob")  # still serving
        writer.close()
    codes: dict[str, int] = {}
    for _, _, reply in replies:
        key = str(reply.get("code", reply.get("t")))
        codes[key] = codes.get(key, 0) + 1
    p50, p99, worst = probe.percentile(0.5), probe.percentile(0.99), max(probe.rtts_ms)
    print(
        f"\n1000 simultaneous logins in {elapsed:.1f} s: {codes}; ping round trip during "
        f"the storm p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms "
        f"({len(probe.rtts_ms)} pings)"
    )
    assert set(codes) <= {"welcome", "server_busy", "auth_timeout"}, codes
    waited = codes.get("welcome", 0) + codes.get("auth_timeout", 0)
    assert waited >= 256 and codes.get("welcome", 0) > 0  # the queue was used, and drained
    assert codes.get("server_busy", 0) > 0  # ... and bounded: the rest were told at once
    assert after.get("t") == "welcome"  # still serving
    assert len(probe.rtts_ms) >= 10  # the loop kept answering pings through the storm


async def test_slowloris_five_thousand_connections(tmp_path: Path) -> None:
    add_user(tmp_path / "data", "alice", "provider", ["alpha"])
    for n in range(5):
        add_user(tmp_path / "data", f"sub{n}", "follower", ["alpha"])
    config = "[hub]\nauth_timeout_s = 3\nmax_connections = 20000\n"
    with hub_process(tmp_path, config) as port:
        subscribers = []
        for n in range(5):
            reader, writer, welcome = await login(port, f"sub{n}")
            assert welcome["t"] == "welcome"
            writer.write(b'{"t":"sub","ch":"alpha","id":1}\n')
            assert b"ack" in await reader.readline()
            subscribers.append((reader, writer))
        _, provider, _ = await login(port, "alice")
        slow: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        for n in range(5000):  # 25 source addresses x 200 (the per-address limit)
            slow.append(
                await asyncio.open_connection(
                    "127.0.0.1", port, local_addr=(f"127.0.1.{n % 25 + 1}", 0)
                )
            )
        latencies: list[float] = []

        async def drip() -> None:
            # One byte a second per connection, spread over the second (a burst of 5000
            # writes would stall this test's own loop and be measured as hub latency).
            for _ in range(6):
                for start in range(0, len(slow), 250):
                    for _, writer in slow[start : start + 250]:
                        if not writer.is_closing():
                            with contextlib.suppress(ConnectionError):
                                writer.write(b" ")
                    await asyncio.sleep(1 / 20)

        async def publish_and_measure() -> None:
            for n in range(40):
                sent = time.perf_counter()
                provider.write(json.dumps({**state_frame(n=n + 1), "id": n}).encode() + b"\n")
                for reader, _ in subscribers:
                    async with asyncio.timeout(10):  # a lost state fails, not hangs
                        while b'"state"' not in await reader.readline():
                            pass
                latencies.append((time.perf_counter() - sent) * 1000)
                await asyncio.sleep(0.1)

        await asyncio.gather(drip(), publish_and_measure())
        closed = 0  # by the hub: the auth_timeout error then EOF, or a reset (we kept writing)
        for reader, writer in slow:
            try:
                async with asyncio.timeout(5):
                    rest = await reader.read()
                closed += 1 if b"auth_timeout" in rest else 0
            except ConnectionError:  # reset, or broken pipe from our last drip
                closed += 1
            except TimeoutError:
                pass
            writer.close()
        for _, writer in subscribers:
            writer.close()
        provider.close()
    latencies.sort()
    print(
        f"\nslowloris: 5000 connections dripping 1 byte/s; closed by auth_timeout: {closed}; "
        f"states to 5 real subscribers meanwhile: p50 {latencies[len(latencies) // 2]:.1f} ms,"
        f" max {latencies[-1]:.1f} ms"
    )
    assert closed == 5000
    assert len(latencies) == 40  # every state reached every real subscriber meanwhile
    # A bound, not a speed: a hub that waited on the dripping connections would hold states
    # for seconds (auth_timeout is 3 s); how fast they go is SECURITY.md's figure, printed
    # above (it was 119.8 ms max once under CI's four test processes on two cores).
    assert latencies[-1] < 1000
