"""The user's allow-list for ``SocketConnect`` and ``WebRequest`` (``[mql5] allow``); shared by
the config check and ``tradewire.mql5``, so it sits below both.

Entries, as in the terminal's settings:

- ``"api.example.com"``: that host on any port, for sockets and URLs;
- ``"api.example.com:8081"``: that host on that port only;
- ``"10.0.0.5"`` or ``"10.0.0.0/8"``: those addresses on any port (``"[::1]:80"`` with a port);
- ``"https://api.example.com/v1/"``: URLs starting with that scheme, host, port and path, and
  sockets to that host and port.

Matching is on the name the program wrote, before any DNS lookup or packet: a host name entry
does not cover the host's IP address written out, and the reverse.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from tradewire.exceptions import Mql5Error

DEFAULT_PORTS = {"http": 80, "https": 443}
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class AllowEntry:
    text: str
    host: str | None = None  # lower-case name; None for address entries
    network: IpNetwork | None = None
    port: int | None = None
    scheme: str | None = None  # set for URL prefixes
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> AllowEntry:
        """Parse one entry; raises ``ValueError`` saying what is wrong with it."""
        entry = text.strip()
        if not entry or any(c.isspace() for c in entry):
            raise ValueError(f"{text!r} is empty or contains spaces")
        if "://" in entry:
            parts = urlsplit(entry)
            if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
                raise ValueError(f"{text!r}: a URL entry needs http:// or https:// and a host")
            host, network = _host_or_network(parts.hostname)
            url_port = parts.port or DEFAULT_PORTS[parts.scheme]
            return cls(text, host, network, url_port, parts.scheme, parts.path or "/")
        try:
            return cls(text, network=ipaddress.ip_network(entry, strict=False))
        except ValueError:
            pass
        host_part, port = _split_port(entry, text)
        host, network = _host_or_network(host_part)
        return cls(text, host, network, port)

    def covers_address(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            try:
                return ipaddress.ip_address(host.strip("[]")) in self.network
            except ValueError:
                return False
        return self.host == host.lower().rstrip(".")

    def covers_url(self, scheme: str, host: str, port: int, path: str) -> bool:
        if not self.covers_address(host, port):
            return False
        if self.scheme is None:
            return True
        return scheme == self.scheme and (path or "/").startswith(self.path)


def _split_port(entry: str, text: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif entry.count(":") == 1:
        host, _, port_text = entry.partition(":")
    else:
        host, port_text = entry, ""
    if not port_text:
        return host, None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def _host_or_network(host: str) -> tuple[str | None, IpNetwork | None]:
    try:
        return None, ipaddress.ip_network(host, strict=False)
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    if not name or not all(
        label and (label.replace("-", "").isalnum()) for label in name.split(".")
    ):
        raise ValueError(f"{host!r} is not a host name, address or URL")
    return name, None


class AllowList:
    """Read-only to programs; built from the configuration."""

    def __init__(self, entries: list[str]) -> None:
        self._entries = [AllowEntry.parse(e) for e in entries]

    def check_socket(self, host: str, port: int) -> None:
        """Raise :class:`Mql5Error` (5272) naming the missing entry unless host:port is listed."""
        if not any(e.covers_address(host, port) for e in self._entries):
            raise Mql5Error(
                5272,
                f"{host}:{port} is not in the allow-list; the user can add "
                f'"{host}:{port}" to [mql5] allow',
            )

    def check_url(self, scheme: str, host: str, port: int | None, path: str) -> None:
        """Raise :class:`Mql5Error` (4014) naming the missing entry unless the URL is listed."""
        port = port or DEFAULT_PORTS.get(scheme, 0)
        if not any(e.covers_url(scheme, host, port, path) for e in self._entries):
            raise Mql5Error(
                4014,
                f"{scheme}://{host}:{port}{path} is not in the allow-list; "
                f'the user can add "{scheme}://{host}:{port}/" to [mql5] allow',
            )
