"""A fault-injecting TCP proxy for tests: sits between clients and the hub on 127.0.0.1 and,
on command, delays, drops, resets, half-opens or stalls the connections passing through it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass, field


@dataclass
class _Pipe:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stalled: asyncio.Event = field(default_factory=asyncio.Event)  # set = frozen

    def abort(self, reset: bool) -> None:
        for writer in (self.client, self.upstream):
            sock = writer.get_extra_info("socket")
            if reset and sock is not None:
                # SO_LINGER 0: close sends RST instead of FIN.
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort() if reset else writer.close()
        for task in self.tasks:
            task.cancel()


class FaultProxy:
    """``await FaultProxy.start(hub_host, hub_port)``; clients connect to ``proxy.port``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.delay_s = 0.0
        self.pipes: list[_Pipe] = []
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._stalled: list[_Pipe] = []

    @classmethod
    async def start(cls, host: str, port: int) -> FaultProxy:
        proxy = cls((host, port))
        proxy._server = await asyncio.start_server(proxy._accept, "127.0.0.1", 0)
        return proxy

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in self.pipes + self._stalled:
            pipe.abort(reset=True)
        await asyncio.sleep(0)

    # ---- faults --------------------------------------------------------------------------------

    def drop(self) -> None:
        """Close every current connection with FIN (a clean disconnect)."""
        for pipe in self._take():
            pipe.abort(reset=False)

    def reset(self) -> None:
        """Abort every current connection with RST."""
        for pipe in self._take():
            pipe.abort(reset=True)

    def stall(self) -> None:
        """Stop forwarding on every current connection, keep the sockets open (a stall, or a
        half-open connection whose far end vanished). New connections still pass."""
        for pipe in self._take():
            pipe.stalled.set()
            self._stalled.append(pipe)

    def release_stalled(self) -> None:
        for pipe in self._stalled:
            pipe.abort(reset=True)
        self._stalled.clear()

    def _take(self) -> list[_Pipe]:
        pipes, self.pipes = self.pipes, []
        return pipes

    # ---- forwarding ----------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        pipe = _Pipe(writer, up_writer)
        self.pipes.append(pipe)
        pipe.tasks = [
            asyncio.create_task(self._pump(reader, up_writer, pipe)),
            asyncio.create_task(self._pump(up_reader, writer, pipe)),
        ]

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pipe: _Pipe
    ) -> None:
        with contextlib.suppress(OSError, asyncio.CancelledError):
            while data := await reader.read(65536):
                if pipe.stalled.is_set():
                    continue  # swallowed: the other side hears nothing
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                writer.write(data)
                await writer.drain()
            if not pipe.stalled.is_set():
                writer.close()
