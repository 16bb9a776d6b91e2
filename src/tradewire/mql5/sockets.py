"""Client TCP sockets with MQL5 semantics: handles, timeouts, TLS, at most 128 per program.

Every socket is non-blocking underneath; each call waits with ``poll`` up to its own deadline,
so a timeout never leaves a half-done operation in the kernel. Failures raise; the facade turns
them into error codes (:mod:`tradewire.mql5.errors`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import select
import socket
import ssl
import struct
import termios
import time
from dataclasses import dataclass
from typing import cast

from tradewire.allowlist import AllowList
from tradewire.exceptions import Mql5Error
from tradewire.mql5.errors import (
    ERR_NETSOCKET_CANNOT_CONNECT,
    ERR_NETSOCKET_INVALIDHANDLE,
    ERR_NETSOCKET_IO_ERROR,
    ERR_NETSOCKET_NO_CERTIFICATE,
    ERR_NETSOCKET_TOO_MANY_OPENED,
)

MAX_SOCKETS = 128
DEFAULT_READ_TIMEOUT_MS = 120_000  # SocketRead's timeout_ms=0


@dataclass(slots=True)
class NetSocket:
    raw: socket.socket | None = None
    tls: ssl.SSLSocket | None = None
    send_timeout_s: float | None = None
    recv_timeout_s: float | None = None
    broken: bool = False

    @property
    def stream(self) -> socket.socket:
        """The socket to read and write through: TLS once handshaken, else the plain one."""
        current = self.tls or self.raw
        if current is None or self.broken:
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "the socket is not connected")
        return current


def _deadline(timeout_s: float | None) -> float | None:
    return None if timeout_s is None else time.monotonic() + timeout_s


def _wait(sock: socket.socket, events: int, deadline: float | None) -> bool:
    """Wait until ``sock`` is ready for ``events`` or the deadline passes (False)."""
    poller = select.poll()
    poller.register(sock, events)
    while True:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if poller.poll(None if left is None else left * 1000):
            return True
        if left is not None and left <= 0:
            return False


def _name_fields(name: object) -> str:
    """OpenSSL-style ``C=US, O=..., CN=...`` from ``getpeercert()``'s nested tuples."""
    short = {
        "commonName": "CN",
        "organizationName": "O",
        "organizationalUnitName": "OU",
        "countryName": "C",
        "localityName": "L",
        "stateOrProvinceName": "ST",
    }
    rdns = cast(tuple[tuple[tuple[str, str], ...], ...], name)
    return ", ".join(f"{short.get(k, k)}={v}" for rdn in rdns for k, v in rdn)


@dataclass(frozen=True, slots=True)
class Certificate:
    subject: str
    issuer: str
    serial: str
    thumbprint: str  # SHA-1 of the DER certificate, upper-case hex
    expiration: int  # Unix seconds (MQL5 datetime)


