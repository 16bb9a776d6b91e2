"""Socket functions against real servers on 127.0.0.1 (plain TCP and TLS with a trustme CA)."""

from __future__ import annotations

import datetime
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import trustme
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.mql5.conftest import TlsServer
from tradewire.mql5 import (
    ERR_FUNCTION_NOT_ALLOWED,
    ERR_INVALID_PARAMETER,
    ERR_NETSOCKET_CANNOT_CONNECT,
    ERR_NETSOCKET_HANDSHAKE_FAILED,
    ERR_NETSOCKET_INVALIDHANDLE,
    ERR_NETSOCKET_IO_ERROR,
    ERR_NETSOCKET_NO_CERTIFICATE,
    ERR_NETSOCKET_TOO_MANY_OPENED,
    GetLastError,
    NetworkContext,
    ResetLastError,
    SocketClose,
    SocketConnect,
    SocketCreate,
    SocketIsConnected,
    SocketIsReadable,
    SocketIsWritable,
    SocketRead,
    SocketSend,
    SocketTimeouts,
    SocketTlsCertificate,
    SocketTlsHandshake,
    SocketTlsRead,
    SocketTlsReadAvailable,
    SocketTlsSend,
)

MakeContext = Callable[..., NetworkContext]


class Peer:
    """A plain TCP server that hands each accepted connection to the test."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.connections = 0

    def accept(self) -> socket.socket:
        conn, _ = self.listener.accept()
        self.accepted.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.accepted:
            conn.close()
        self.listener.close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    server = Peer()
    yield server
    server.close()


def connected(peer: Peer) -> tuple[int, socket.socket]:
    handle = SocketCreate()
    assert SocketConnect(handle, "127.0.0.1", peer.port, 1000), GetLastError()
    return handle, peer.accept()


def test_send_and_read_with_partial_reads(make_context: MakeContext, peer: Peer) -> None:
    make_context(allow=[f"127.0.0.1:{peer.port}"])
    handle, conn = connected(peer)
    assert SocketIsConnected(handle) and SocketIsWritable(handle)
    assert SocketSend(handle, b"ping\0junk", 4) == 4
    assert conn.recv(100) == b"ping"
    conn.sendall(b"0123456789")
    deadline = time.monotonic() + 2
    while SocketIsReadable(handle) < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert SocketIsReadable(handle) == 10
    buffer = bytearray(b">")
    assert SocketRead(handle, buffer, 4, 500) == 4  # the rest stays for the next call
    assert SocketRead(handle, buffer, 100, 200) == 6  # fewer than asked: what arrived
    assert buffer == b">0123456789"
    assert SocketClose(handle)


def test_read_timeout_with_nothing_keeps_the_connection(
    make_context: MakeContext, peer: Peer
) -> None:
    make_context(allow=["127.0.0.1"])
    handle, conn = connected(peer)
    started = time.monotonic()
    ResetLastError()
    assert SocketRead(handle, bytearray(), 10, 150) == -1
    assert 0.14 <= time.monotonic() - started < 1.0
    assert GetLastError() == ERR_NETSOCKET_IO_ERROR
    conn.sendall(b"late")
    buffer = bytearray()
    assert SocketRead(handle, buffer, 4, 1000) == 4 and buffer == b"late"


def test_read_after_peer_closed(make_context: MakeContext, peer: Peer) -> None:
    make_context(allow=["127.0.0.1"])
    handle, conn = connected(peer)
    conn.sendall(b"bye")
    conn.close()
    buffer = bytearray()
    assert SocketRead(handle, buffer, 100, 500) == 3
    ResetLastError()
    assert SocketRead(handle, buffer, 100, 500) == -1
    assert GetLastError() == ERR_NETSOCKET_IO_ERROR
    assert not SocketIsConnected(handle)
    assert SocketSend(handle, b"x", 1) == -1
    assert SocketClose(handle)


def test_invalid_handles_and_arguments(make_context: MakeContext, peer: Peer) -> None:
    make_context(allow=["127.0.0.1"])
    for call in (
        lambda: SocketClose(999),
        lambda: SocketSend(999, b"x", 1),
        lambda: SocketIsConnected(999),
        lambda: SocketRead(999, bytearray(), 1, 1),
    ):
        ResetLastError()
        assert call() in (False, -1)
        assert GetLastError() == ERR_NETSOCKET_INVALIDHANDLE
    handle = SocketCreate()
    assert SocketClose(handle)
    ResetLastError()
    assert not SocketClose(handle)  # a closed handle is invalid afterwards
    assert GetLastError() == ERR_NETSOCKET_INVALIDHANDLE
    handle, _ = connected(peer)
    ResetLastError()
    assert SocketSend(handle, b"abc", 4) == -1  # longer than the buffer
    assert GetLastError() == ERR_INVALID_PARAMETER
    ResetLastError()
    assert SocketRead(handle, bytearray(), 0, 10) == -1
    assert GetLastError() == ERR_INVALID_PARAMETER


def test_128_sockets_then_5271(make_context: MakeContext) -> None:
    make_context()
    handles = [SocketCreate() for _ in range(128)]
    assert all(h >= 1 for h in handles) and len(set(handles)) == 128
    ResetLastError()
    assert SocketCreate() == -1
    assert GetLastError() == ERR_NETSOCKET_TOO_MANY_OPENED
    assert SocketClose(handles[0])
    assert SocketCreate() >= 1


def test_unlisted_address_fails_before_any_traffic(
    make_context: MakeContext, peer: Peer, caplog: pytest.LogCaptureFixture
) -> None:
    make_context(allow=["127.0.0.1:1", "example.org"])
    peer.listener.settimeout(0.3)
    handle = SocketCreate()
    with caplog.at_level(logging.WARNING, "tradewire.mql5"):
        assert not SocketConnect(handle, "127.0.0.1", peer.port, 1000)
    assert GetLastError() == ERR_NETSOCKET_CANNOT_CONNECT
    assert f"127.0.0.1:{peer.port}" in caplog.text and "allow-list" in caplog.text
    with pytest.raises(TimeoutError):
        peer.accept()  # nothing ever connected


def test_connect_refused_and_timeout(make_context: MakeContext) -> None:
    make_context(allow=["127.0.0.1"])
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    ResetLastError()
    assert not SocketConnect(SocketCreate(), "127.0.0.1", port, 500)
    assert GetLastError() == ERR_NETSOCKET_CANNOT_CONNECT
    full = socket.socket()  # a listener whose backlog is full drops further SYNs
    full.bind(("127.0.0.1", 0))
    full.listen(0)
    first = socket.create_connection(full.getsockname())
    started = time.monotonic()
    ResetLastError()
    assert not SocketConnect(SocketCreate(), "127.0.0.1", full.getsockname()[1], 200)
    assert 0.19 <= time.monotonic() - started < 2.0
    assert GetLastError() == ERR_NETSOCKET_CANNOT_CONNECT
    first.close()
    full.close()


def test_tls_handshake_certificate_and_data(
    make_context: MakeContext, tls_server: TlsServer, server_cert: trustme.LeafCert
) -> None:
    make_context(allow=[f"localhost:{tls_server.port}"])
    handle = SocketCreate()
    assert SocketConnect(handle, "localhost", tls_server.port, 1000)
    ResetLastError()
    assert not SocketTlsCertificate(handle).ok  # plain socket so far
    assert GetLastError() == ERR_NETSOCKET_NO_CERTIFICATE
    assert SocketTimeouts(handle, 1000, 1000)
    assert SocketTlsHandshake(handle, "localhost"), GetLastError()
    cert = x509.load_pem_x509_certificate(server_cert.cert_chain_pems[0].bytes())
    ok, subject, issuer, serial, thumbprint, expiration = SocketTlsCertificate(handle)
    assert ok
    for attribute in cert.subject:
        assert f"={attribute.value}" in subject
    assert cert.issuer.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value in issuer
    assert int(serial, 16) == cert.serial_number
    der = cert.public_bytes(
        encoding=__import__(
            "cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]
        ).Encoding.DER
    )
    assert thumbprint == hashlib.sha1(der).hexdigest().upper()
    assert expiration == int(cert.not_valid_after_utc.replace(tzinfo=datetime.UTC).timestamp())
    greeting = bytearray()
    assert SocketTlsRead(handle, greeting, 15) == 15 and greeting == b"hello over tls\n"
    assert SocketTlsReadAvailable(handle, bytearray(), 100) == 0  # nothing yet, no wait
    assert SocketTlsSend(handle, b"echo me", 7) == 7
    echoed = bytearray()
    deadline = time.monotonic() + 2
    while len(echoed) < 7 and time.monotonic() < deadline:
        SocketTlsReadAvailable(handle, echoed, 100)
    assert echoed == b"echo me"


def test_tls_read_available_never_blocks(make_context: MakeContext, tls_server: TlsServer) -> None:
    make_context(allow=["localhost"])
    handle = SocketCreate()
    assert SocketConnect(handle, "localhost", tls_server.port, 1000)
    assert SocketTlsHandshake(handle, "localhost")
    SocketTlsRead(handle, bytearray(), 15)
    started = time.monotonic()
    for _ in range(100):
        assert SocketTlsReadAvailable(handle, bytearray(), 100) == 0
    assert time.monotonic() - started < 0.5


def test_tls_wrong_host_name_fails_verification(
    make_context: MakeContext, tls_server: TlsServer
) -> None:
    make_context(allow=["127.0.0.1"])
    handle = SocketCreate()
    assert SocketConnect(handle, "127.0.0.1", tls_server.port, 1000)
    ResetLastError()
    assert not SocketTlsHandshake(handle, "wrong.example")
    assert GetLastError() == ERR_NETSOCKET_HANDSHAKE_FAILED


def test_auto_tls_on_the_tls_port(make_context: MakeContext, tls_server: TlsServer) -> None:
    make_context(allow=["localhost"], tls_ports=[tls_server.port])
    handle = SocketCreate()
    assert SocketConnect(handle, "localhost", tls_server.port, 1000), GetLastError()
    assert SocketTlsCertificate(handle).ok
    buffer = bytearray()
    # Decision: SocketRead on a TLS socket reads decrypted bytes (docs/mql5.md).
    assert SocketRead(handle, buffer, 15, 1000) == 15 and buffer == b"hello over tls\n"


def test_plain_socket_refuses_tls_calls(make_context: MakeContext, peer: Peer) -> None:
    make_context(allow=["127.0.0.1"])
    handle, _ = connected(peer)
    ResetLastError()
    assert SocketTlsSend(handle, b"x", 1) == -1
    assert GetLastError() == ERR_INVALID_PARAMETER


def test_last_error_is_per_thread(make_context: MakeContext) -> None:
    make_context()
    ResetLastError()
    seen: list[int] = []

    def other() -> None:
        SocketClose(12345)
        seen.append(GetLastError())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen == [ERR_NETSOCKET_INVALIDHANDLE]
    assert GetLastError() == 0
    assert ERR_FUNCTION_NOT_ALLOWED == 4014
