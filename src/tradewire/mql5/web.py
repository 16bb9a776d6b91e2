"""``WebRequest`` over httpx: allow-list on every hop, one deadline for the whole request.

One ``httpx.Client`` per program keeps cookies per site (as the terminal does) and its
connections alive. Redirects (301/302 and the rest) are followed by httpx; a hook checks each
hop against the allow-list and gives it only the time left, so ``timeout`` bounds the request
from the first byte sent to the last byte of the final body.
"""

from __future__ import annotations

import ssl
import time
from typing import TYPE_CHECKING

from tradewire import __version__
from tradewire.allowlist import AllowList
from tradewire.exceptions import Mql5Error
from tradewire.mql5.errors import ERR_WEBREQUEST_INVALID_ADDRESS, ERR_WEBREQUEST_TIMEOUT

if TYPE_CHECKING:
    import httpx

MAX_URL_BYTES = 1024
USER_AGENT = f"tradewire-mql5/{__version__}"


def parse_headers(text: str) -> list[tuple[str, str]]:
    """``"Name: value"`` lines joined by CRLF (form 2's ``headers``); raises ``ValueError``."""
    pairs = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
            raise ValueError(f"header line {line!r} is not 'Name: value'")
        pairs.append((name.strip(), value.strip()))
    return pairs


class WebClient:
    def __init__(self, allow: AllowList, tls_context: ssl.SSLContext) -> None:
        import httpx

        self._allow = allow
        self._deadline = 0.0
        self._client = httpx.Client(
            follow_redirects=True,
            max_redirects=10,
            verify=tls_context,
            headers={"Accept": "*/*", "User-Agent": USER_AGENT},
            event_hooks={"request": [self._before_each_hop]},
        )

    def close(self) -> None:
        self._client.close()

    def _before_each_hop(self, request: httpx.Request) -> None:
        url = request.url
        self._allow.check_url(url.scheme, url.host, url.port, url.path)
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise Mql5Error(ERR_WEBREQUEST_TIMEOUT, "the request timed out")
        request.extensions["timeout"] = {"connect": left, "read": left, "write": left, "pool": left}

    def request(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout_ms: int,
        result: bytearray,
    ) -> tuple[int, str]:
        """Send; fill ``result`` with the body; return the status and the response headers."""
        import httpx

        if not method or not method.isalpha():
            raise ValueError(f"{method!r} is not an HTTP method")
        if timeout_ms <= 0:
            raise ValueError("timeout must be a positive number of milliseconds")
        if len(url.encode()) > MAX_URL_BYTES:
            raise Mql5Error(
                ERR_WEBREQUEST_INVALID_ADDRESS, f"the URL is longer than {MAX_URL_BYTES} bytes"
            )
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise Mql5Error(ERR_WEBREQUEST_INVALID_ADDRESS, f"{url!r}: {exc}") from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise Mql5Error(
                ERR_WEBREQUEST_INVALID_ADDRESS,
                f"{url!r} is not an http:// or https:// URL with a host",
            )
        self._deadline = time.monotonic() + timeout_ms / 1000
        received = bytearray()
        with self._client.stream(
            method.upper(), parsed, headers=headers, content=body or None
        ) as response:
            for chunk in response.iter_bytes():
                if time.monotonic() > self._deadline:
                    raise Mql5Error(ERR_WEBREQUEST_TIMEOUT, "the response body timed out")
                received += chunk
        result[:] = received  # untouched when the request fails
        lines = "".join(
            f"{name.decode('latin-1')}: {value.decode('latin-1')}\r\n"
            for name, value in response.headers.raw
        )  # names as the server sent them
        return response.status_code, lines
