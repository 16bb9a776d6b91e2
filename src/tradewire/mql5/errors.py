"""MQL5 runtime error codes and the one table that turns exceptions into them.

Every adapter (sockets, web, FTP, mail, notifications) raises ordinary exceptions or
:class:`Mql5Error`; :func:`error_code` is the only place they become MQL5 codes.
"""

from __future__ import annotations

import ftplib
import ssl
from typing import Literal

from tradewire.exceptions import Mql5Error

ERR_SUCCESS = 0
ERR_INVALID_PARAMETER = 4003
ERR_FUNCTION_NOT_ALLOWED = 4014
ERR_MAIL_SEND_FAILED = 4510
ERR_FTP_SEND_FAILED = 4514
ERR_NOTIFICATION_SEND_FAILED = 4515
ERR_NOTIFICATION_WRONG_PARAMETER = 4516
ERR_NOTIFICATION_WRONG_SETTINGS = 4517
ERR_NOTIFICATION_TOO_FREQUENT = 4518
ERR_FTP_NOSERVER = 4519
ERR_FTP_NOLOGIN = 4520
ERR_FTP_FILE_ERROR = 4521
ERR_FTP_CONNECT_FAILED = 4522
ERR_FTP_CHANGEDIR = 4523
ERR_FTP_CLOSED = 4524
ERR_WEBREQUEST_INVALID_ADDRESS = 5200
ERR_WEBREQUEST_CONNECT_FAILED = 5201
ERR_WEBREQUEST_TIMEOUT = 5202
ERR_WEBREQUEST_REQUEST_FAILED = 5203
ERR_NETSOCKET_INVALIDHANDLE = 5270
ERR_NETSOCKET_TOO_MANY_OPENED = 5271
ERR_NETSOCKET_CANNOT_CONNECT = 5272
ERR_NETSOCKET_IO_ERROR = 5273
ERR_NETSOCKET_HANDSHAKE_FAILED = 5274
ERR_NETSOCKET_NO_CERTIFICATE = 5275

Operation = Literal["socket", "connect", "handshake", "io", "web", "ftp", "mail", "notify"]


def _web_table() -> list[tuple[type[BaseException], int]]:
    import httpx  # imported on first WebRequest failure only; keeps the facade light

    return [
        (httpx.InvalidURL, ERR_WEBREQUEST_INVALID_ADDRESS),
        (httpx.UnsupportedProtocol, ERR_WEBREQUEST_INVALID_ADDRESS),
        (httpx.TimeoutException, ERR_WEBREQUEST_TIMEOUT),
        (httpx.ConnectError, ERR_WEBREQUEST_CONNECT_FAILED),
        (httpx.TooManyRedirects, ERR_WEBREQUEST_REQUEST_FAILED),
        (httpx.HTTPError, ERR_WEBREQUEST_REQUEST_FAILED),
        (OSError, ERR_WEBREQUEST_REQUEST_FAILED),
    ]


# Per operation: (exception type, code), first match wins. Mql5Error carries its own code and
# ValueError/TypeError (a bad argument from the program) is ERR_INVALID_PARAMETER everywhere.
_TABLE: dict[str, list[tuple[type[BaseException], int]]] = {
    "socket": [(OSError, ERR_NETSOCKET_IO_ERROR)],
    "connect": [
        (ssl.SSLError, ERR_NETSOCKET_HANDSHAKE_FAILED),
        (ssl.CertificateError, ERR_NETSOCKET_HANDSHAKE_FAILED),
        (OSError, ERR_NETSOCKET_CANNOT_CONNECT),
    ],
    "handshake": [
        (ssl.CertificateError, ERR_NETSOCKET_HANDSHAKE_FAILED),
        (OSError, ERR_NETSOCKET_HANDSHAKE_FAILED),
    ],
    "io": [(OSError, ERR_NETSOCKET_IO_ERROR)],
    "ftp": [
        (EOFError, ERR_FTP_CLOSED),
        (ConnectionError, ERR_FTP_CLOSED),
        (ftplib.Error, ERR_FTP_SEND_FAILED),
        (OSError, ERR_FTP_SEND_FAILED),
    ],
    "mail": [(OSError, ERR_MAIL_SEND_FAILED)],
    "notify": [(OSError, ERR_NOTIFICATION_SEND_FAILED)],
}

_FALLBACK = {
    "socket": ERR_NETSOCKET_IO_ERROR,
    "connect": ERR_NETSOCKET_CANNOT_CONNECT,
    "handshake": ERR_NETSOCKET_HANDSHAKE_FAILED,
    "io": ERR_NETSOCKET_IO_ERROR,
    "web": ERR_WEBREQUEST_REQUEST_FAILED,
    "ftp": ERR_FTP_SEND_FAILED,
    "mail": ERR_MAIL_SEND_FAILED,
    "notify": ERR_NOTIFICATION_SEND_FAILED,
}


def error_code(operation: Operation, exc: BaseException) -> int:
    """The MQL5 error code for ``exc`` raised during ``operation``."""
    if isinstance(exc, Mql5Error):
        return exc.code
    if isinstance(exc, (ValueError, TypeError)) and not isinstance(exc, ssl.SSLError):
        return ERR_INVALID_PARAMETER
    table = _web_table() if operation == "web" else _TABLE[operation]
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return _FALLBACK[operation]
