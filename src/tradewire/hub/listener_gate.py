"""Connection caps and idle timeouts for the listeners beside the native port: the web side
and the article ports (SECURITY.md, "every listener with caps and timeouts from one table").

The probe held 19,990 idle connections on the web port from one address: the hub ran out of
file descriptors and refused every native login. Each listener now gets, from ``[limits.NAME]``
(config.py, ``LimitSettings``, one table for all of them):

- ``max_connections`` in all and ``max_connections_per_address``: one more is closed at once
  (the web side answers ``503`` first), and the refusal is audited (once per burst);
- ``idle_timeout_s``: a connection that sends nothing for this long is closed (0: never, for
  the signal listener, whose clients are silent by design). On the web side the clock runs
  until the first request's headers are in (slow-header connections included); after that,
  aiohttp's keep-alive timeout, set to the same figure, closes a connection between requests.

:class:`GatedProtocol` wraps any listener's protocol, aiohttp's request handler included, so
one mechanism serves them all. The idle check is one timer per listener, not one per
connection, and a byte received costs one clock read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

from tradewire.config import LimitSettings, ListenerLimit
from tradewire.metrics import Counter as MetricCounter

log = logging.getLogger(__name__)

HEADERS_END = b"\r\n\r\n"
BUSY = "too many connections: try again shortly\n"
HTTP_BUSY = (
    "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
    f"Content-Length: {len(BUSY)}\r\nConnection: close\r\nRetry-After: 5\r\n\r\n{BUSY}"
).encode()
Refused = Callable[[str, str], None]  # (address, reason): audited by the hub


class ListenerGate:
    def __init__(
        self,
        name: str,
        limits: ListenerLimit,
        on_refused: Refused,
        refusal: bytes = b"",
        settle_on: bytes | None = None,
        closed: MetricCounter | None = None,
    ) -> None:
        self.name = name
        self._closed = closed  # tradewire_listener_closed_total{listener, why}
        self.limits = limits
        self._on_refused = on_refused
        self.refusal = refusal  # written before closing a refused connection (HTTP's 503)
        self.settle_on = settle_on  # seen in the input: the idle clock stops (web: headers)
        self._last_heard: dict[GatedProtocol, float] = {}
        self._settled: set[GatedProtocol] = set()
        self._per_address: Counter[str] = Counter()
        self._timer: asyncio.TimerHandle | None = None
        self.refused = 0
        self.timed_out = 0

    @property
    def open(self) -> int:
        return len(self._last_heard)

    def admit(self, conn: GatedProtocol, address: str) -> bool:
        limits = self.limits
        if len(self._last_heard) >= limits.max_connections:
            why, reason = "total_cap", f"connection limit ({limits.max_connections}) reached"
        elif self._per_address[address] >= limits.max_connections_per_address:
            why, reason = (
                "address_cap",
                (
                    "too many connections from this address "
                    f"(limit {limits.max_connections_per_address})"
                ),
            )
        else:
            self._last_heard[conn] = conn.loop.time()
            self._per_address[address] += 1
            self._arm(conn.loop)
            return True
        self.refused += 1
        self._count(why)
        self._on_refused(address, f"{self.name}: {reason}")
        return False

    def _count(self, why: str) -> None:
        if self._closed is not None:
            self._closed.inc(1, self.name, why)

    def heard(self, conn: GatedProtocol) -> None:
        if conn in self._last_heard:
            self._last_heard[conn] = conn.loop.time()

    def settle(self, conn: GatedProtocol) -> None:
        self._settled.add(conn)

    def left(self, conn: GatedProtocol, address: str) -> None:
        if self._last_heard.pop(conn, None) is None:
            return
        self._settled.discard(conn)
        self._per_address[address] -= 1
        if self._per_address[address] <= 0:
            del self._per_address[address]

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        idle = self.limits.idle_timeout_s
        if idle > 0 and self._timer is None:
            self._timer = loop.call_later(min(1.0, idle / 4), self._sweep, loop)

    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        try:
            cutoff = loop.time() - self.limits.idle_timeout_s
            for conn, heard in list(self._last_heard.items()):
                if heard < cutoff and conn not in self._settled:
                    self.timed_out += 1
                    self._count("idle")
                    conn.abort()
        finally:
            if self._last_heard:
                self._arm(loop)


class GatedProtocol(asyncio.Protocol):
    """Counts a connection against its listener's caps, keeps its idle clock, and passes
    everything else to the listener's own protocol."""

    def __init__(self, inner: asyncio.BaseProtocol, gate: ListenerGate) -> None:
        self.inner = inner
        self.gate = gate
        self.loop = asyncio.get_running_loop()
        self.address = ""
        self.transport: asyncio.BaseTransport | None = None
        self._admitted = False
        self._tail: bytes | None = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        if not self.gate.admit(self, self.address):
            if self.gate.refusal:
                transport.write(self.gate.refusal)  # type: ignore[attr-defined]
            transport.close()
            return
        self._admitted = True
        self.transport = transport
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        marker = self.gate.settle_on
        if marker is None:
            self.gate.heard(self)
        elif self._tail is not None:  # the clock runs from connect: a trickle does not reset it
            seen = self._tail + data
            if marker in seen:
                self.gate.settle(self)
                self._tail = None
            else:
                self._tail = seen[-(len(marker) - 1) :]
        self.inner.data_received(data)  # type: ignore[attr-defined]

    def eof_received(self) -> bool | None:
        if not self._admitted:
            return None
        result: bool | None = self.inner.eof_received()  # type: ignore[attr-defined]
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self.gate.left(self, self.address)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self._admitted:
            self.inner.resume_writing()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]


def gated(factory: Callable[[], Any], gate: ListenerGate) -> Callable[[], GatedProtocol]:
    """A protocol factory for ``loop.create_server`` whose connections pass ``gate``."""
    return lambda: GatedProtocol(factory(), gate)


class ListenerGates:
    """The hub's gates, one per listener, from ``[limits]``; refusals go to ``on_refused``."""

    def __init__(
        self, limits: LimitSettings, on_refused: Refused, closed: MetricCounter | None = None
    ) -> None:
        self._limits = limits
        self._on_refused = on_refused
        self._closed = closed
        self.by_name: dict[str, ListenerGate] = {}

    def open_counts(self) -> dict[tuple[str, ...], float]:
        return {(name,): float(gate.open) for name, gate in self.by_name.items()}

    def gate(self, name: str, refusal: bytes = b"", settle_on: bytes | None = None) -> ListenerGate:
        limits: ListenerLimit = getattr(self._limits, name)
        gate = ListenerGate(name, limits, self._on_refused, refusal, settle_on, self._closed)
        self.by_name[name] = gate
        return gate

    def close(self) -> None:
        for gate in self.by_name.values():
            gate.close()
