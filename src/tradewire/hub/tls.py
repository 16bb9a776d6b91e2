"""The hub's TLS: within Mozilla's "intermediate" server profile (TLS 1.2 and 1.3, AEAD suites
with forward secrecy only, no compression or renegotiation).

Key exchange uses P-256 alone: Python's ``ssl`` can name one group (``set_ecdh_curve``) but not
a list before 3.15, and P-256 is in the profile and spoken by every TLS 1.2+ client. (Left
alone, OpenSSL would also offer secp521r1, X448 and others outside the profile.)
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from tradewire.config import TlsSettings
from tradewire.exceptions import ConfigError
from tradewire.hub.connection import Connection, Host

log = logging.getLogger(__name__)

# https://ssl-config.mozilla.org/guidelines/5.7.json, "intermediate": the TLS 1.2 suites. The
# TLS 1.3 suites OpenSSL enables by default are all in the profile.
INTERMEDIATE_CIPHERS = ":".join(
    [
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
        "DHE-RSA-AES128-GCM-SHA256",
        "DHE-RSA-AES256-GCM-SHA384",
        "DHE-RSA-CHACHA20-POLY1305",
    ]
)
GROUP = "prime256v1"


def tls_context(settings: TlsSettings) -> ssl.SSLContext | None:
    """The server context for ``[tls]``, or ``None`` when TLS is off."""
    if settings.cert is None or settings.key is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    context.set_ciphers(INTERMEDIATE_CIPHERS)
    context.set_ecdh_curve(GROUP)
    try:
        context.load_cert_chain(settings.cert, settings.key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls.cert/tls.key: cannot load: {exc}") from exc
    return context


class TlsListener:
    """The native port with TLS: accepts in its own loop so that each connection is counted
    and checked against bans (``Connection.admit``) before a handshake is spent on it; the
    handshake then has ``auth_timeout_s``. (A server made with ``create_server(ssl=…)`` would
    handshake first and only then let the hub see the connection.)"""

    def __init__(self, hub: Host, context: ssl.SSLContext) -> None:
        # only what its connections need of the hub (Connection's Host), nothing more
        self._hub = hub
        self._context = context
        self._sockets: list[socket.socket] = []
        self.sockets = self._sockets  # the listening sockets (read only outside)
        self._accepting: list[asyncio.Task[None]] = []

    def start(self, host: str, port: int, reuse_port: bool = False) -> list[tuple[str, int]]:
        """Bind and start accepting; returns the addresses bound. Raises ``OSError``.
        ``reuse_port``: share the port with the other workers of ``serve --workers``."""
        listener = socket.create_server(
            (host, port), family=_family(host), backlog=4096, reuse_port=reuse_port
        )
        listener.setblocking(False)
        self._sockets.append(listener)
        self._accepting.append(self._hub.spawn(self._accept_forever(listener)))
        return [listener.getsockname()[:2]]

    def close(self) -> None:
        for task in self._accepting:
            task.cancel()
        for listener in self._sockets:
            listener.close()
        self._sockets.clear()

    async def _accept_forever(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, peer = await loop.sock_accept(listener)
            except OSError as exc:  # EMFILE and the like: the limit, not the listener, failed
                log.warning("accept failed: %s", exc)
                await asyncio.sleep(0.1)
                continue
            conn = Connection(self._hub)
            if conn.admit(str(peer[0])) is not None:
                sock.close()  # refused (and audited) before any handshake
                continue
            conn.start_handshake()
            self._hub.spawn(self._handshake(conn, sock))

    async def _handshake(self, conn: Connection, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: conn,
                sock,
                ssl=self._context,
                ssl_handshake_timeout=self._hub.config.hub.auth_timeout_s,
            )
        except (OSError, ssl.SSLError, TimeoutError, ConnectionError) as exc:
            log.debug("TLS handshake with %s failed: %s", conn.address, exc)
            sock.close()
            conn.handshake_failed()
        except asyncio.CancelledError:  # the hub stops mid-handshake
            sock.close()
            conn.handshake_failed()
            raise


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
