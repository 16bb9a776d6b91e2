"""Shared fixtures: a real hub on 127.0.0.1 port 0 with its data in tmp_path, users, raw clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
import uvloop

from tests.needs import missing
from tests.pg import Postgres, binaries
from tradewire.bus.nats_server import NatsServer, free_port
from tradewire.config import AuthSettings, Config, HubSettings
from tradewire.hub.server import Hub
from tradewire.store.db import StateDB
from tradewire.store.passwords import Passwords

# Cheap argon2 for tests: the cost is a setting, the code path is the same.
FAST_AUTH = AuthSettings(argon2_time_cost=1, argon2_memory_kib=1024, argon2_parallelism=1)
PASSWORD = "correct horse battery"


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    """Run every async test on uvloop, the loop the hub runs on in production."""
    return {"uvloop": uvloop.new_event_loop}


SECTIONS = (
    "tls",
    "history",
    "ban",
    "listeners",
    "files",
    "relay",
    "sentiment",
    "topics",
    "jobs",
    "web",
    "limits",
    "nats",
    "ticks",
)


def make_config(**hub: Any) -> Config:
    """A config for tests: ``hub`` settings, plus whole sections by name (``relay=…``)."""
    sections = {k: hub.pop(k) for k in SECTIONS if k in hub}
    settings = HubSettings(**{"host": "127.0.0.1", "port": 0, **hub})
    return Config(hub=settings, auth=FAST_AUTH, **sections)


def add_user(
    data_dir: Path,
    name: str,
    role: str,
    channels: list[str] | tuple[str, ...] = (),
    password: str = PASSWORD,
) -> None:
    db = StateDB(data_dir)
    try:
        db.add_user(name, Passwords(FAST_AUTH).hash(password), role, channels, 0)
    finally:
        db.close()


def grant(data_dir: Path, user: str, *grants: str) -> None:
    """Give ``user`` more grants (channels, ``relay:USER``, ``topic:PATTERN``)."""
    db = StateDB(data_dir)
    try:
        db.change_user(user, 0, "user_grant", by="test", grant=grants, revoke=())
    finally:
        db.close()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    add_user(path, "alice", "provider", ["alpha"])
    add_user(path, "carol", "provider", ["beta"])
    add_user(path, "bob", "follower", ["alpha"])
    add_user(path, "root", "admin")
    return path


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def start_hub(data_dir: Path) -> AsyncIterator[HubFactory]:
    """``await start_hub(**hub_settings)`` starts a hub on the test's data directory."""
    hubs: list[Hub] = []

    async def start(config: Config | None = None, **hub: Any) -> Hub:
        instance = Hub(config or make_config(**hub), data_dir)
        await instance.start()
        hubs.append(instance)
        return instance

    yield start
    for instance in hubs:
        await instance.stop()


class Raw:
    """A raw-socket client speaking NDJSON, the way an MQL5 program would."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(
        cls, hub: Hub | tuple[str, int], local_host: str | None = None, **kwargs: Any
    ) -> Raw:
        host, port = hub.addresses[0] if isinstance(hub, Hub) else hub
        local = (local_host, 0) if local_host else None
        reader, writer = await asyncio.open_connection(
            host, port, local_addr=local, limit=2**24, **kwargs
        )
        return cls(reader, writer)

    def send(self, frame: dict[str, Any] | bytes) -> None:
        self.writer.write(frame if isinstance(frame, bytes) else msgspec.json.encode(frame) + b"\n")

    async def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        if not line:
            raise EOFError("connection closed by the hub")
        result: dict[str, Any] = msgspec.json.decode(line)
        return result

    async def closed(self, timeout: float = 5.0) -> bool:
        """True when the hub closes the connection within ``timeout`` (other data discarded),
        False when it is still open then."""
        try:
            async with asyncio.timeout(timeout):
                while await self.reader.read(65536):
                    pass
        except (ConnectionResetError, BrokenPipeError):
            return True
        except TimeoutError:
            return False
        return True

    async def login(self, user: str, password: str = PASSWORD, **extra: Any) -> dict[str, Any]:
        self.send({"t": "hello", "v": 1, "user": user, "password": password, **extra})
        return await self.recv()

    def close(self) -> None:
        self.writer.close()


async def logged_in(hub: Hub, user: str, **kwargs: Any) -> Raw:
    raw = await Raw.connect(hub, **kwargs)
    welcome = await raw.login(user)
    assert welcome["t"] == "welcome", welcome
    return raw


def state_frame(ch: str = "alpha", n: int = 1, positions: int = 1, **extra: Any) -> dict[str, Any]:
    """A valid provider state whose first position's volume encodes ``n``."""
    return {
        "t": "state",
        "ch": ch,
        "ts": 1_700_000_000_000 + n,
        "account": {
            "login": "5012345",
            "currency": "USD",
            "balance": 10000.0,
            "equity": 10012.5,
            "leverage": 100,
            "mode": "hedging",
        },
        "positions": [
            {
                "id": str(9000 + i),
                "symbol": "EURUSD",
                "side": "buy",
                "volume": round(0.01 * n + i, 2),
                "price": 1.08345,
                "time": 1_700_000_000_000,
            }
            for i in range(positions)
        ],
        **extra,
    }


def article_state() -> dict[str, Any]:
    """The article's example: GBPUSD net +0.25 (0.35 bought, 0.10 sold), EURUSD -0.10."""
    frame = state_frame()
    frame["positions"] = [
        {"id": "1", "symbol": "GBPUSD", "side": "buy", "volume": 0.35, "price": 1.26, "time": 1},
        {"id": "2", "symbol": "GBPUSD", "side": "sell", "volume": 0.1, "price": 1.27, "time": 2},
        {"id": "3", "symbol": "EURUSD", "side": "sell", "volume": 0.1, "price": 1.08, "time": 3},
    ]
    return frame


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsServer]:
    """A real nats-server with JetStream on a free port, its store in tmp_path."""
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One real PostgreSQL for the whole run (databases are per test: ``postgres``)."""
    if binaries() is None:
        missing("PostgreSQL is not installed here: run `make test`, which installs it")
    server = Postgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres(postgres_server: Postgres) -> str:
    """The URL of a new, empty database on the test PostgreSQL."""
    return postgres_server.new_database()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[NatsServer]]:
    """Three nats-servers with JetStream forming one cluster (routes to each other)."""
    cluster_ports = [free_port() for _ in range(3)]
    servers = [
        NatsServer(
            tmp_path / f"nats{i}",
            name=f"n{i}",
            cluster_port=cluster_ports[i],
            routes=[p for p in cluster_ports if p != cluster_ports[i]],
        )
        for i in range(3)
    ]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()
