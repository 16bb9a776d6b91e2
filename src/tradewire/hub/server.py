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
from tradewire.clock import Clock, SystemClock, format_ms, now_ms
from tradewire.config import Config, plaintext_problem
from tradewire.exceptions import ConfigError, StoreError
from tradewire.hub.acl import may_publish, may_subscribe
from tradewire.hub.article_signal import ArticleSignalListener
from tradewire.hub.auth import Authenticator
from tradewire.hub.channels import Channel, ChannelRegistry
from tradewire.hub.connection import Connection
from tradewire.hub.files import FileService
from tradewire.hub.tcp_ticks import TcpTickListener
from tradewire.hub.template import TemplateListener
from tradewire.hub.ticks import TickService
from tradewire.hub.tls import TlsListener, tls_context
from tradewire.hub.udp_ticks import UdpTickListener
from tradewire.hub.upkeep import Upkeep
from tradewire.protocol.codec import encode, error_line, stamp
from tradewire.protocol.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    Ack,
    Bye,
    Hello,
    PublishState,
    PublishTicks,
    RequestId,
    Sub,
    Unsub,
    Welcome,
)
from tradewire.protocol.names import is_symbol
from tradewire.store.db import StateDB
from tradewire.store.private import DataLock, loose_modes
from tradewire.store.writer import BatchWriter

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 2.0


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
        self.listening: list[str] = []  # one line per listener for the start banner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._all_gone = asyncio.Event()  # set when stopping and the last connection is gone
        self.template: TemplateListener | None = None
        self.article_signal: ArticleSignalListener | None = None
        self._tick_listeners: list[UdpTickListener | TcpTickListener] = []
        self.tls_context: ssl.SSLContext | None = None
        self._tls_listener: TlsListener | None = None
        self._lock = DataLock(data_dir)

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> list[tuple[str, int]]:
        """Open storage, restore state and bans, listen. Returns the (host, port) pairs bound."""
        loop = asyncio.get_running_loop()
        hub = self.config.hub
        problem = plaintext_problem(self.config)
        if problem is not None and not hub.allow_plaintext:
            raise ConfigError(problem)
        self.tls_context = tls_context(self.config.tls)
        self.db = await loop.run_in_executor(None, StateDB, self.data_dir)
        try:
            self._lock.acquire()
        except StoreError:
            await loop.run_in_executor(None, self.db.close)
            raise
        if problem is not None:
            log.warning("%s (allowed by hub.allow_plaintext)", problem)
        for line in loose_modes(self.data_dir):
            log.warning("%s", line)
        self.writer = BatchWriter(self.db)
        self.auth = Authenticator(self.config, self.db, self.writer, self.clock)
        self.files = FileService(self)  # before listening: a file frame may come at once
        self.channels.load(await self.writer.call(self.db.load_states))
        self.upkeep = Upkeep(self)
        await self.upkeep.load()
        try:
            if self.tls_context is None:
                self._server = await loop.create_server(
                    lambda: Connection(self), hub.host, hub.port, backlog=4096, reuse_address=True
                )
                self.addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
                self.listening = [f"tcp://{h}:{p}" for h, p in self.addresses]
            else:
                self._tls_listener = TlsListener(self, self.tls_context)
                self.addresses = self._tls_listener.start(hub.host, hub.port)
                self.listening = [f"tls://{h}:{p}" for h, p in self.addresses]
        except OSError as exc:
            await loop.run_in_executor(None, self._release)
            raise ConfigError(
                f"hub.host/hub.port: cannot listen on {hub.host}:{hub.port}: "
                f"{exc.strerror} (another hub running? pick another port "
                "with --port)"
            ) from exc
        self.ticks = TickService(self.data_dir, self.clock)
        self.ticks.start(loop)
        try:
            await self._start_legacy_listeners()
        except ConfigError:
            await self.stop()
            raise
        self.spawn(self.upkeep.run())
        log.info("hub listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))
        return self.addresses

    async def stop(self) -> None:
        """Stop accepting, say bye to everyone, flush storage, release everything."""
        if self._stopping:
            await self._stopped.wait()
            return
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._tls_listener is not None:
            self._tls_listener.close()
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
        await asyncio.sleep(0)  # aborted connections' connection_lost (their audit rows) runs
        await self.writer.flush()
        await asyncio.to_thread(self.ticks.stop)  # commits what is queued
        await asyncio.to_thread(self.upkeep.save_listener_stats)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._release)
        self._stopped.set()

    async def _start_legacy_listeners(self) -> None:
        """The article-compatible listeners that are enabled; a port in use is a ConfigError
        naming the listener."""
        listeners = self.config.listeners
        assert self.ticks.writer is not None
        for key in ("udp_ticks", "tcp_ticks", "signal", "template"):
            settings = getattr(listeners, key)
            if not settings.enabled:
                continue
            try:
                if key == "udp_ticks":
                    udp = UdpTickListener(listeners.udp_ticks, self.ticks.writer)
                    self._legacy("udp", "UDP ticks", udp.start())
                    self._tick_listeners.append(udp)
                    self.ticks.listeners.append(udp.counters)
                elif key == "tcp_ticks":
                    tcp = TcpTickListener(listeners.tcp_ticks, self.ticks.writer)
                    self._legacy("tcp", "text ticks", await tcp.start())
                    self._tick_listeners.append(tcp)
                    self.ticks.listeners.append(tcp.counters)
                elif key == "signal":
                    self.article_signal = ArticleSignalListener(listeners.signal, self.channels)
                    self._legacy("tcp", "article signals", await self.article_signal.start())
                else:
                    self.template = TemplateListener(listeners.template, self.files, self.spawn)
                    self._legacy("tcp", "chart template", await self.template.start())
            except OSError as exc:
                raise ConfigError(
                    f"listeners.{key}: cannot listen on {settings.host}:{settings.port}: "
                    f"{exc.strerror or exc} (another program has it? set listeners.{key}.port "
                    "to a free port)"
                ) from exc

    def _legacy(self, scheme: str, what: str, address: tuple[str, int]) -> None:
        """An article-compatible listener: its banner line says it has no authentication."""
        self.addresses.append(address)
        self.listening.append(
            f"{scheme}://{address[0]}:{address[1]} ({what}, article format: "
            "no authentication, source-address allow-list only)"
        )

    def _release(self) -> None:
        self.auth.close()
        self.writer.close()
        self.db.close()
        self._lock.release()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task the hub owns (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def audit(
        self, event: str, user: str | None, address: str | None, detail: str | None = None
    ) -> None:
        """Append to the audit log (group-committed with everything else)."""
        self.writer.submit(StateDB.audit_op(now_ms(self.clock), event, user, address, detail))

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task failed", exc_info=task.exception())

    # ---- admission ------------------------------------------------------------------------------

    def admit(self, conn: Connection) -> bytes | None:
        """Register a new connection, or return the frame to refuse it with."""
        if self._stopping:
            return encode(Bye(reason="shutdown"))
        refusal = self._refusal(conn)
        if refusal is not None:
            reason, line = refusal
            self.stats[f"refused_{reason}"] += 1
            self.audit("refused", None, conn.address, reason)
            return line
        self.connections.add(conn)
        self.per_address[conn.source] += 1
        return None

    def _refusal(self, conn: Connection) -> tuple[str, bytes] | None:
        retry_after = self.auth.bans.retry_after(conn.address)
        if retry_after is not None:
            return "banned", error_line(
                "banned",
                "too many failed logins from your address",
                retry_after_s=math.ceil(retry_after),
            )
        hub = self.config.hub
        if len(self.connections) >= hub.max_connections:
            return "busy", error_line(
                "server_busy", f"connection limit ({hub.max_connections}) reached"
            )
        if self.per_address[conn.source] >= hub.max_connections_per_address:
            return "per_address", error_line(
                "rate_limited",
                f"too many connections from your address (limit {hub.max_connections_per_address})",
            )
        return None

    def forget(self, conn: Connection) -> None:
        """A registered connection is gone: drop it from every table."""
        self.connections.discard(conn)
        self.per_address[conn.source] -= 1
        if self.per_address[conn.source] <= 0:
            del self.per_address[conn.source]
        for channel in self.channels.published_by(conn):
            channel.release(conn)
        if conn.user is not None:
            self.audit(
                "session_end",
                conn.user.name,
                conn.address,
                f"session={conn.session_id} {conn.end_reason}",
            )
        for name in conn.subscriptions:
            self.channels.unsubscribe(name, conn)
        conn.subscriptions.clear()
        if conn.tick_symbols:
            self.ticks.unsubscribe(conn)
        if self._stopping and not self.connections:
            self._all_gone.set()

    def welcome(self, conn: Connection, hello: Hello) -> bytes:
        assert conn.user is not None
        return encode(
            Welcome(
                v=PROTOCOL_VERSION,
                server=f"tradewire/{__version__}",
                session=conn.session_id,
                heartbeat_s=self.config.hub.heartbeat_s,
                roles=[conn.user.role],
                re=hello.id,
                max_frame_bytes=self.config.hub.max_frame_bytes,
            )
        )

    # ---- channels (PROTOCOL.md 1.1) -------------------------------------------------------------

    def publish(self, conn: Connection, frame: PublishState) -> None:
        """Stamp, store durably, then fan out and acknowledge (in that order)."""
        assert conn.user is not None
        if not may_publish(conn.user, frame.ch):
            self.forbidden(conn, f"you may not publish to {frame.ch!r}", frame.id)
            return
        channel = self.channels.get(frame.ch)
        if not self._claim(conn, channel, frame):
            return
        seq = channel.next_seq()
        line = encode(stamp(frame, seq))
        stored_at = now_ms(self.clock)

        def stored(result: object) -> None:
            if isinstance(result, Exception):
                log.error("state %s#%d not stored: %s", frame.ch, seq, result)
                conn.send(error_line("internal", "state not stored; storage unavailable", frame.id))
                return
            channel.commit(line)
            self.stats["states"] += 1
            conn.send(encode(Ack(re=frame.id, seq=seq)))

        self.writer.submit(StateDB.put_state_op(frame.ch, seq, frame.ts, line, stored_at), stored)

    def _claim(self, conn: Connection, channel: Channel, frame: PublishState) -> bool:
        """One live publisher per channel (see Channel.claim); False when refused."""
        assert conn.user is not None
        key = (conn.user.name, frame.account.login)
        previous = channel.publisher_key
        outcome = channel.claim(conn, key, frame.takeover, now_ms(self.clock))
        if outcome == "busy":
            since = channel.publisher_since_ms
            self.audit(
                "refused",
                conn.user.name,
                conn.address,
                f"channel_busy ch={frame.ch} publisher={previous[0]}",
            )
            conn.send(
                error_line(
                    "channel_busy",
                    f"{frame.ch!r} is published by {previous[0]!r} (account "
                    f"{previous[1]}) since {format_ms(since)}; stop that publisher, or take over "
                    'explicitly ("takeover": true, tradewire provide --takeover)',
                    frame.id,
                    since_ms=since,
                )
            )
            return False
        if outcome is not None:
            log.warning(
                "%s of channel %s: %s (account %s) replaces %s (account %s)",
                outcome,
                frame.ch,
                key[0],
                key[1],
                previous[0],
                previous[1],
            )
            self.audit(
                outcome,
                conn.user.name,
                conn.address,
                f"ch={frame.ch} replaced={previous[0]}/{previous[1]}",
            )
        return True

    def forbidden(self, conn: Connection, msg: str, re: RequestId) -> None:
        """Refuse one request with ``forbidden``, audited."""
        assert conn.user is not None
        self.audit("forbidden", conn.user.name, conn.address, msg)
        conn.send(error_line("forbidden", msg, re))

    def publish_ticks(self, conn: Connection, frame: PublishTicks) -> None:
        assert conn.user is not None
        if conn.user.role not in ("provider", "admin"):
            self.forbidden(conn, "only providers and admins may send ticks", frame.id)
            return
        self.ticks.submit_native(conn, conn.user.name, frame)

    def subscribe(self, conn: Connection, frame: Sub) -> None:
        assert conn.user is not None
        if frame.ticks is not None:
            self._subscribe_ticks(conn, frame, frame.ticks)
            return
        assert frame.ch is not None
        if not may_subscribe(conn.user, frame.ch):
            self.forbidden(conn, f"you may not subscribe to {frame.ch!r}", frame.id)
            return
        if frame.ch in conn.subscriptions:
            conn.send(encode(Ack(re=frame.id)))
            return
        limit = self.config.hub.max_subscriptions
        if len(conn.subscriptions) >= limit:
            # The session and its other subscriptions stay: refusing one sub loses nothing.
            conn.send(
                error_line("rate_limited", f"at most {limit} subscriptions per session", frame.id)
            )
            return
        channel = self.channels.subscribe(frame.ch, conn)
        conn.subscriptions.add(frame.ch)
        conn.send(encode(Ack(re=frame.id)))
        if channel.latest is not None:
            conn.send_state(frame.ch, channel.latest)

    def _subscribe_ticks(self, conn: Connection, frame: Sub, symbols: list[str]) -> None:
        bad = [s for s in symbols if s != "*" and not is_symbol(s)]
        if bad or not symbols:
            conn.send(error_line("bad_frame", f'ticks: symbols or "*", not {bad[:3]}', frame.id))
            return
        limit = self.config.hub.max_subscriptions
        wanted = set(symbols) - conn.tick_symbols
        if len(conn.subscriptions) + len(conn.tick_symbols) + len(wanted) > limit:
            conn.send(
                error_line("rate_limited", f"at most {limit} subscriptions per session", frame.id)
            )
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
        self.unsubscribe_channel(conn, frame.ch)

    def unsubscribe_channel(self, conn: Connection, name: str) -> None:
        conn.subscriptions.discard(name)
        conn.conflated.pop(name, None)
        self.channels.unsubscribe(name, conn)
