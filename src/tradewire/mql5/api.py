"""The MQL5 network functions under their MQL5 names, so MQL5 code ports line by line.

Each function runs one method of the current :class:`NetworkContext` (``use_context``; by
default one built from ``$TRADEWIRE_CONFIG``) and, on failure, returns the MQL5 failure value
and records the error code for ``GetLastError()``. No protocol logic lives here.

``uchar&`` arrays are ``bytearray`` arguments that the call extends (``WebRequest``'s
``result`` is replaced); ``string&`` outputs come back in a small named tuple.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, overload

from tradewire.exceptions import Mql5Error
from tradewire.mql5.context import NetworkContext
from tradewire.mql5.errors import ERR_SUCCESS, Operation, error_code
from tradewire.mql5.sockets import DEFAULT_READ_TIMEOUT_MS
from tradewire.mql5.web import parse_headers

log = logging.getLogger("tradewire.mql5")

SOCKET_DEFAULT = 0
INVALID_HANDLE = -1  # what SocketCreate returns on failure
MAX_READ = 2_147_483_647
T = TypeVar("T")
Bytes = bytes | bytearray | memoryview

_current: NetworkContext | None = None
_current_lock = threading.Lock()


def use_context(context: NetworkContext) -> NetworkContext:
    """Make ``context`` the one every function below uses; returns it."""
    global _current
    with _current_lock:
        _current = context
    return context


def current_context() -> NetworkContext:
    global _current
    with _current_lock:
        if _current is None:
            _current = NetworkContext.from_environment()
        return _current


def _run(name: str, operation: Operation, failed: T, call: Callable[[NetworkContext], T]) -> T:
    context = current_context()
    try:
        return call(context)
    except Exception as exc:
        context.last_error = code = error_code(operation, exc)
        level = logging.DEBUG if operation == "io" else logging.WARNING
        log.log(
            level,
            "%s failed with error %d: %s",
            name,
            code,
            exc.detail if isinstance(exc, Mql5Error) else exc,
        )
        return failed


def _succeeds(name: str, operation: Operation, call: Callable[[NetworkContext], None]) -> bool:
    """For the functions that return ``bool``: True unless ``call`` raised."""

    def run(context: NetworkContext) -> bool:
        call(context)
        return True

    return _run(name, operation, False, run)


def _length(requested: int, available: int) -> int:
    if not 0 <= requested <= available:
        raise ValueError(f"length {requested} is outside the buffer (0 to {available})")
    return requested


class TlsCertificate(NamedTuple):
    ok: bool
    subject: str = ""
    issuer: str = ""
    serial: str = ""
    thumbprint: str = ""
    expiration: int = 0


class WebResult(NamedTuple):
    status: int  # the HTTP status, or -1
    headers: str = ""  # "Name: value\r\n" lines


def GetLastError() -> int:
    return current_context().last_error


def ResetLastError() -> None:
    current_context().last_error = ERR_SUCCESS


def SocketCreate(flags: int = SOCKET_DEFAULT) -> int:
    return _run("SocketCreate", "socket", -1, lambda c: c.sockets.create())


def SocketClose(socket: int) -> bool:
    return _succeeds("SocketClose", "socket", lambda c: c.sockets.close(socket))


def SocketConnect(socket: int, server: str, port: int, timeout_receive_ms: int) -> bool:
    return _succeeds(
        "SocketConnect",
        "connect",
        lambda c: c.sockets.connect(socket, server, port, timeout_receive_ms),
    )


def SocketIsConnected(socket: int) -> bool:
    return _run("SocketIsConnected", "socket", False, lambda c: c.sockets.is_connected(socket))


def SocketIsReadable(socket: int) -> int:
    return _run("SocketIsReadable", "socket", 0, lambda c: c.sockets.readable(socket))


def SocketIsWritable(socket: int) -> bool:
    return _run("SocketIsWritable", "socket", False, lambda c: c.sockets.writable(socket))


def SocketTimeouts(socket: int, timeout_send_ms: int, timeout_receive_ms: int) -> bool:
    return _succeeds(
        "SocketTimeouts",
        "socket",
        lambda c: c.sockets.timeouts(socket, timeout_send_ms, timeout_receive_ms),
    )


def SocketRead(socket: int, buffer: bytearray, buffer_maxlen: int, timeout_ms: int) -> int:
    """Waits up to ``timeout_ms`` (0: 120 s) for ``buffer_maxlen`` bytes and returns what
    arrived; -1 (5273) only if nothing did. On a TLS socket it reads decrypted bytes."""

    def call(c: NetworkContext) -> int:
        _length(buffer_maxlen, MAX_READ)
        if buffer_maxlen == 0:
            raise ValueError("buffer_maxlen must be 1 or more")
        timeout = (timeout_ms or DEFAULT_READ_TIMEOUT_MS) / 1000
        return c.sockets.read(socket, buffer, buffer_maxlen, timeout, fill=True)

    return _run("SocketRead", "io", -1, call)


def SocketSend(socket: int, buffer: Bytes, buffer_len: int) -> int:
    def call(c: NetworkContext) -> int:
        return c.sockets.send(socket, memoryview(buffer)[: _length(buffer_len, len(buffer))])

    return _run("SocketSend", "io", -1, call)


def SocketTlsHandshake(socket: int, host: str) -> bool:
    return _succeeds("SocketTlsHandshake", "handshake", lambda c: c.sockets.handshake(socket, host))


def SocketTlsCertificate(socket: int) -> TlsCertificate:
    def call(c: NetworkContext) -> TlsCertificate:
        cert = c.sockets.certificate(socket)
        return TlsCertificate(
            True, cert.subject, cert.issuer, cert.serial, cert.thumbprint, cert.expiration
        )

    return _run("SocketTlsCertificate", "socket", TlsCertificate(False), call)


def _tls_only(c: NetworkContext, socket: int) -> None:
    if c.sockets.get(socket).tls is None:
        raise ValueError("the socket does not use TLS; call SocketTlsHandshake first")


def SocketTlsRead(socket: int, buffer: bytearray, buffer_maxlen: int) -> int:
    """Waits for ``buffer_maxlen`` decrypted bytes up to the ``SocketTimeouts`` receive
    timeout (none: forever) and returns what arrived; -1 if nothing did."""

    def call(c: NetworkContext) -> int:
        _tls_only(c, socket)
        _length(buffer_maxlen, MAX_READ)
        timeout = c.sockets.get(socket).recv_timeout_s
        return c.sockets.read(socket, buffer, buffer_maxlen, timeout, fill=True)

    return _run("SocketTlsRead", "io", -1, call)


def SocketTlsReadAvailable(socket: int, buffer: bytearray, buffer_maxlen: int) -> int:
    def call(c: NetworkContext) -> int:
        _length(buffer_maxlen, MAX_READ)
        return c.sockets.read_available(socket, buffer, buffer_maxlen)

    return _run("SocketTlsReadAvailable", "io", -1, call)


def SocketTlsSend(socket: int, buffer: Bytes, buffer_len: int) -> int:
    def call(c: NetworkContext) -> int:
        _tls_only(c, socket)
        return c.sockets.send(socket, memoryview(buffer)[: _length(buffer_len, len(buffer))])

    return _run("SocketTlsSend", "io", -1, call)


@overload
def WebRequest(
    method: str,
    url: str,
    cookie: str,
    referer: str,
    timeout: int,
    data: Bytes,
    data_size: int,
    result: bytearray,
    /,
) -> WebResult: ...
@overload
def WebRequest(
    method: str, url: str, headers: str, timeout: int, data: Bytes, result: bytearray, /
) -> WebResult: ...
def WebRequest(*args: Any) -> WebResult:
    """Form 1 (8 arguments): cookie and referer, body sent urlencoded; form 2 (6 arguments):
    raw header lines. Returns ``(status, response_headers)``; ``(-1, "")`` on failure."""
    if len(args) not in (6, 8):
        raise TypeError(f"WebRequest takes 8 (form 1) or 6 (form 2) arguments, not {len(args)}")

    def call(c: NetworkContext) -> WebResult:
        if len(args) == 8:
            method, url, cookie, referer, timeout, data, data_size, result = args
            headers = [("Content-Type", "application/x-www-form-urlencoded")]
            headers += [(k, v) for k, v in (("Cookie", cookie), ("Referer", referer)) if v]
            body = bytes(memoryview(data)[: _length(data_size, len(data))])
        else:
            method, url, header_text, timeout, data, result = args
            headers, body = parse_headers(header_text), bytes(data)
        return WebResult(*c.web.request(method, url, headers, body, timeout, result))

    return _run("WebRequest", "web", WebResult(-1), call)


def SendFTP(filename: str, ftp_path: str | None = None) -> bool:
    return _succeeds("SendFTP", "ftp", lambda c: c.send_ftp(filename, ftp_path))


def SendMail(subject: str, some_text: str) -> bool:
    """True once the message is queued; a background sender delivers it."""
    return _succeeds("SendMail", "mail", lambda c: c.mailer.send(subject, some_text))


def SendNotification(text: str) -> bool:
    return _succeeds("SendNotification", "notify", lambda c: c.notifier.send(text))