class SocketTable:
    """The open sockets of one program (a :class:`NetworkContext`)."""

    def __init__(self, allow: AllowList, tls_context: ssl.SSLContext, tls_ports: list[int]) -> None:
        self._allow = allow
        self._tls_context = tls_context
        self._tls_ports = set(tls_ports)
        self._open: dict[int, NetSocket] = {}
        self._next = 1

    def create(self) -> int:
        if len(self._open) >= MAX_SOCKETS:
            raise Mql5Error(
                ERR_NETSOCKET_TOO_MANY_OPENED, f"{MAX_SOCKETS} sockets are open; close one first"
            )
        handle, self._next = self._next, self._next + 1
        self._open[handle] = NetSocket()
        return handle

    def get(self, handle: int) -> NetSocket:
        found = self._open.get(handle)
        if found is None:
            raise Mql5Error(ERR_NETSOCKET_INVALIDHANDLE, f"{handle} is not an open socket handle")
        return found

    def close(self, handle: int) -> None:
        sock = self._open.pop(handle, None)
        if sock is None:
            raise Mql5Error(ERR_NETSOCKET_INVALIDHANDLE, f"{handle} is not an open socket handle")
        for each in (sock.tls, sock.raw):
            if each is not None:
                each.close()

    def close_all(self) -> None:
        for handle in list(self._open):
            self.close(handle)

    def connect(self, handle: int, host: str, port: int, timeout_ms: int) -> None:
        sock = self.get(handle)
        if sock.raw is not None:
            raise Mql5Error(ERR_NETSOCKET_CANNOT_CONNECT, "the socket is already connected")
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is out of range")
        self._allow.check_socket(host, port)
        deadline = _deadline(timeout_ms / 1000 if timeout_ms > 0 else None)
        last: OSError = OSError(errno.EHOSTUNREACH, f"{host} has no address")
        for family, kind, proto, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        ):
            raw = socket.socket(family, kind, proto)
            raw.setblocking(False)
            code = raw.connect_ex(address)
            if code == errno.EINPROGRESS and _wait(raw, select.POLLOUT, deadline):
                code = raw.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            elif code == errno.EINPROGRESS:
                code = errno.ETIMEDOUT
            if code == 0:
                raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.raw = raw
                break
            raw.close()
            last = OSError(code, f"cannot connect to {host}:{port}: {errno.errorcode.get(code)}")
        else:
            raise last
        if port in self._tls_ports:
            self.handshake(handle, host)

    def handshake(self, handle: int, host: str) -> None:
        sock = self.get(handle)
        if sock.raw is None or sock.tls is not None:
            raise Mql5Error(5274, "TLS needs a connected socket without TLS")
        tls = self._tls_context.wrap_socket(
            sock.raw, server_hostname=host, do_handshake_on_connect=False
        )
        deadline = _deadline(sock.recv_timeout_s)
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                ready = _wait(tls, select.POLLIN, deadline)
            except ssl.SSLWantWriteError:
                ready = _wait(tls, select.POLLOUT, deadline)
            if not ready:
                raise TimeoutError("TLS handshake timed out")
        sock.tls = tls

    def certificate(self, handle: int) -> Certificate:
        sock = self.get(handle)
        if sock.tls is None:
            raise Mql5Error(ERR_NETSOCKET_NO_CERTIFICATE, "the socket does not use TLS")
        der = sock.tls.getpeercert(binary_form=True)
        info = sock.tls.getpeercert()
        if not der or not info:
            raise Mql5Error(ERR_NETSOCKET_NO_CERTIFICATE, "the server sent no certificate")
        return Certificate(
            subject=_name_fields(info["subject"]),
            issuer=_name_fields(info["issuer"]),
            serial=str(info["serialNumber"]),
            thumbprint=hashlib.sha1(der).hexdigest().upper(),
            expiration=int(ssl.cert_time_to_seconds(str(info["notAfter"]))),
        )

    def timeouts(self, handle: int, send_ms: int, recv_ms: int) -> None:
        sock = self.get(handle)
        sock.send_timeout_s = send_ms / 1000 if send_ms > 0 else None
        sock.recv_timeout_s = recv_ms / 1000 if recv_ms > 0 else None

    def is_connected(self, handle: int) -> bool:
        sock = self.get(handle)
        if sock.raw is None or sock.broken:
            return False
        if sock.tls is None:
            try:
                if sock.raw.recv(1, socket.MSG_PEEK) == b"":
                    return False
            except BlockingIOError:
                pass
            except OSError:
                return False
        return True

    def readable(self, handle: int) -> int:
        raw = self.get(handle).raw
        if raw is None:
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "the socket is not connected")
        count = fcntl.ioctl(raw.fileno(), termios.FIONREAD, struct.pack("i", 0))
        return int(struct.unpack("i", count)[0])

    def writable(self, handle: int) -> bool:
        stream = self.get(handle).stream
        return _wait(stream, select.POLLOUT, time.monotonic()) and not stream.getsockopt(
            socket.SOL_SOCKET, socket.SO_ERROR
        )

    def read(
        self, handle: int, into: bytearray, maxlen: int, timeout_s: float | None, fill: bool
    ) -> int:
        """Append up to ``maxlen`` bytes. With ``fill``, wait for all of them until the
        deadline; otherwise return what the first arrival brings. Nothing by the deadline
        raises (5273) without dropping the connection; a closed peer drops it."""
        sock = self.get(handle)
        stream = sock.stream
        deadline = _deadline(timeout_s)
        got = 0
        while got < maxlen:
            tls_pending = sock.tls.pending() if sock.tls is not None else 0
            if not tls_pending and not _wait(stream, select.POLLIN, deadline):
                break
            try:
                chunk = stream.recv(maxlen - got)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except OSError:
                sock.broken = True
                raise
            if not chunk:
                sock.broken = got == 0
                if sock.broken:
                    raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "the peer closed the connection")
                break
            into += chunk
            got += len(chunk)
            if not fill:
                break
        if got == 0:
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "nothing arrived before the timeout")
        return got

    def read_available(self, handle: int, into: bytearray, maxlen: int) -> int:
        """Decrypted bytes already here, up to ``maxlen``; never waits."""
        sock = self.get(handle)
        if sock.tls is None:
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "the socket does not use TLS")
        try:
            chunk = sock.stream.recv(maxlen)
        except (BlockingIOError, ssl.SSLWantReadError):
            return 0
        except OSError:
            sock.broken = True
            raise
        if not chunk:
            sock.broken = True
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "the peer closed the connection")
        into += chunk
        return len(chunk)

    def send(self, handle: int, data: bytes | bytearray | memoryview) -> int:
        sock = self.get(handle)
        stream = sock.stream
        deadline = _deadline(sock.send_timeout_s)
        view = memoryview(data)
        sent = 0
        while sent < len(view):
            if not _wait(stream, select.POLLOUT, deadline):
                break
            try:
                sent += stream.send(view[sent:])
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                continue
            except OSError:
                sock.broken = True
                raise
        if sent == 0 and len(view):
            sock.broken = True
            raise Mql5Error(ERR_NETSOCKET_IO_ERROR, "send timed out")
        return sent
