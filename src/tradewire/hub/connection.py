"""One client connection: framing, the session machine, and a conflating outbound path.

Written as an ``asyncio.Protocol`` (no task per connection). Outbound flow control: when the
transport's buffer passes ``write_buffer_bytes`` the connection stops reading from the client
(so replies cannot pile up) and holds only the newest state of each channel until the buffer
drains. A stalled subscriber thus costs at most the buffer plus one state per channel, and gets
the latest state of each channel once it reads again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from tradewire.clock import Clock, now_ms
from tradewire.config import Config
from tradewire.exceptions import FrameError, FrameTooLarge
from tradewire.hub.auth import Authenticator
from tradewire.hub.service import Dispatcher, route
from tradewire.protocol.codec import decode_client_frame, encode, error_line
from tradewire.protocol.framing import LineFramer
from tradewire.protocol.messages import Bye, Hello, Ping, Pong, TicksUpdate, Welcome
from tradewire.protocol.session import SessionEvent, SessionMachine, SessionState
from tradewire.protocol.ticks import TickRow
from tradewire.store.db import UserRecord


class Host(Protocol):
    """What a connection needs from the hub that accepted it."""

    config: Config
    clock: Clock
    auth: Authenticator
    dispatcher: Dispatcher
    supported_versions: tuple[int, ...]

    def admit(self, conn: Connection) -> bytes | None: ...

    def forget(self, conn: Connection) -> None: ...

    def welcome(self, conn: Connection, hello: Hello) -> Welcome: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]: ...


log = logging.getLogger(__name__)

MAX_BAD_FRAMES = 3  # consecutive bad frames before the connection is closed (PROTOCOL.md 1)
CLOSE_GRACE_S = 2.0  # a closing connection that does not drain by then is aborted

S = SessionState


class Connection(asyncio.Protocol):
    """The hub's side of one client connection."""

    def __init__(self, hub: Host) -> None:
        self.hub = hub
        self.machine = SessionMachine()
        self.framer = LineFramer(hub.config.hub.max_frame_bytes)
        self.transport: asyncio.Transport | None = None
        self.address = "unknown"
        self.source = "unknown"  # the address as bans and per-address limits count it
        self.user: UserRecord | None = None
        self.session_id = ""
        self.agent = ""
        self.since_ms = 0  # wall clock of the login
        self.end_reason = "closed by the client"
        self._login_task: asyncio.Task[None] | None = None
        self.conflated: dict[str, bytes] = {}
        self.tick_backlog: dict[str, list[Any]] = {}  # newest tick per symbol while slow
        self.registered = False
        self.opened_at = self.last_rx = self.last_ping = self.closing_since = 0.0
        self._bad_frames = 0
        self._write_paused = False
        self._held: list[bytes] | None = None  # lines that arrived while the password was checked

    # ---- asyncio callbacks -------------------------------------------------------------------

    def admit(self, address: str) -> bytes | None:
        """Count this connection from ``address`` (at TCP accept, before any TLS handshake),
        or return the line that refuses it."""
        self.address = address
        self.source = self.hub.auth.bans.key(address)
        self.opened_at = self.last_rx = self.hub.clock.monotonic()
        refusal = self.hub.admit(self)
        self.registered = refusal is None
        return refusal

    def start_handshake(self) -> None:
        """The listener speaks TLS: the loop's handshake runs before connection_made."""
        self.machine.handle(SessionEvent.TLS)

    def handshake_failed(self) -> None:
        if self.machine.state is not S.CLOSED:
            self.machine.handle(SessionEvent.TRANSPORT_CLOSED)
        if self.registered:
            self.registered = False
            self.hub.forget(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but they implement it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        if self.machine.state is S.HANDSHAKING:
            self.machine.handle(SessionEvent.TLS_OK)
            self.opened_at = self.last_rx = self.hub.clock.monotonic()  # login time from here
        elif not self.registered:  # plain TCP: counted now, at accept
            peer = transport.get_extra_info("peername")
            refusal = self.admit(str(peer[0]) if peer else "unknown")
            if refusal is not None:
                self.close(refusal)
                return
        transport.set_write_buffer_limits(high=self.hub.config.hub.write_buffer_bytes)

    def data_received(self, data: bytes) -> None:
        if self.machine.state in (S.CLOSING, S.CLOSED):
            return
        self.last_rx = self.hub.clock.monotonic()
        try:
            lines = self.framer.feed(data)
        except FrameTooLarge as exc:
            self.close(error_line("frame_too_large", str(exc)))
            return
        if self._held is not None:
            self._held.extend(lines)
            return
        self._process(lines)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.machine.state is not S.CLOSED:
            self.machine.handle(SessionEvent.TRANSPORT_CLOSED)
        if self._login_task is not None:
            self._login_task.cancel()  # a check already running still completes and counts
        if self.registered:
            self.registered = False
            self.hub.forget(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        pending, self.conflated = self.conflated, {}
        for line in pending.values():
            self._write(line)
        if self.tick_backlog:
            backlog, self.tick_backlog = self.tick_backlog, {}
            self._write(encode(TicksUpdate(rows=list(backlog.values()))))
        if not self._write_paused and self._held is None and self.transport is not None:
            self.transport.resume_reading()

    # ---- outbound ------------------------------------------------------------------------------

    def _write(self, line: bytes) -> None:
        if self.transport is not None and self.machine.state is not S.CLOSED:
            self.transport.write(line)

    def send(self, line: bytes) -> None:
        """Queue a reply or control frame (small; reading is paused while the buffer is full)."""
        if self.machine.state is not S.CLOSING:
            self._write(line)

    def drop_pending(self, channel: str) -> None:
        self.conflated.pop(channel, None)

    def send_state(self, channel: str, line: bytes) -> None:
        """Deliver a channel state; while the client is slow, keep only the newest per channel."""
        if self._write_paused:
            self.conflated[channel] = line
        elif self.machine.state is S.AUTHENTICATED:
            self._write(line)

    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        """Deliver live ticks; while the client is slow, keep only the newest per symbol."""
        if self._write_paused:
            for row in rows:
                self.tick_backlog[row[0]] = list(row)
        elif self.machine.state is S.AUTHENTICATED:
            self._write(line)

    def close(
        self, last_line: bytes | None = None, event: SessionEvent = SessionEvent.CLOSE
    ) -> None:
        """Send ``last_line`` (an error or bye) if given, then close the connection."""
        if not self.machine.can(event) or self.machine.state is S.CLOSING:
            return
        if last_line is not None:
            self.end_reason = last_line.decode(errors="replace").strip()[:200]
            self._write(last_line)
        self.machine.handle(event)
        self.closing_since = self.hub.clock.monotonic()
        self.conflated.clear()
        if self.transport is not None:
            self.transport.close()

    # ---- inbound -------------------------------------------------------------------------------

    def _process(self, lines: list[bytes]) -> None:
        for index, line in enumerate(lines):
            if self.machine.state is S.AUTHENTICATING:
                self._held = lines[index:]
                if self.transport is not None:
                    self.transport.pause_reading()
                return
            if (
                self.machine.state is not S.AWAITING_HELLO
                and self.machine.state is not S.AUTHENTICATED
            ):
                return
            try:
                self._handle_line(line)
            except Exception:  # a bug must cost one frame, not the connection or the hub
                log.exception("internal error handling a frame from %s", self.address)
                self.send(error_line("internal", "internal error; the frame was not applied"))

    def _handle_line(self, line: bytes) -> None:
        try:
            # Any: which frame it is, route() says; each handler knows its own type.
            frame: Any = decode_client_frame(line)
        except FrameError as exc:
            self.send(error_line(exc.code, exc.msg, exc.re))
            if exc.code == "bad_frame":
                self._bad_frames += 1
                if self._bad_frames >= MAX_BAD_FRAMES:
                    self.close(encode(Bye(reason="too many bad frames")))
            return
        self._bad_frames = 0
        key = route(frame)
        if key == "bye":
            self.close()
        elif self.machine.state is S.AWAITING_HELLO:
            if key == "hello":
                self._on_hello(frame)
            else:
                self.close(
                    error_line("invalid_state", "send hello first", getattr(frame, "id", None))
                )
        elif key == "ping":
            self.send(encode(Pong(re=frame.id)))
        elif key == "pong":
            pass  # its arrival already refreshed last_rx
        elif key == "hello":
            self.send(error_line("invalid_state", "already authenticated", frame.id))
        elif not self.hub.dispatcher.dispatch(self, frame):
            self.send(error_line("bad_frame", f"no service handles {key!r} frames", frame.id))

    def _on_hello(self, hello: Hello) -> None:
        self.machine.handle(SessionEvent.HELLO)
        if hello.v not in self.hub.supported_versions:
            self.close(
                error_line(
                    "unsupported_version",
                    f"protocol v{hello.v} is not served",
                    hello.id,
                    supported=list(self.hub.supported_versions),
                ),
                SessionEvent.AUTH_FAILED,
            )
            return
        self._login_task = self.hub.spawn(self._login(hello))

    async def _login(self, hello: Hello) -> None:
        try:
            user = await self.hub.auth.login(hello.user, hello.password, self.address)
        except FrameError as exc:  # banned, server_busy
            extra = {"retry_after_s": exc.retry_after_s} if exc.retry_after_s else {}
            self.close(error_line(exc.code, exc.msg, hello.id, **extra), SessionEvent.AUTH_FAILED)
            return
        if self.machine.state is not S.AUTHENTICATING:
            return  # closed meanwhile (shutdown, peer gone)
        if user is None:
            self.close(
                error_line("auth_failed", "wrong user name or password", hello.id),
                SessionEvent.AUTH_FAILED,
            )
            return
        self.machine.handle(SessionEvent.AUTH_OK)
        self.user = user
        self.session_id = secrets.token_hex(8)
        self.agent = hello.agent[:64]
        self.since_ms = now_ms(self.hub.clock)
        self.send(encode(self.hub.welcome(self, hello)))
        held, self._held = self._held, None
        if held:
            self._process(held)
        if (
            self._held is None
            and not self._write_paused
            and self.transport is not None
            and self.machine.can(SessionEvent.REQUEST)
        ):
            self.transport.resume_reading()

    # ---- timers (called by the hub's sweeper) ---------------------------------------------------

    def tick(self, now: float) -> None:
        """Enforce auth timeout, heartbeats and idle timeout at monotonic time ``now``."""
        state = self.machine.state
        hub = self.hub.config.hub
        if state in (S.AWAITING_HELLO, S.AUTHENTICATING):
            # A pending login is bounded too: every hello gets an answer within the timeout.
            if now - self.opened_at >= hub.auth_timeout_s:
                self.close(error_line("auth_timeout", f"no login within {hub.auth_timeout_s} s"))
        elif state is S.AUTHENTICATED:
            idle = now - self.last_rx
            if idle >= hub.idle_timeout:
                self.close(encode(Bye(reason="idle_timeout")))
            elif idle >= hub.heartbeat_s and now - self.last_ping >= hub.heartbeat_s:
                self.last_ping = now
                self.send(encode(Ping(id=int(now * 1000))))
        elif (
            state is S.CLOSING
            and now - self.closing_since >= CLOSE_GRACE_S
            and self.transport is not None
        ):
            self.transport.abort()
