"""The hub: listeners, admission limits, channels, the sweeper, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from tradewire import __version__
from tradewire.clock import Clock, SystemClock, now_ms
from tradewire.config import Config
from tradewire.exceptions import ConfigError
from tradewire.hub.acl import may_publish, may_subscribe
from tradewire.hub.article_signal import ArticleSignalListener
from tradewire.hub.auth import Authenticator
from tradewire.hub.channels import ChannelRegistry
from tradewire.hub.connection import Connection
from tradewire.hub.files import FileService
from tradewire.hub.tcp_ticks import TcpTickListener
from tradewire.hub.template import TemplateListener
from tradewire.hub.ticks import TickService
from tradewire.hub.udp_ticks import UdpTickListener
from tradewire.protocol.codec import encode, error_line, stamp
from tradewire.protocol.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    Ack,
    Bye,
    Hello,
    PublishState,
    PublishTicks,
    Sub,
    Unsub,
    Welcome,
)
from tradewire.protocol.names import is_symbol
from tradewire.store.db import StateDB
from tradewire.store.writer import BatchWriter
from tradewire.ticks.store import SqliteTickStore

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 2.0
BAN_RELOAD_S = 5.0  # how soon `tradewire ban lift` reaches a running hub
SWEEP_SLICE = 250  # connections whose timers are applied per event-loop iteration


class Hub:
    """An authenticated signal hub. ``await start()``, then ``await stop()``."""

    supported_versions = SUPPORTED_VERSIONS

    def __init__(self, config: Config, data_dir: Path, clock: Clock | None = None) -> None:
        self.config = config
        self.data_dir = data_dir
        self.clock: Clock = clock or SystemClock()
        self.channels = ChannelRegistry()
        self.connections: set[Connection] = set()
        self.per_address: Counter[str] = Counter()
        self.stats: Counter[str] = Counter()
        self.addresses: list[tuple[str, int]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._all_gone = asyncio.Event()  # set when stopping and the last connection is gone
        self.template: TemplateListener | None = None

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> list[tuple[str, int]]:
        """Open storage, restore state and bans, listen. Returns the (host, port) pairs bound."""
        loop = asyncio.get_running_loop()
        self.db = await loop.run_in_executor(None, StateDB, self.data_dir)
        self.writer = BatchWriter(self.db)
        self.auth = Authenticator(self.config, self.db, self.writer, self.clock)
        self.files = FileService(self)  # before listening: a file frame may come at once
        self.channels.load(await self.writer.call(self.db.load_states))
        self.auth.bans.load(await self.writer.call(self.db.load_bans))
        hub = self.config.hub
        try:
            self._server = await loop.create_server(
                lambda: Connection(self), hub.host, hub.port, ssl=self._tls_context(),
                backlog=4096, reuse_address=True)
        except OSError as exc:
            await loop.run_in_executor(None, self._release)
            raise ConfigError(f"hub.host/hub.port: cannot listen on {hub.host}:{hub.port}: "
                              f"{exc.strerror} (another hub running? pick another port "
                              "with --port)") from exc
        self.addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
        self.ticks = TickService(self.data_dir, self.clock)
        self.ticks.start(loop)
        self._tick_listeners: list[UdpTickListener | TcpTickListener] = []
        listeners = self.config.listeners
        assert self.ticks.writer is not None
        if listeners.udp_ticks.enabled:
            udp = UdpTickListener(listeners.udp_ticks, self.ticks.writer)
            self.addresses.append(udp.start())
            self._tick_listeners.append(udp)
            self.ticks.listeners.append(udp.counters)
        if listeners.tcp_ticks.enabled:
            tcp = TcpTickListener(listeners.tcp_ticks, self.ticks.writer)
            self.addresses.append(await tcp.start())
            self._tick_listeners.append(tcp)
            self.ticks.listeners.append(tcp.counters)
        self.article_signal: ArticleSignalListener | None = None
        if self.config.listeners.signal.enabled:
            self.article_signal = ArticleSignalListener(self.config.listeners.signal,
                                                        self.channels)
            self.addresses.append(await self.article_signal.start())
        if listeners.template.enabled:
            self.template = TemplateListener(listeners.template, self.files, self.spawn)
            self.addresses.append(await self.template.start())
        self.spawn(self._sweep_forever())
        log.info("hub listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))
        return self.addresses

    def _tls_context(self) -> ssl.SSLContext | None:
        tls = self.config.tls
        if tls.cert is None or tls.key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(tls.cert, tls.key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"tls.cert/tls.key: cannot load: {exc}") from exc
        return context

    async def stop(self) -> None:
        """Stop accepting, say bye to everyone, flush storage, release everything."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self.article_signal is not None:
            self.article_signal.stop()
        if self.template is not None:
            self.template.stop()
        for listener in self._tick_listeners:
            await asyncio.to_thread(listener.stop)
        bye = encode(Bye(reason="shutdown"))
        for conn in list(self.connections):
            conn.close(bye)
        if self.connections:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_DRAIN_S):
                    await self._all_gone.wait()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.writer.flush()
        await asyncio.to_thread(self.ticks.stop)  # commits what is queued
        await asyncio.to_thread(self._save_listener_stats)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._release)
        self._stopped.set()

    def _release(self) -> None:
        self.auth.close()
        self.writer.close()
        self.db.close()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` as a task the hub owns (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task failed", exc_info=task.exception())

    async def _sweep_forever(self) -> None:
        hub = self.config.hub
        interval = min(1.0, hub.heartbeat_s / 3, hub.auth_timeout_s / 4)
        next_reload = self.clock.monotonic() + BAN_RELOAD_S
        while True:
            await asyncio.sleep(interval)
            now = self.clock.monotonic()
            connections = list(self.connections)
            # In slices, yielding between them: closing thousands of timed-out connections
            # (a slowloris wave) in one go would stall every other client for that long.
            for start in range(0, len(connections), SWEEP_SLICE):
                for conn in connections[start:start + SWEEP_SLICE]:
                    conn.tick(now)
                await asyncio.sleep(0)
            self.auth.bans.prune()
            if self.clock.monotonic() >= next_reload:
                next_reload = self.clock.monotonic() + BAN_RELOAD_S
                self.auth.bans.load(await self.writer.call(self.db.load_bans))
                if self.ticks.listeners:
                    await asyncio.to_thread(self._save_listener_stats)

    def _save_listener_stats(self) -> None:
        """For `tradewire ticks stats`, which reads the database, not the hub."""
        if not self.ticks.listeners:
            return
        store = SqliteTickStore(self.data_dir)
        try:
            stamp = now_ms(self.clock)
            store.put_listener_stats([(c.name, c.received, c.malformed, c.kernel_drops, stamp)
                                      for c in self.ticks.listeners])
        finally:
            store.close()

    # ---- admission ------------------------------------------------------------------------------

    def admit(self, conn: Connection) -> bytes | None:
        """Register a new connection, or return the frame to refuse it with."""
        if self._stopping:
            return encode(Bye(reason="shutdown"))
        retry_after = self.auth.bans.retry_after(conn.address)
        if retry_after is not None:
            self.stats["refused_banned"] += 1
            return error_line("banned", "too many failed logins from your address",
                              retry_after_s=math.ceil(retry_after))
        hub = self.config.hub
        if len(self.connections) >= hub.max_connections:
            self.stats["refused_busy"] += 1
            return error_line("server_busy", f"connection limit ({hub.max_connections}) reached")
        if self.per_address[conn.address] >= hub.max_connections_per_address:
            self.stats["refused_per_address"] += 1
            return error_line("rate_limited", "too many connections from your address "
                              f"(limit {hub.max_connections_per_address})")
        self.connections.add(conn)
        self.per_address[conn.address] += 1
        return None

    def forget(self, conn: Connection) -> None:
        """A registered connection is gone: drop it from every table."""
        self.connections.discard(conn)
        self.per_address[conn.address] -= 1
        if self.per_address[conn.address] <= 0:
            del self.per_address[conn.address]
        for name in conn.subscriptions:
            self.channels.unsubscribe(name, conn)
        conn.subscriptions.clear()
        if conn.tick_symbols:
            self.ticks.unsubscribe(conn)
        if self._stopping and not self.connections:
            self._all_gone.set()

    def welcome(self, conn: Connection, hello: Hello) -> bytes:
        assert conn.user is not None
        return encode(Welcome(v=PROTOCOL_VERSION, server=f"tradewire/{__version__}",
                              session=conn.session_id, heartbeat_s=self.config.hub.heartbeat_s,
                              roles=[conn.user.role], re=hello.id,
                              max_frame_bytes=self.config.hub.max_frame_bytes))

    # ---- channels (PROTOCOL.md 1.1) -------------------------------------------------------------

    def publish(self, conn: Connection, frame: PublishState) -> None:
        """Stamp, store durably, then fan out and acknowledge (in that order)."""
        assert conn.user is not None
        if not may_publish(conn.user, frame.ch):
            conn.send(error_line("forbidden", f"you may not publish to {frame.ch!r}", frame.id))
            return
        channel = self.channels.get(frame.ch)
        seq = channel.next_seq()
        line = encode(stamp(frame, seq))
        stored_at = now_ms(self.clock)

        def stored(result: object) -> None:
            if isinstance(result, Exception):
                log.error("state %s#%d not stored: %s", frame.ch, seq, result)
                conn.send(error_line("internal", "state not stored; storage unavailable",
                                     frame.id))
                return
            channel.commit(line)
            self.stats["states"] += 1
            conn.send(encode(Ack(re=frame.id, seq=seq)))

        self.writer.submit(StateDB.put_state_op(frame.ch, seq, frame.ts, line, stored_at), stored)

    def publish_ticks(self, conn: Connection, frame: PublishTicks) -> None:
        assert conn.user is not None
        if conn.user.role not in ("provider", "admin"):
            conn.send(error_line("forbidden", "only providers and admins may send ticks",
                                 frame.id))
            return
        self.ticks.submit_native(conn, conn.user.name, frame)

    def subscribe(self, conn: Connection, frame: Sub) -> None:
        assert conn.user is not None
        if frame.ticks is not None:
            self._subscribe_ticks(conn, frame, frame.ticks)
            return
        assert frame.ch is not None
        if not may_subscribe(conn.user, frame.ch):
            conn.send(error_line("forbidden", f"you may not subscribe to {frame.ch!r}", frame.id))
            return
        if frame.ch in conn.subscriptions:
            conn.send(encode(Ack(re=frame.id)))
            return
        limit = self.config.hub.max_subscriptions
        if len(conn.subscriptions) >= limit:
            # The session and its other subscriptions stay: refusing one sub loses nothing.
            conn.send(error_line("rate_limited", f"at most {limit} subscriptions per session",
                                 frame.id))
            return
        channel = self.channels.subscribe(frame.ch, conn)
        conn.subscriptions.add(frame.ch)
        conn.send(encode(Ack(re=frame.id)))
        if channel.latest is not None:
            conn.send_state(frame.ch, channel.latest)

    def _subscribe_ticks(self, conn: Connection, frame: Sub, symbols: list[str]) -> None:
        bad = [s for s in symbols if s != "*" and not is_symbol(s)]
        if bad or not symbols:
            conn.send(error_line("bad_frame", f"ticks: symbols or \"*\", not {bad[:3]}",
                                 frame.id))
            return
        limit = self.config.hub.max_subscriptions
        wanted = set(symbols) - conn.tick_symbols
        if len(conn.subscriptions) + len(conn.tick_symbols) + len(wanted) > limit:
            conn.send(error_line("rate_limited", f"at most {limit} subscriptions per session",
                                 frame.id))
            return
        conn.tick_symbols |= wanted
        self.ticks.subscribe(conn, sorted(wanted))
        conn.send(encode(Ack(re=frame.id)))

    def unsubscribe(self, conn: Connection, frame: Unsub) -> None:
        if frame.ticks is not None:
            conn.tick_symbols -= set(frame.ticks)
            self.ticks.unsubscribe(conn, frame.ticks)
            return
        assert frame.ch is not None
        conn.subscriptions.discard(frame.ch)
        conn.conflated.pop(frame.ch, None)
        self.channels.unsubscribe(frame.ch, conn)
