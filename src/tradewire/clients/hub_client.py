"""An async client of the hub: connect, hello, sub/unsub, publish_state, ping.

It reconnects by itself with exponential backoff and jitter and, once logged in again,
re-subscribes to every channel it was subscribed to. Wrong credentials stop it for good
(:class:`HubRefused` with code ``auth_failed``); a ban makes it wait ``retry_after_s``, but
never more than 30 s between tries (a ban can be lifted any moment). Every disconnect, refusal
and reconnect is logged at INFO with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl as ssl_module
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any

import msgspec

from tradewire import __version__
from tradewire.clients.backoff import Backoff
from tradewire.clock import host_id, micros
from tradewire.exceptions import ConnectionLost, HubRefused, ProtocolError
from tradewire.protocol.client_session import MISSED_HEARTBEATS, ClientSession
from tradewire.protocol.codec import encode
from tradewire.protocol.framing import DEFAULT_HEARTBEAT_S, DEFAULT_MAX_FRAME_BYTES
from tradewire.protocol.messages import (
    PROTOCOL_VERSION,
    Account,
    Ack,
    BudgetReply,
    BudgetRequest,
    Bye,
    ChannelStats,
    ChannelStatsRequest,
    Deal,
    Error,
    FileData,
    FileGet,
    FileInfo,
    FileList,
    FileListing,
    FilePut,
    Hello,
    Kick,
    MetaValue,
    PendingOrder,
    Ping,
    Pong,
    Position,
    PublishState,
    PublishTicks,
    PutDeals,
    Relayed,
    SessionInfo,
    SessionList,
    Sessions,
    SimulateRequest,
    Simulation,
    StateUpdate,
    StatusReply,
    StatusRequest,
    Sub,
    Unsub,
    Welcome,
)
from tradewire.protocol.tick_columns import TickColumns

log = logging.getLogger(__name__)

_PERMANENT = frozenset({"auth_failed", "unsupported_version"})
READ_CHUNK = 1 << 16
MAX_REFUSED_WAIT_S = 30.0  # a ban says how long it lasts; retry at least this often anyway
STORE_RETRY_S, MAX_STORE_RETRY_S = 0.2, 2.0  # resending what the hub could not store


class HubClient:
    """One logical session with the hub that survives disconnects."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        *,
        ssl: ssl_module.SSLContext | None = None,
        server_hostname: str | None = None,
        agent: str = f"tradewire/{__version__}",
        backoff: Backoff | None = None,
        connect_timeout: float = 5.0,
        on_state: Callable[[StateUpdate], None] | None = None,
        max_refused_wait_s: float = MAX_REFUSED_WAIT_S,
        fallbacks: Sequence[tuple[str, int]] = (),
    ) -> None:
        """``fallbacks``: more hubs sharing the same channels (docs/scaling.md); when the
        current one is lost or cannot be reached, the client moves to the next, in turn."""
        self.host, self.port, self.user = host, port, user
        self.hubs = [(host, port), *fallbacks]
        self._hub_index = 0
        self._password = password
        self._ssl, self._server_hostname, self._agent = ssl, server_hostname, agent
        self._backoff = backoff or Backoff()
        self._connect_timeout = connect_timeout
        self._on_state = on_state
        self._max_refused_wait_s = max_refused_wait_s
        self._ids = itertools.count(1)
        self._waiting: dict[int | str, asyncio.Future[Any]] = {}
        self._channels: set[str] = set()
        self._latest: dict[str, StateUpdate] = {}
        self._fresh = asyncio.Condition()
        self._writer: asyncio.StreamWriter | None = None
        self._connected = asyncio.Event()
        self._closed = False
        self._fatal: HubRefused | None = None
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # re-subscriptions in flight
        self._on_reconnect: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.welcome: Welcome | None = None
        self.reconnects = 0
        # The hub's clock minus ours, microseconds (docs/latency.md): 0 on the hub's host,
        # measured with pings after each login elsewhere; None until known.
        self.clock_offset_us: int | None = None
        self._session: ClientSession | None = None
        self._early: list[Any] = []  # frames that came with the welcome
        # What each frame the hub sends means to this client (one table, no isinstance chain).
        self._handlers: dict[type, Callable[[Any], Awaitable[None] | None]] = {
            StateUpdate: self._deliver,
            Ack: self._answer,
            Pong: self._answer,
            FileData: self._answer,
            FileListing: self._answer,
            SessionList: self._answer,
            Relayed: self._answer,
            Error: self._on_error,
        }

    # ---- lifecycle ----------------------------------------------------------------------------

    async def start(self, wait: bool = False) -> None:
        """Connect and log in, then keep the session up.

        Raises on failure, unless ``wait``: then it keeps trying (logging each refusal) until
        it is in; only a permanent refusal (wrong password, unsupported version) raises.
        """
        reader = await (self._reconnect(first=True) if wait else self._open_any())
        self._runner = asyncio.get_running_loop().create_task(self._run(reader))

    async def close(self) -> None:
        """Say bye and stop reconnecting."""
        self._closed = True
        if self._writer is not None:
            with contextlib.suppress(OSError, RuntimeError):
                self._writer.write(encode(Bye(reason="client closing")))
            self._writer.close()
        for task in [*self._tasks, *([self._runner] if self._runner else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._fail_waiting(ConnectionLost("client closed"))

    async def __aenter__(self) -> HubClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # ---- extension points (used by clients/relay.py) --------------------------------------------

    def on_frame(self, frame_type: type, handler: Callable[[Any], Awaitable[None] | None]) -> None:
        """Call ``handler`` with every frame of ``frame_type`` the hub sends (in the read loop:
        a handler that awaits holds up reading, so long work belongs in a task)."""
        self._handlers[frame_type] = handler

    def on_reconnect(self, restore: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``restore`` after every reconnect (re-register what the old session had)."""
        self._on_reconnect.append(restore)

    async def request(self, frame: msgspec.Struct, request_id: int | str | None = None) -> Any:
        """Send ``frame`` with an id and return the hub's answer to it (``ack`` or a reply
        frame). Raises :class:`HubRefused` for an ``error``, :class:`ConnectionLost` if the
        connection drops first (then it was perhaps delivered: only resend what is idempotent)."""
        return await self._request(frame, request_id)

    # ---- requests -------------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        """Subscribe to ``channel`` (kept across reconnects). Raises :class:`HubRefused`."""
        self._channels.add(channel)  # before the request: the first state follows the ack
        try:
            await self._request(Sub(ch=channel))
        except HubRefused:
            self._channels.discard(channel)
            raise

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        self._latest.pop(channel, None)
        await self._request(Unsub(ch=channel))

    async def publish_state(
        self,
        channel: str,
        account: Account,
        positions: list[Position],
        ts: int,
        takeover: bool = False,
        detected: float | None = None,
        *,
        orders: list[PendingOrder] | None = None,
    ) -> int:
        """Publish a full state; returns the hub's ``seq`` once the hub stored it. ``orders``:
        the account's pending orders (protocol 1.2); None says nothing about them.

        A state is the whole truth, so if the connection drops before the ack the same state is
        sent again after the reconnect, and if the hub could not store it (``internal``) it is
        sent again after a short wait, until stored. Another live publisher on the channel
        (another user or account) makes it ``HubRefused("channel_busy")`` unless ``takeover``
        is set. ``detected``: when the change was seen (monotonic seconds), for the hop stamps.
        """
        offset = self.clock_offset_us
        det_us = micros(detected) + offset if detected is not None and offset is not None else None
        ack = await self._until_acked(
            PublishState(
                ch=channel,
                ts=ts,
                account=account,
                positions=positions,
                orders=orders,
                takeover=takeover,
                det_us=det_us,
            )
        )
        assert ack.seq is not None
        return ack.seq

    async def ping(self) -> float:
        """Round-trip time to the hub in seconds."""
        started = time.perf_counter()  # uvloop's loop.time() has millisecond resolution
        await self._request(Ping())
        return time.perf_counter() - started

    def latest(self, channel: str) -> StateUpdate | None:
        """The newest state received on ``channel``."""
        return self._latest.get(channel)

    async def updates(self) -> AsyncIterator[StateUpdate]:
        """Yield states as they arrive; a slow consumer gets the newest state of each channel."""
        seen: dict[str, int] = {}
        while True:
            async with self._fresh:
                await self._fresh.wait_for(
                    lambda: any(seen.get(c) != s.seq for c, s in self._latest.items())
                )
                fresh = [s for c, s in self._latest.items() if seen.get(c) != s.seq]
            for state in fresh:
                seen[state.ch] = state.seq
                yield state

    @property
    def max_frame_bytes(self) -> int:
        said = self.welcome.max_frame_bytes if self.welcome else None
        return said or DEFAULT_MAX_FRAME_BYTES

    async def send_ticks(self, rows: list[list[Any]], batch_id: str) -> int:
        """Send one batch of tick rows; returns the count the hub stored durably.

        ``batch_id`` must be unique per user: if the connection drops before the ack the batch
        is sent again with the same id after the reconnect, and the hub stores it once.
        """
        ack = await self._until_acked(PublishTicks(rows=rows), batch_id)
        assert ack.n is not None
        return ack.n

    async def send_tick_columns(self, ticks: TickColumns, batch_id: str) -> int:
        """Send one batch of ticks as columns (the columnar ``ticks`` frame: no per-tick
        decoding work on the hub); as :meth:`send_ticks` otherwise. Every tick needs an ask;
        ``last`` and ``volume`` go whole or not at all (NaN: none)."""
        last, volume = ticks.last, ticks.volume
        frame = PublishTicks(
            symbols=ticks.symbols,
            sym=ticks.sym,
            time_ms=ticks.time_ms,
            bid=ticks.bid,
            ask=ticks.ask,
            last=None if last is None or any(x != x for x in last) else last,
            volume=None if volume is None or any(x != x for x in volume) else volume,
        )
        if (last is not None and frame.last is None) or (
            volume is not None and frame.volume is None
        ):
            return await self.send_ticks([list(row) for row in ticks.rows()], batch_id)
        ack = await self._until_acked(frame, batch_id)
        assert ack.n is not None
        return ack.n

    async def put_file(
        self, name: str, data: bytes, meta: dict[str, MetaValue] | None = None
    ) -> int:
        """Store a new version of file ``name``; returns its version number."""
        ack = await self._request(FilePut(name=name, data=data, meta=meta or {}))
        assert isinstance(ack, Ack) and ack.seq is not None
        return ack.seq

    async def get_file(self, name: str, version: int | None = None) -> FileData:
        """The latest (or the given) version of file ``name``; ``HubRefused("not_found")``."""
        found = await self._request(FileGet(name=name, version=version))
        assert isinstance(found, FileData)
        return found

    async def list_files(self) -> list[FileInfo]:
        listing = await self._request(FileList())
        assert isinstance(listing, FileListing)
        return listing.files

    async def sessions(self) -> list[SessionInfo]:
        """The hub's live sessions (admins only, else ``HubRefused("forbidden")``)."""
        listing = await self._request(Sessions())
        assert isinstance(listing, SessionList)
        return listing.sessions

    async def status(self) -> StatusReply:
        """Every metric of the hub now (admins only, else ``HubRefused("forbidden")``)."""
        reply = await self._request(StatusRequest())
        assert isinstance(reply, StatusReply)
        return reply

    async def budget(self, user: str | None = None) -> BudgetReply:
        """What ``user`` (default: you; another user: admins only) holds of each per-user
        budget, with its limit."""
        reply = await self._request(BudgetRequest(user=user))
        assert isinstance(reply, BudgetReply)
        return reply

    async def channel_stats(
        self, channel: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> ChannelStats:
        """A channel's statistics over a period (its followers, providers and admins;
        docs/statistics.md). Raises :class:`HubRefused` (``not_found``: no history yet)."""
        reply = await self._request(
            ChannelStatsRequest(ch=channel, since_ms=since_ms, until_ms=until_ms)
        )
        assert isinstance(reply, ChannelStats)
        return reply

    async def channel_simulate(self, request: SimulateRequest) -> Simulation:
        """A what-if replay of a channel's history (docs/simulate.md). Raises
        :class:`HubRefused` (``not_found``, ``invalid_rules``, ``too_large``, ``rate_limited``:
        one runs at a time)."""
        reply = await self._request(request)
        assert isinstance(reply, Simulation)
        return reply

    async def put_deals(self, channel: str, deals: list[Deal], batch_id: str) -> int:
        """Send a provider's deals for the channel's statistics (protocol 1.5), after the state
        that shows them was acked; returns how many the hub had not kept yet. Sent again after
        a reconnect (the hub keeps each ticket once)."""
        ack = await self._until_acked(PutDeals(ch=channel, deals=deals), batch_id)
        assert ack.n is not None
        return ack.n

    async def kick(self, *, session: str | None = None, user: str | None = None) -> int:
        """Close one session, or every session of a user (admins only); returns how many."""
        ack = await self._request(Kick(session=session, user=user))
        assert isinstance(ack, Ack) and ack.n is not None
        return ack.n

    async def _until_acked(self, frame: msgspec.Struct, request_id: str | None = None) -> Ack:
        """Send ``frame`` until acked, again after every reconnect (for idempotent frames), and
        again after the hub could not store it (``internal``: its storage or NATS is away for
        a moment, as in a NATS leader election)."""
        wait = STORE_RETRY_S
        while True:
            try:
                ack = await self._request(frame, request_id)
            except ConnectionLost:
                if self._closed:
                    raise
                continue
            except HubRefused as exc:
                if exc.code != "internal" or self._closed:
                    raise
                log.warning("the hub could not store it (%s); sending again in %.1f s", exc, wait)
                await asyncio.sleep(wait)
                wait = min(wait * 2, MAX_STORE_RETRY_S)
                continue
            assert isinstance(ack, Ack)
            return ack

    async def _request(self, frame: msgspec.Struct, request_id: int | str | None = None) -> Any:
        while True:
            if self._fatal is not None:
                raise self._fatal
            if self._closed:
                raise ConnectionLost("client closed")
            await self._connected.wait()
            if self._writer is not None and not self._writer.is_closing():
                break
            # Connected in name only: the read loop has not noticed the close yet. Clear the
            # flag (the reconnect sets it again) rather than spin without yielding.
            self._connected.clear()
        if request_id is None:
            request_id = next(self._ids)
        line = encode(msgspec.structs.replace(frame, id=request_id))
        limit = self.max_frame_bytes
        if len(line) - 1 > limit:
            # The hub would answer frame_too_large and close; resending could never succeed.
            raise HubRefused(
                "frame_too_large", f"{len(line) - 1} bytes; the hub accepts {limit} per frame"
            )
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        try:
            self._writer.write(line)
            return await future
        finally:
            self._waiting.pop(request_id, None)

    # ---- connection ----------------------------------------------------------------------------

    async def _open_any(self) -> asyncio.StreamReader:
        """Each hub once, in turn, until one lets us in (the last failure raises)."""
        for attempt in range(len(self.hubs)):
            try:
                return await self._open()
            except ConnectionLost:
                if attempt == len(self.hubs) - 1:
                    raise
                self._next_hub()
        raise AssertionError("unreachable")

    async def _open(self) -> asyncio.StreamReader:
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    limit=64 * 1024 * 1024,
                    server_hostname=(self._server_hostname or self.host) if self._ssl else None,
                )
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        hello = Hello(
            v=PROTOCOL_VERSION, user=self.user, password=self._password, agent=self._agent
        )
        session = ClientSession(hello, time.monotonic())
        try:
            async with asyncio.timeout(self._connect_timeout + 30):
                while session.welcome is None and not session.closed:
                    for line in session.data_to_send():
                        writer.write(line)
                    data = await reader.read(READ_CHUNK)
                    if not data:
                        break
                    self._early = session.receive_data(data, time.monotonic())
        except (OSError, TimeoutError, ProtocolError) as exc:
            writer.close()
            raise ConnectionLost(f"login to {self.host}:{self.port} failed: {exc}") from exc
        if session.refused is not None:
            writer.close()
            error = session.refused
            refused = HubRefused(error.code, error.msg, error.retry_after_s)
            if error.code in _PERMANENT:
                self._fatal = refused
            raise refused
        if session.welcome is None:
            writer.close()
            raise ConnectionLost("the hub closed the connection during login")
        frame = session.welcome
        self._session = session
        self.welcome = frame
        self._writer = writer
        self._backoff.reset()
        self._connected.set()
        self.clock_offset_us = 0 if frame.host and frame.host == host_id() else None
        if self.clock_offset_us is None:
            task = asyncio.get_running_loop().create_task(self._measure_clock())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return reader

    async def _measure_clock(self, pings: int = 5) -> None:
        """The hub's clock offset from the fastest of a few pings (error under half its
        round trip); an older hub that does not say its time leaves it unknown."""
        best: tuple[float, int] | None = None
        with contextlib.suppress(ConnectionLost, HubRefused):
            for _ in range(pings):
                sent = time.monotonic()
                pong = await self._request(Ping())
                back = time.monotonic()
                if not isinstance(pong, Pong) or pong.now_us is None:
                    return
                if best is None or back - sent < best[0]:
                    best = (back - sent, pong.now_us - micros((sent + back) / 2))
        if best is not None:
            self.clock_offset_us = best[1]

    async def _run(self, reader: asyncio.StreamReader) -> None:
        while not self._closed:
            try:
                reason = await self._read(reader)
            except (OSError, ProtocolError, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if self._closed:
                return
            log.info("disconnected from hub %s:%d (%s); reconnecting", self.host, self.port, reason)
            self._next_hub()  # the one just lost is the least likely to answer now
            self._connected.clear()
            if self._writer is not None:
                self._writer.close()
            self._fail_waiting(ConnectionLost("connection to the hub lost"))
            reader = await self._reconnect()

    def _next_hub(self) -> None:
        if len(self.hubs) > 1:
            self._hub_index = (self._hub_index + 1) % len(self.hubs)
            self.host, self.port = self.hubs[self._hub_index]

    async def _reconnect(self, first: bool = False) -> asyncio.StreamReader:
        initial = first
        while True:
            delay = 0.0 if first else self._backoff.next_delay()
            first = False
            await asyncio.sleep(delay)
            try:
                reader = await self._open()
            except HubRefused as exc:
                if exc.code in _PERMANENT:
                    log.error("hub refused login for good: %s", exc)
                    self._fail_waiting(exc)
                    raise
                # A ban may last a day, but `tradewire ban lift` can end it any moment.
                wait = min(
                    exc.retry_after_s or self._backoff.next_delay(), self._max_refused_wait_s
                )
                log.info(
                    "hub %s:%d refused the login (%s: %s); retrying in %.1f s",
                    self.host,
                    self.port,
                    exc.code,
                    exc.msg,
                    wait,
                )
                self._next_hub()
                if len(self.hubs) == 1:
                    await asyncio.sleep(wait)
                continue
            except ConnectionLost as exc:
                log.info("cannot reach the hub (%s); retrying", exc)
                self._next_hub()
                continue
            self.reconnects += 0 if initial else 1
            log.info("connected to hub %s:%d as %s", self.host, self.port, self.user)
            # Re-subscribe without waiting here: acks arrive through the read loop.
            restores = [self._resubscribe(channel) for channel in self._channels]
            restores += [restore() for restore in self._on_reconnect]
            for coro in restores:
                task = asyncio.get_running_loop().create_task(coro)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            return reader

    async def _resubscribe(self, channel: str) -> None:
        with contextlib.suppress(ConnectionLost, HubRefused):
            await self._request(Sub(ch=channel))

    async def _read(self, reader: asyncio.StreamReader) -> str:
        """Read until the connection ends; returns why it ended."""
        session = self._session
        assert session is not None
        frames, self._early = self._early, []
        while True:
            for frame in frames:
                handler = self._handlers.get(type(frame))
                if handler is None:  # any other reply answers the request it names
                    self._resolve(getattr(frame, "re", None), frame)
                    continue
                handled = handler(frame)
                if handled is not None:
                    await handled
            self._flush(session)
            if session.bye is not None:
                return f"the hub said bye: {session.bye}"
            # The hub pings an idle connection every heartbeat_s: 3 silent periods mean it is gone.
            # asyncio.timeout, not wait_for (which can swallow a cancellation on 3.11).
            async with asyncio.timeout(MISSED_HEARTBEATS * self.welcome_heartbeat):
                data = await reader.read(READ_CHUNK)
            if not data:
                return "the hub closed the connection"
            frames = session.receive_data(data, time.monotonic())

    @property
    def welcome_heartbeat(self) -> float:
        return self.welcome.heartbeat_s if self.welcome else DEFAULT_HEARTBEAT_S

    def _flush(self, session: ClientSession) -> None:
        if self._writer is not None:
            for line in session.data_to_send():
                self._writer.write(line)

    def _on_error(self, frame: Error) -> None:
        if frame.code == "revoked" and frame.ch is not None:
            self._channels.discard(frame.ch)  # not re-subscribed after a reconnect
            self._latest.pop(frame.ch, None)
        if frame.re is None:
            log.warning("hub error: %s %s", frame.code, frame.msg)
        self._resolve(frame.re, HubRefused(frame.code, frame.msg))

    def _answer(self, frame: Ack | Pong | FileData | FileListing | SessionList | Relayed) -> None:
        self._resolve(frame.re, frame)

    async def _deliver(self, state: StateUpdate) -> None:
        if state.ch not in self._channels:
            return  # a state that crossed our unsub on the wire
        self._latest[state.ch] = state
        if self._on_state is not None:
            self._on_state(state)
        async with self._fresh:
            self._fresh.notify_all()

    def _resolve(self, request_id: object, outcome: object) -> None:
        if not isinstance(request_id, int | str):
            return
        future = self._waiting.get(request_id)
        if future is None or future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _fail_waiting(self, exc: Exception) -> None:
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(exc)
