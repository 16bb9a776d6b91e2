"""Address lists from the configuration (allow-lists, ban exemptions): addresses or CIDR blocks.
One implementation for every listener and for the ban book. And the one way the article
listeners write to their unauthenticated clients."""

from __future__ import annotations

import asyncio
import ipaddress
import logging

log = logging.getLogger(__name__)

MAX_BUFFERED = 1 << 20  # an article client this far behind is dropped (they are local)


def write_or_drop(transport: asyncio.Transport, message: bytes, what: str) -> None:
    """Write to an article client, or drop it once ``MAX_BUFFERED`` bytes wait for it:
    its memory stays bounded, and the others never wait."""
    if transport.get_write_buffer_size() > MAX_BUFFERED:
        log.warning("dropping an article %s client that stopped reading", what)
        transport.abort()
        return
    transport.write(message)


_MAX_CACHED = 65_536


class AddressList:
    """``address in AddressList(["127.0.0.1", "10.0.0.0/8"])``; answers are cached (the UDP
    listener asks once per datagram)."""

    def __init__(self, entries: list[str]) -> None:
        self._networks = [ipaddress.ip_network(e, strict=False) for e in entries]
        self._cache: dict[str, bool] = {}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str):
            return False
        known = self._cache.get(address)
        if known is None:
            try:
                ip = ipaddress.ip_address(address)
            except ValueError:
                return False
            known = any(ip in net for net in self._networks)
            if len(self._cache) < _MAX_CACHED:
                self._cache[address] = known
        return known
