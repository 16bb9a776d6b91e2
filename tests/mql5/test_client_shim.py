"""The EAs' network client (mql5/Include/Tradewire/Client.mqh) compiled by g++ against a
minimal terminal runtime (tests/mql5/shim/: real POSIX sockets behind the Socket* functions)
and run against a real hub: login, subscribe, publish until acked, pongs that keep it alive
across many heartbeats, frames much larger than one read, and a reconnect after the hub drops
it. MetaEditor cannot run here; this runs the shipped networking code itself."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, logged_in, make_config, state_frame
from tests.needs import missing
from tradewire.bus.nats_server import free_port
from tradewire.hub.server import Hub

HERE = Path(__file__).parent
INCLUDE = HERE.parents[1] / "mql5" / "Include" / "Tradewire"

if shutil.which("g++") is None:
    missing("no g++ here: the Client.mqh check needs a C++ compiler (`make test` installs it)")


def translate(text: str) -> str:
    """MQL5 to C++ for the shim: dynamic arrays ``T name[]`` become ``MqlArray<T>``; the
    ``#property`` lines go. Nothing else of the source changes."""
    text = "\n".join(line for line in text.splitlines() if not line.startswith("#property"))
    text = re.sub(r"\b((?:const\s+)?)(\w+)\s*&\s*(\w+)\[\]", r"\1MqlArray<\2> &\3", text)
    return re.sub(r"^(\s*)(\w+)(\s+)(\w+)\[\];", r"\1MqlArray<\2>\3\4;", text, flags=re.M)


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Path:
    build = tmp_path_factory.mktemp("client-shim")
    (build / "Tradewire").mkdir()
    for name in ("Client.mqh", "Json.mqh"):
        (build / "Tradewire" / name).write_text(translate((INCLUDE / name).read_text()))
    binary = build / "client_driver"
    subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(HERE / "shim"), "-I", str(build),
         "-o", str(binary), str(HERE / "shim" / "client_driver.cpp")],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return binary


def own_state() -> str:
    frame = state_frame("beta", 1)
    frame |= {"id": "s1", "ts": int(time.time() * 1000)}
    return json.dumps(frame)


async def test_the_ea_client_speaks_to_a_real_hub(driver: Path, data_dir: Path) -> None:
    hub = Hub(make_config(heartbeat_s=0.3), data_dir)  # the hub pings every 0.3 s
    await hub.start()
    try:
        host, port = hub.addresses[0]
        ea = await asyncio.create_subprocess_exec(
            str(driver), host, str(port), "root", PASSWORD, own_state(), "4",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await asyncio.sleep(1.0)  # the EA is in and subscribed
        alice = await logged_in(hub, "alice")
        for n in range(1, 6):  # states of 150 positions: many reads each
            alice.send(state_frame("alpha", n, positions=150))
            while (answer := await alice.recv())["t"] == "ping":
                alice.send({"t": "pong", "re": answer.get("id")})
            assert answer["t"] == "ack", answer
        out, err = await ea.communicate()
    finally:
        await hub.stop()
    lines = out.decode().splitlines()
    frames = [json.loads(line[6:]) for line in lines if line.startswith("FRAME ")]
    assert lines.count("LOGIN") == 1, err.decode()  # 4 s of 0.3 s heartbeats: kept alive by pongs
    assert {"t": "ack", "re": "s1", "seq": 1} in frames  # published until acked
    assert {"t": "ack", "re": "sub1"} in frames
    states = [f for f in frames if f["t"] == "state"]
    assert [s["seq"] for s in states] == [1, 2, 3, 4, 5]
    assert all(len(s["positions"]) == 150 for s in states)  # whole lines from partial reads


async def test_the_ea_client_reconnects_when_the_hub_drops_it(driver: Path, data_dir: Path) -> None:
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        host, port = hub.addresses[0]
        ea = await asyncio.create_subprocess_exec(
            str(driver), host, str(port), "root", PASSWORD, own_state(), "3",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        for _ in range(100):  # its first session
            if any(c.user is not None and c.user.name == "root" for c in hub.connections):
                break
            await asyncio.sleep(0.02)
        for conn in list(hub.connections):
            if conn.user is not None and conn.user.name == "root" and conn.transport is not None:
                conn.transport.abort()  # the link drops
        out, err = await ea.communicate()
    finally:
        await hub.stop()
    assert out.decode().splitlines().count("LOGIN") == 2, err.decode()
    assert "the hub closed the connection" in err.decode()  # said why, in the Experts log


async def test_the_ea_client_moves_to_the_next_hub_of_its_list(
    driver: Path, data_dir: Path
) -> None:
    """HubHost "127.0.0.1:DEAD, 127.0.0.1": the first hub is not there, the second is."""
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        host, port = hub.addresses[0]
        dead = free_port()
        ea = await asyncio.create_subprocess_exec(
            str(driver), f"{host}:{dead}, {host}", str(port), "root", PASSWORD, own_state(), "2",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await ea.communicate()
    finally:
        await hub.stop()
    assert out.decode().splitlines().count("LOGIN") == 1, err.decode()
    assert f"cannot connect to {host}:{dead}" in err.decode()  # tried first, said why
    assert {"t": "ack", "re": "s1", "seq": 1} in [
        json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("FRAME ")
    ]


async def test_a_refused_login_that_comes_with_the_close_is_seen(
    driver: Path, data_dir: Path
) -> None:
    """The hub answers a wrong password with auth_failed and closes at once: the EA reads the
    frame that came with the close, alerts and stops, instead of reconnecting until its own
    address is banned (issue 26, "Also")."""
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        host, port = hub.addresses[0]
        ea = await asyncio.create_subprocess_exec(
            str(driver), host, str(port), "root", "not-the-password", own_state(), "3",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await ea.communicate()
        await hub.store.flush()
        with sqlite3.connect(data_dir / "state.db") as conn:
            (checks,) = conn.execute(
                "SELECT count(*) FROM audit WHERE event = 'login_failed'"
            ).fetchone()
    finally:
        await hub.stop()
    log = err.decode()
    assert "ALERT tradewire: the hub refused the login (auth_failed)" in log, log
    assert checks == 1, log  # one attempt, not five and a ban
    assert "LOGIN" not in out.decode()
