"""The hub: listeners, admission limits, channels, the sweeper, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import ssl
from collections import Counter
from collections.abc import Coroutine, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tradewire import __version__
from tradewire.bus.base import Message
from tradewire.clock import Clock, SystemClock, host_id
from tradewire.config import Config, plaintext_problem
from tradewire.exceptions import BusError, ConfigError, StoreError
from tradewire.hub.affinity import steer_by_source
from tradewire.hub.auth import Authenticator
from tradewire.hub.compose import Ground, HubParts, assemble
from tradewire.hub.connection import Connection
from tradewire.hub.context import ServiceFactory
from tradewire.hub.dashboard import Dashboard
from tradewire.hub.events import HubEvents
from tradewire.hub.listener_gate import HEADERS_END, HTTP_BUSY
from tradewire.hub.service import Dispatcher
from tradewire.hub.supervisor import TaskSupervisor
from tradewire.hub.tls import TlsListener, tls_context
from tradewire.hub.upkeep import Upkeep
from tradewire.hub.web import WebServer
from tradewire.metrics import Metrics
from tradewire.protocol.codec import decode_server_frame, encode, error_line
from tradewire.protocol.messages import (
    PROTOCOL_VERSION,
    SUPPORTED_VERSIONS,
    Bye,
    Hello,
    Welcome,
)
from tradewire.store import committer as committers
from tradewire.store.private import DataLock, loose_modes
from tradewire.store.state import SqliteStateStore
from tradewire.store.tick_stores import open_tick_store
from tradewire.store.ticks import TickStore

if TYPE_CHECKING:
    from tradewire.hub.article.sentiment import SentimentListener
    from tradewire.hub.article.signal import ArticleSignalListener
    from tradewire.hub.article.template import TemplateListener

log = logging.getLogger(__name__)

SHUTDOWN_DRAIN_S = 2.0


def _per_writer(figure: str) -> dict[tuple[str, ...], float]:
    """A figure of each storage writer, by name, summed over the live writers of that name
    (one per hub; a test process may hold several hubs' until they are collected)."""
    out: dict[tuple[str, ...], float] = {}
    for committer in list(committers.LIVE):
        key = (committer.name,)
        out[key] = out.get(key, 0.0) + float(getattr(committer, figure))
    return out


class Hub:
    """An authenticated signal hub. ``await start()``, then ``await stop()``."""

    supported_versions: tuple[int, ...] = SUPPORTED_VERSIONS

    def __init__(
        self,
        config: Config,
        data_dir: Path,
        clock: Clock | None = None,
        services: Sequence[ServiceFactory] = (),
        worker: int | None = None,
        worker_count: int = 1,
    ) -> None:
        """``services``: more features beside the built-in ones, each built from a
        :class:`ServiceContext` (see docs/architecture.md). ``worker``: this hub is process
        number ``worker`` of ``serve --workers`` (hub/workers.py): it shares the port and the
        data directory with the others (the supervisor holds the directory's lock), and only
        worker 0 runs the article listeners and the web side."""
        self.worker = worker
        self.worker_count = worker_count  # serve --workers N: connections steered by source
        self.config = config
        self._extra_services = services
        self.data_dir = data_dir
        self.clock: Clock = clock or SystemClock()
        self.events = HubEvents()  # what happens in the hub; who listens: hub/compose.py
        self.connections: set[Connection] = set()
        self.per_address: Counter[str] = Counter()
        self.metrics = Metrics()
        self.refused = self.metrics.counter(
            "tradewire_refused_connections_total", "connections refused at accept", ("reason",)
        )
        self.frames = self.metrics.counter(
            "tradewire_frames_total", "frames received from clients, by type", ("type",)
        )
        self.slow_consumers = self.metrics.counter(
            "tradewire_slow_consumers_total", "times a client's outbound buffer filled up"
        )
        self.supervisor = TaskSupervisor(
            self.spawn,
            self.metrics.counter(
                "tradewire_task_restarts_total", "long-lived hub tasks restarted", ("task",)
            ),
        )
        self.metrics.gauge("tradewire_connections", "open connections", self._count_connections)
        self.metrics.gauge(
            "tradewire_writer_queue_depth",
            "items waiting for each storage writer",
            lambda: _per_writer("queued"),
            ("writer",),
        )
        self.metrics.gauge(
            "tradewire_writer_commits",
            "group commits made by each storage writer",
            lambda: _per_writer("commits"),
            ("writer",),
        )
        self.metrics.gauge(
            "tradewire_writer_commit_seconds",
            "time spent committing, by writer (divide by commits for the mean)",
            lambda: _per_writer("commit_seconds"),
            ("writer",),
        )
        self.metrics.gauge(
            "tradewire_sessions", "logged-in sessions by role", self._count_sessions, ("role",)
        )
        self.addresses: list[tuple[str, int]] = []
        self.listening: list[str] = []  # one line per listener for the start banner
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.Server | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._all_gone = asyncio.Event()  # set when stopping and the last connection is gone
        self.tls_context: ssl.SSLContext | None = None
        self.web: WebServer | None = None
        self._tls_listener: TlsListener | None = None
        self._lock = DataLock(data_dir)
        # Made by start(), in this order: storage, the login check, then every part at once.
        self.store: SqliteStateStore
        self.auth: Authenticator
        self.parts: HubParts
        self.upkeep: Upkeep

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> list[tuple[str, int]]:
        """Open storage, make every part (hub/compose.py), restore what was stored, listen.
        Returns the (host, port) pairs bound."""
        loop = asyncio.get_running_loop()
        await self._open_storage(loop)
        ground = Ground(
            self.config,
            self.data_dir,
            self.clock,
            self.metrics,
            self.events,
            self.store,
            self.auth,
            self.connections,
            self.spawn,
            lambda: self._stopping,
            self.open_tick_store,
        )
        self.parts = assemble(ground, loop, self._extra_services)  # before listening
        await self._restore()
        await self._listen(loop)
        if self.worker:  # the article listeners and the web side run in worker 0 only
            self.supervisor.start("upkeep", self.upkeep.run)
            return self.addresses
        try:
            await self.parts.legacy.start()
            self.addresses += self.parts.legacy.addresses
            self.listening += self.parts.legacy.banners
            if self.config.web.enabled:
                await self._start_web()
        except ConfigError:
            await self.stop()
            raise
        self.supervisor.start("upkeep", self.upkeep.run)
        log.info("hub listening on %s", ", ".join(f"{h}:{p}" for h, p in self.addresses))
        return self.addresses

    async def _open_storage(self, loop: asyncio.AbstractEventLoop) -> None:
        """The settings checked, state.db opened and locked, the login check, the tick store
        reached (PostgreSQL: unreachable is said now, not at the first tick)."""
        problem = plaintext_problem(self.config)
        if problem is not None and not self.config.hub.allow_plaintext:
            raise ConfigError(problem)
        self.tls_context = tls_context(self.config.tls)
        self.store = await SqliteStateStore.open(self.data_dir, self.clock)
        try:
            if self.worker is None:  # a worker: its supervisor holds the lock
                self._lock.acquire()
        except StoreError:
            await loop.run_in_executor(None, self.store.close)
            raise
        if problem is not None:
            log.warning("%s (allowed by hub.allow_plaintext)", problem)
        for line in loose_modes(self.data_dir):
            log.warning("%s", line)
        self.auth = Authenticator(self.config, self.store, self.clock, self.metrics, self.events)
        if self.config.ticks.postgres:
            try:
                await asyncio.to_thread(lambda: self.open_tick_store().close())
            except StoreError as exc:
                await loop.run_in_executor(None, self._release)
                raise ConfigError(f"ticks.postgres: {exc}") from exc

    async def _restore(self) -> None:
        """The bus started, each channel's latest state, topic owners, jobs, bans and users
        read back; the long-lived tasks started."""
        parts = self.parts
        try:
            await parts.bus.start(self.config.nats.connect_timeout_s)
        except BusError as exc:
            await self._abandon_start()
            raise ConfigError(f"nats.servers: {exc} (is nats-server running there?)") from exc
        stored = await self.store.load_states()
        parts.bus.restore(
            Message(s.channel, s.seq, decode_server_frame(s.frame), s.frame) for s in stored
        )
        parts.topics.restore((s.channel for s in stored), await self.store.load_topic_owners())
        await parts.jobs.load()
        self.supervisor.start("jobs", parts.jobs.run)
        self.supervisor.start("sentiment", parts.sentiment.run)
        self.upkeep = Upkeep(parts)
        await self.upkeep.load()
        if parts.nats is not None:  # the users only this hub has, to the others
            await parts.nats.users.publish_changes()

    async def _listen(self, loop: asyncio.AbstractEventLoop) -> None:
        """The native port, in plain TCP or TLS."""
        hub = self.config.hub
        try:
            if self.tls_context is None:
                self._server = await loop.create_server(
                    lambda: Connection(self),
                    hub.host,
                    hub.port,
                    backlog=4096,
                    reuse_address=True,
                    reuse_port=self.worker is not None,  # the kernel spreads the workers' load
                )
                self.addresses = [sock.getsockname()[:2] for sock in self._server.sockets]
                self.listening = [f"tcp://{h}:{p}" for h, p in self.addresses]
                listening: list[Any] = list(self._server.sockets)
            else:
                self._tls_listener = TlsListener(self, self.tls_context)
                self.addresses = self._tls_listener.start(
                    hub.host, hub.port, reuse_port=self.worker is not None
                )
                self.listening = [f"tls://{h}:{p}" for h, p in self.addresses]
                listening = list(self._tls_listener.sockets)
            if self.worker is not None and self.worker_count > 1:
                for sock in listening:  # one source address, one worker (hub/affinity.py)
                    steer_by_source(sock, self.worker_count)
        except OSError as exc:
            await self._abandon_start()
            raise ConfigError(
                f"hub.host/hub.port: cannot listen on {hub.host}:{hub.port}: "
                f"{exc.strerror} (another hub running? pick another port "
                "with --port)"
            ) from exc

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
        parts = self.parts
        await parts.legacy.stop()
        if self.web is not None:
            await self.web.stop()
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
        await parts.bus.close()
        parts.fanout.close()
        await self.store.flush()
        await asyncio.to_thread(parts.ticks.stop)  # commits what is queued
        await asyncio.to_thread(parts.job_store.stop)
        await asyncio.to_thread(parts.history_store.stop)
        await asyncio.to_thread(self.upkeep.save_listener_stats)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._release)
        self._stopped.set()

    async def _start_web(self) -> None:
        """/metrics, /healthz, /readyz (ready: each store commits, the bus answers)."""
        settings, parts = self.config.web, self.parts
        checks = {
            "state_store": self.store.flush,
            "tick_store": parts.ticks.flush,
            "job_store": parts.job_store.flush,
            "bus": self._bus_answers,
            "tasks": self.supervisor.check,
        }
        secure = self.tls_context is not None
        dashboard = Dashboard(parts, secure, self.events) if settings.dashboard else None
        self.web = WebServer(
            settings,
            self.metrics,
            checks,
            self.tls_context,
            dashboard.routes if dashboard else None,
            dashboard.close if dashboard else None,
            parts.gates.gate("web", HTTP_BUSY, HEADERS_END),
        )
        try:
            address = await self.web.start()
        except OSError as exc:
            raise ConfigError(
                f"web.port: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
                " (set web.port to a free port)"
            ) from exc
        self.addresses.append(address)
        scheme = "https" if self.tls_context else "http"
        what = "dashboard, metrics and health" if settings.dashboard else "metrics and health"
        self.listening.append(f"{scheme}://{address[0]}:{address[1]} ({what})")

    async def _bus_answers(self) -> object:
        if not self.parts.bus.connected:
            raise BusError("the hub is cut off from NATS")
        return self.parts.bus.latest("")

    async def _abandon_start(self) -> None:
        """Undo a start that failed before listening."""
        await self.parts.bus.close()
        await asyncio.to_thread(self.parts.ticks.stop)
        await asyncio.to_thread(self.parts.job_store.stop)
        await asyncio.to_thread(self.parts.history_store.stop)
        await asyncio.get_running_loop().run_in_executor(None, self._release)

    def open_tick_store(self) -> TickStore:
        """A tick store for the calling thread: SQLite, or PostgreSQL under ``[ticks]``."""
        return open_tick_store(self.data_dir, self.config.ticks.postgres)

    @property
    def stopping(self) -> bool:
        return self._stopping

    def _count_connections(self) -> dict[tuple[str, ...], float]:
        return {(): float(len(self.connections))}

    def _count_sessions(self) -> dict[tuple[str, ...], float]:
        roles = Counter(c.user.role for c in self.connections if c.user is not None)
        return {(role,): float(n) for role, n in roles.items()}

    @property
    def dispatcher(self) -> Dispatcher:
        """Every service's frames (Connection's Host)."""
        return self.parts.dispatcher

    # The article listeners, for tests and the status of a running hub.
    @property
    def template(self) -> TemplateListener | None:
        return self.parts.legacy.template

    @property
    def article_signal(self) -> ArticleSignalListener | None:
        return self.parts.legacy.article_signal

    @property
    def sentiment_listener(self) -> SentimentListener | None:
        return self.parts.legacy.sentiment

    def snapshot(self) -> Mapping[str, Any]:
        """A read-only view of every metric (for the status command, a dashboard, /metrics)."""
        return self.metrics.snapshot()

    def _release(self) -> None:
        self.auth.close()
        self.store.close()
        self._lock.release()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` as a task the hub owns (cancelled on stop)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub task failed", exc_info=task.exception())

    # ---- admission ------------------------------------------------------------------------------

    def admit(self, conn: Connection) -> bytes | None:
        """Register a new connection, or return the frame to refuse it with."""
        if self._stopping:
            return encode(Bye(reason="shutdown"))
        nats = self.parts.nats
        if nats is not None and nats.cut_off:
            self.refused.inc(1, "bus_unavailable")
            return encode(Bye(reason="bus_unavailable"))
        refusal = self._refusal(conn)
        if refusal is not None:
            reason, line = refusal
            self.refused.inc(1, reason)
            self.parts.auditor.audit("refused", None, conn.address, reason)
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
        self.parts.dispatcher.session_ended(conn)
        if conn.user is not None:
            self.parts.auditor.audit(
                "session_end",
                conn.user.name,
                conn.address,
                f"session={conn.session_id} {conn.end_reason}",
            )
            log.info(
                "session end: %s from %s (%s)",
                conn.user.name,
                conn.address,
                conn.end_reason or "closed",
            )
        if self._stopping and not self.connections:
            self._all_gone.set()

    def welcome(self, conn: Connection, hello: Hello) -> Welcome:
        assert conn.user is not None
        return Welcome(
            v=PROTOCOL_VERSION,
            server=f"tradewire/{__version__}",
            session=conn.session_id,
            heartbeat_s=self.config.hub.heartbeat_s,
            roles=[conn.user.role],
            re=hello.id,
            max_frame_bytes=self.config.hub.max_frame_bytes,
            host=host_id(),
        )
