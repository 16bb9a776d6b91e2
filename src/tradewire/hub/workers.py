"""``tradewire serve --workers N``: N hub processes of one machine on one port (docs/scaling.md).

The supervisor holds the data directory's lock, starts an embedded ``nats-server`` (under
``<data>/nats``) unless ``[nats]`` names servers, and runs N ``tradewire serve --worker K``
processes. Each listens on the same port with ``SO_REUSEPORT`` (the kernel spreads connections
over them), shares users, bans and the audit log through the data directory's SQLite files,
and channels, topics, live ticks, bans and the relay through NATS. A worker or the embedded
NATS that dies is started again; SIGINT or SIGTERM stops the workers (each says ``bye`` to its
clients and flushes), then NATS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from tradewire.bus.nats import shown
from tradewire.bus.nats_server import NatsServer, die_with_parent
from tradewire.config import Config
from tradewire.exceptions import ConfigError
from tradewire.store.private import DataLock, private_dir

log = logging.getLogger(__name__)

READY_S = 60.0  # a worker that has not printed its listeners by then failed to start
BANNER = "tradewire hub listening on "


class Supervisor:
    def __init__(
        self,
        config: Config,
        config_path: Path | None,
        data_dir: Path,
        workers: int,
        log_options: list[str] | None = None,
    ) -> None:
        self.config, self.config_path, self.data_dir = config, config_path, data_dir
        self.log_options = log_options or []  # the workers log as the supervisor was told
        self.count = workers
        self.lock = DataLock(data_dir)
        self.nats: NatsServer | None = None
        self.servers = list(config.nats.servers)
        self.port = config.hub.port
        self.procs: list[subprocess.Popen[str] | None] = [None] * workers
        self.banner: list[str] = []
        self._stop = threading.Event()
        self._reserved: socket.socket | None = None

    def run(self) -> None:
        """Start everything, print the banner, supervise until a signal, stop everything."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._stop.set())
        private_dir(self.data_dir)
        self.lock.acquire()
        try:
            self._start()
            for line in self.banner:
                print(line, flush=True)
            self._watch()
        finally:
            self._shutdown()

    def _start(self) -> None:
        if not self.servers:  # embedded: only clients with the token get in (a local user
            # could otherwise publish users to the hubs); the workers get it in their environment
            self.nats = NatsServer(self.data_dir / "nats", token=secrets.token_urlsafe(24))
            self.nats.start()
            self.servers = [self.nats.client_url]
        if self.port == 0:  # one port for all: held (bound, not listening) while they start
            self._reserved = socket.socket()
            self._reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            self._reserved.bind((self.config.hub.host, 0))
            self.port = self._reserved.getsockname()[1]
        for index in range(self.count):
            lines = self._spawn(index)
            if index == 0:
                self.banner = [*lines[:-1], f"{self.count} worker processes on port {self.port}"]
        where = "embedded, " + str(self.data_dir / "nats") if self.nats else "external"
        self.banner.append(f"NATS at {shown(self.servers)} ({where})")
        self.banner.append(f"data in {self.data_dir}; Ctrl-C to stop")

    def _command(self, index: int) -> list[str]:
        command = [
            sys.executable,
            "-c",
            "from tradewire.cli.main import main; main()",
            *self.log_options,
            "serve",
            "--data",
            str(self.data_dir),
            "--host",
            self.config.hub.host,
            "--port",
            str(self.port),
            "--worker",
            str(index),
            "--worker-count",
            str(self.count),
        ]
        if self.config_path is not None:
            command += ["--config", str(self.config_path)]
        return command

    def _spawn(self, index: int) -> list[str]:
        """Start worker ``index``; returns its banner once it listens."""
        # The NATS URLs go in the environment: a token in argv would show in `ps`.
        env = {**os.environ, "TRADEWIRE_NATS": ",".join(self.servers)}
        proc = subprocess.Popen(
            self._command(index),
            env=env,
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent,
        )
        self.procs[index] = proc
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                raise ConfigError(f"worker {index} exited at start ({proc.wait()}); see above")
            lines.append(line.rstrip("\n"))
            if line.startswith("data in "):
                _drain(proc.stdout)
                return lines
        raise ConfigError(f"worker {index} did not start within {READY_S:g} s")

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            if self.nats is not None and self.nats.process and self.nats.process.poll() is not None:
                log.error("the embedded nats-server stopped; starting it again")
                self.nats.start()
            for index, proc in enumerate(self.procs):
                if proc is not None and proc.poll() is not None and not self._stop.is_set():
                    log.error("worker %d stopped (%s); starting it again", index, proc.returncode)
                    with contextlib.suppress(ConfigError):
                        self._spawn(index)

    def _shutdown(self) -> None:
        alive = [p for p in self.procs if p is not None and p.poll() is None]
        for proc in alive:
            proc.send_signal(signal.SIGTERM)
        for proc in alive:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.nats is not None:
            self.nats.stop()
        if self._reserved is not None:
            self._reserved.close()
        self.lock.release()


def _drain(stream: IO[str]) -> None:
    """Read what a worker prints after its banner (so it never blocks on a full pipe)."""
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
