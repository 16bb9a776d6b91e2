"""Real servers on 127.0.0.1 for the MQL5 functions: TLS (trustme), HTTP, FTP (pyftpdlib),
SMTP (aiosmtpd) and a JSON webhook for apprise. Each runs in a thread of the test process."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

from tradewire.config import Mql5Settings, parse_section
from tradewire.mql5 import NetworkContext, use_context


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture(scope="session")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def make_context(tmp_path: Path, ca_file: Path) -> Iterator[Callable[..., NetworkContext]]:
    """``make_context(allow=[...], mail={...}, ...)``: a context made current for the test."""
    made: list[NetworkContext] = []

    def make(**section: Any) -> NetworkContext:
        section.setdefault("ca_file", str(ca_file))
        settings = parse_section(section, Mql5Settings, "test")
        context = use_context(NetworkContext(settings, base_dir=tmp_path))
        made.append(context)
        return context

    yield make
    for context in made:
        context.close()


@dataclass
class TlsServer:
    port: int
    received: list[bytes] = field(default_factory=list)


@pytest.fixture
def tls_server(server_cert: trustme.LeafCert) -> Iterator[TlsServer]:
    """Accepts TLS connections; sends b"hello over tls\\n", then echoes what it reads."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    listener = socket.create_server(("127.0.0.1", 0))
    server = TlsServer(listener.getsockname()[1])
    stop = threading.Event()

    def serve_one(conn: socket.socket) -> None:
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"hello over tls\n")
                while data := tls.recv(65536):
                    server.received.append(data)
                    tls.sendall(data)
        except (OSError, ssl.SSLError):
            pass

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve_one, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server
    stop.set()
    thread.join()
    listener.close()


@dataclass
class Http:
    base: str
    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _record(self, body: bytes) -> None:
        self.requests.append(
            {
                "method": self.command,
                "path": self.path,
                "body": body,
                "headers": dict(self.headers.items()),
            }
        )

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._record(b"")
        self._route()

    def do_POST(self) -> None:
        self._record(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        self._route()

    def _route(self) -> None:
        if self.path == "/echo":
            last = self.requests[-1]
            self._reply(
                200,
                json.dumps({**last, "body": last["body"].decode()}).encode(),
                {"Content-Type": "application/json"},
            )
        elif self.path == "/missing":
            self._reply(404, b"not here")
        elif self.path == "/moved":
            self._reply(301, b"", {"Location": "/echo"})
        elif self.path == "/login":
            self._reply(302, b"", {"Location": "/echo", "Set-Cookie": "session=abc123; Path=/"})
        elif self.path == "/slow":
            threading.Event().wait(2.0)
            self._reply(200, b"late")
        elif self.path.startswith("/hook"):
            self._reply(200, b"{}")
        else:
            self._reply(500, b"no route")


@pytest.fixture
def http_server() -> Iterator[Http]:
    requests: list[dict[str, Any]] = []
    handler = type("Handler", (_Handler,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Http(f"http://127.0.0.1:{server.server_address[1]}", requests)
    server.shutdown()
    server.server_close()
    thread.join()
