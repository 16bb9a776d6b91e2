"""``tradewire serve --workers 2``: two hub processes on one port with an embedded nats-server.
Connections spread over both; a state published through one reaches followers on both; a
worker killed with -9 is started again; SIGTERM stops everything with exit 0."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from pathlib import Path

import trustme

TRADEWIRE = str(Path(sys.executable).parent / "tradewire")
PASSWORD = "workers-password"


def children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(p) for p in text.split()]


def workers_of(supervisor: int) -> list[int]:
    """The hub workers (the embedded nats-server runs in a session of its own)."""
    return [
        p
        for p in children(supervisor)
        if "nats-server" not in Path(f"/proc/{p}/cmdline").read_text()
    ]


def listeners(port: int) -> int:
    wanted = f":{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(wanted) and r.split()[3] == "0A")


def sockets(pid: int) -> int:
    fds = Path(f"/proc/{pid}/fd")
    return sum(1 for fd in fds.iterdir() if os.readlink(fd).startswith("socket:"))


class Client:
    def __init__(self, port: int, user: str, source: str = "127.0.0.1") -> None:
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=10, source_address=(source, 0)
        )
        self.lines = self.sock.makefile("rb")
        self.send({"t": "hello", "v": 1, "user": user, "password": PASSWORD})
        assert self.recv()["t"] == "welcome"

    def send(self, frame: dict[str, object]) -> None:
        self.sock.sendall(json.dumps(frame).encode() + b"\n")

    def recv(self) -> dict[str, object]:
        while True:
            frame: dict[str, object] = json.loads(self.lines.readline())
            if frame["t"] != "ping":
                return frame


def test_two_workers_share_one_port_and_every_channel(tmp_path: Path) -> None:
    for user, role in (("alice", "provider"), ("bob", "follower")):
        subprocess.run(
            [TRADEWIRE, "user", "add", user, "--role", role, "--channel", "alpha"],
            cwd=tmp_path, input=PASSWORD, text=True, check=True, capture_output=True,
        )  # fmt: skip
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--workers", "2", "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hub.stdout is not None
    found = re.search(r":(\d+)\s*$", hub.stdout.readline())
    assert found
    port = int(found.group(1))
    try:
        banner = [hub.stdout.readline() for _ in range(3)]  # the rest of the banner
        assert listeners(port) == 2
        # The embedded NATS takes only the workers (a token they get in their environment).
        (nats_line,) = [line for line in banner if line.startswith("NATS at")]
        nats_port = int(re.search(r":(\d+) \(embedded", nats_line).group(1))  # type: ignore[union-attr]
        with socket.create_connection(("127.0.0.1", nats_port), timeout=5) as probe:
            assert b'"auth_required":true' in probe.recv(4096)
        for pid in workers_of(hub.pid):  # and it is not on their command line
            assert b"nats://" not in Path(f"/proc/{pid}/cmdline").read_bytes()
        workers = workers_of(hub.pid)
        before = {pid: sockets(pid) for pid in workers}
        # From 16 addresses: the workers take each address's connections by its source.
        followers = [Client(port, "bob", f"127.0.0.{n + 1}") for n in range(16)]
        for follower in followers:
            follower.send({"t": "sub", "id": 1, "ch": "alpha"})
            assert follower.recv()["t"] == "ack"
        # Both workers took connections (the odd addresses and the even ones).
        assert all(sockets(pid) > before[pid] for pid in workers), (before, workers)
        provider = Client(port, "alice")
        provider.send({"t": "state", "id": 7, "ch": "alpha", "ts": 1, "positions": [],
                       "account": {"login": "1", "currency": "USD", "balance": 1.0,
                                   "equity": 1.0, "leverage": 100, "mode": "hedging"}})  # fmt: skip
        assert provider.recv() == {"t": "ack", "re": 7, "seq": 1}
        for follower in followers:
            state = follower.recv()
            assert state["t"] == "state" and state["seq"] == 1
        # kill -9 of a worker: the supervisor starts another in its place.
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not (len(workers_of(hub.pid)) == 2 and workers[0] not in workers_of(hub.pid)
                   and listeners(port) == 2):  # fmt: skip
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        late = Client(port, "bob")  # wherever it lands, it gets the latest state
        late.send({"t": "sub", "id": 1, "ch": "alpha"})
        assert late.recv()["t"] == "ack" and late.recv()["seq"] == 1
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0
    assert listeners(port) == 0


def test_workers_share_a_tls_port(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "server.key"))
    (tmp_path / "hub.toml").write_text('[tls]\ncert = "server.pem"\nkey = "server.key"\n')
    subprocess.run(
        [TRADEWIRE, "user", "add", "bob", "--role", "follower"],
        cwd=tmp_path, input=PASSWORD, text=True, check=True, capture_output=True,
    )  # fmt: skip
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--workers", "2", "--port", "0", "--config", "hub.toml"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hub.stdout is not None
    first = hub.stdout.readline()
    found = re.search(r"tls://127.0.0.1:(\d+)\s*$", first)
    assert found, first
    port = int(found.group(1))
    try:
        assert listeners(port) == 2
        context = ssl.create_default_context()
        ca.configure_trust(context)
        for _ in range(6):  # over both workers, most likely
            raw = socket.create_connection(("127.0.0.1", port), timeout=10)
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                hello = {"t": "hello", "v": 1, "user": "bob", "password": PASSWORD}
                tls.sendall(json.dumps(hello).encode() + b"\n")
                assert b"welcome" in tls.makefile("rb").readline()
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0


def test_one_address_meets_one_worker_so_it_gets_five_checks(tmp_path: Path) -> None:
    """Issue 26, item 15: with two workers one address got 10 password checks (5 from each),
    and its first ban was recorded as offense 2. Connections are steered by source address:
    40 wrong hellos at once from one address get 5 checks and one ban, offense 1."""
    subprocess.run(
        [TRADEWIRE, "user", "add", "bob", "--role", "follower"],
        cwd=tmp_path, input=PASSWORD, text=True, check=True, capture_output=True,
    )  # fmt: skip
    hub = subprocess.Popen(
        [TRADEWIRE, "serve", "--workers", "2", "--port", "0"],
        cwd=tmp_path, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert hub.stdout is not None
    found = re.search(r":(\d+)\s*$", hub.stdout.readline())
    assert found
    port = int(found.group(1))
    try:
        socks = [
            socket.create_connection(
                ("127.0.0.1", port), timeout=10, source_address=("127.0.0.9", 0)
            )
            for _ in range(40)
        ]
        for n, sock in enumerate(socks):
            hello = {"t": "hello", "v": 1, "user": "bob", "password": f"guess-{n}"}
            sock.sendall(json.dumps(hello).encode() + b"\n")
        codes = [json.loads(sock.makefile("rb").readline())["code"] for sock in socks]
        for sock in socks:
            sock.close()
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(timeout=30) == 0
    with sqlite3.connect(tmp_path / "tradewire-data" / "state.db") as conn:
        checks = conn.execute(
            "SELECT count(*) FROM audit WHERE event = 'login_failed' AND address = '127.0.0.9'"
        ).fetchone()[0]
        bans = conn.execute("SELECT address, offenses FROM bans").fetchall()
    assert (codes.count("auth_failed"), codes.count("banned")) == (5, 35), codes
    assert checks == 5 and bans == [("127.0.0.9", 1)], (checks, bans)
