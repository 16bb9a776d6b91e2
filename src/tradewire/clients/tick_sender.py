"""``TickSender``: stream ticks to a hub over UDP datagrams, TCP lines, or native frames.

UDP and TCP lines carry ``SYMBOL BID ASK TIME_MS`` text and get no acknowledgement; native
frames are batched, acknowledged once durable, and resent after a reconnect under the same
batch id (the hub stores a batch once).
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Literal

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.protocol.tick_columns import TickColumns
from tradewire.protocol.ticks import TickRow

Via = Literal["udp", "tcp", "native"]


def text_line(row: TickRow) -> bytes:
    ask = row[3] if row[3] is not None else row[2]
    return f"{row[0]} {row[2]!r} {ask!r} {row[1]}".encode("ascii")


class TickSender:
    """Send ticks; ``sent`` counts rows handed to the network, ``acked`` rows stored."""

    def __init__(
        self,
        via: Via,
        host: str,
        port: int,
        *,
        user: str = "",
        password: str = "",
        client_name: str | None = None,
        in_flight: int = 8,
    ) -> None:
        self.via = via
        self.host, self.port = host, port
        self.sent = 0
        self.acked = 0
        self._prefix = client_name or uuid.uuid4().hex[:12]
        self._batches = 0
        self._window = asyncio.Semaphore(in_flight)
        self._pending: set[asyncio.Task[None]] = set()
        self._udp: socket.socket | None = None
        self._tcp: asyncio.StreamWriter | None = None
        self._hub: HubClient | None = None
        if via == "native":
            self._hub = HubClient(host, port, user, password)

    async def start(self) -> None:
        """Connect. Raises ConnectionLost (nothing listening) or HubRefused (native login)."""
        try:
            if self.via == "udp":
                self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._udp.connect((self.host, self.port))
            elif self.via == "tcp":
                _, self._tcp = await asyncio.open_connection(self.host, self.port)
            else:
                assert self._hub is not None
                await self._hub.start()
        except OSError as exc:
            raise self._lost(exc) from exc

    def _lost(self, exc: OSError) -> ConnectionLost:
        return ConnectionLost(
            f"{self.via} {self.host}:{self.port}: {exc.strerror or exc} "
            "(is the hub running with that listener enabled?)"
        )

    async def send(self, rows: list[TickRow]) -> None:
        """Send a batch (native: waits only when ``in_flight`` batches await their ack).
        Raises ConnectionLost when the UDP or TCP peer is gone."""
        try:
            await self._send(rows)
        except OSError as exc:
            raise self._lost(exc) from exc

    async def _send(self, rows: list[TickRow]) -> None:
        if self._udp is not None:
            for row in rows:
                try:
                    self._udp.send(text_line(row))
                except BlockingIOError:
                    await asyncio.sleep(0)
                    self._udp.send(text_line(row))
            self.sent += len(rows)
        elif self._tcp is not None:
            self._tcp.write(b"\n".join(text_line(r) for r in rows) + b"\n")
            self.sent += len(rows)
            await self._tcp.drain()
        else:
            per_frame = self._ticks_per_frame(rows)
            for at in range(0, len(rows), per_frame):
                await self._window.acquire()
                task = asyncio.get_running_loop().create_task(
                    self._send_native(rows[at : at + per_frame])
                )
                self._pending.add(task)
                task.add_done_callback(self._pending.discard)

    def _ticks_per_frame(self, rows: list[TickRow]) -> int:
        """How many ticks fit a frame of the hub's ``max_frame_bytes``, from a sample (a frame
        that still does not fit is halved: see _send_native)."""
        assert self._hub is not None
        sample = TickColumns.from_rows(rows[:64])
        if not len(sample):
            return 1
        size = len(msgspec.json.encode([sample.time_ms, sample.bid, sample.ask, sample.sym]))
        if sample.last is not None or sample.volume is not None:
            size *= 2
        budget = self._hub.max_frame_bytes - 300 - 20 * len(sample.symbols)  # envelope, names
        return max(1, int(budget / (1.25 * size / len(sample))))

    async def _send_native(self, rows: list[TickRow]) -> None:
        assert self._hub is not None
        try:
            await self._send_fitting(rows)
        finally:
            self._window.release()

    async def _send_fitting(self, rows: list[TickRow]) -> None:
        """One frame under its own batch id, or two halves when it is too large for the hub."""
        assert self._hub is not None
        self._batches += 1
        batch_id = f"{self._prefix}-{self._batches}"
        self.sent += len(rows)
        try:
            stored = await self._hub.send_tick_columns(TickColumns.from_rows(rows), batch_id)
        except HubRefused as exc:
            if exc.code != "frame_too_large" or len(rows) < 2:
                raise
            self.sent -= len(rows)  # refused here, before it was sent
            half = len(rows) // 2
            await self._send_fitting(rows[:half])
            await self._send_fitting(rows[half:])
            return
        self.acked += stored  # not `+= await`: that reads the count before awaiting

    async def flush(self) -> None:
        """Wait for every native batch's ack (raises the first refusal)."""
        if self._pending:
            await asyncio.gather(*self._pending)

    async def close(self) -> None:
        await self.flush()
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        if self._hub is not None:
            await self._hub.close()
