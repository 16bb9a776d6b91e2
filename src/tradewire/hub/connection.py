"""One client connection: bytes between the transport and a sans-I/O :class:`ServerSession`,
frames on to the services, and a conflating outbound path.

Written as an ``asyncio.Protocol`` (no task per connection). Every session rule (hello first,
held lines, bad frames, timers) lives in the session; this class does the I/O. Outbound flow
control: when the transport's buffer passes ``write_buffer_bytes`` the connection stops reading
from the client and stops handing it frames it has read already (so replies cannot pile up),
and holds only the newest state of each channel until the buffer drains. Replies prepared in a
task (a file read from the store, job results) count too: at most ``MAX_REPLIES_IN_FLIGHT`` per
connection, then its frames wait. A client that pipelines requests and never reads thus costs at
most the buffer plus a few replies, and a stalled subscriber the buffer plus one state per
channel; it gets the latest state of each channel once it reads again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine
from typing import Any, Protocol, cast

from tradewire.bus.base import Message
from tradewire.clock import Clock, now_ms
from tradewire.config import Config
from tradewire.exceptions import FrameError
from tradewire.hub.auth import Authenticator
from tradewire.hub.service import Dispatcher, route
from tradewire.metrics import Counter as MetricCounter
from tradewire.model import UserRecord
from tradewire.protocol.codec import encode, error_line
from tradewire.protocol.messages import Hello, TicksUpdate, Welcome
from tradewire.protocol.server_session import ServerSession, SessionTimers
from tradewire.protocol.session import SessionEvent, SessionState
from tradewire.protocol.ticks import TickRow

log = logging.getLogger(__name__)

S = SessionState
MAX_REPLIES_IN_FLIGHT = 8  # replies being prepared for one client before its frames wait


class Host(Protocol):
    """What a connection needs from the hub that accepted it."""

    config: Config
    clock: Clock
    auth: Authenticator
    supported_versions: tuple[int, ...]
    frames: MetricCounter  # frames by type
    slow_consumers: MetricCounter

    @property
    def dispatcher(self) -> Dispatcher: ...

    def admit(self, conn: Connection) -> bytes | None: ...

    def forget(self, conn: Connection) -> None: ...

    def welcome(self, conn: Connection, hello: Hello) -> Welcome: ...

    def spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]: ...


class Connection(asyncio.Protocol):
    """The hub's side of one client connection."""

    def __init__(self, hub: Host) -> None:
        self.hub = hub
        settings = hub.config.hub
        timers = SessionTimers(settings.auth_timeout_s, settings.heartbeat_s, settings.idle_timeout)
        self.session = ServerSession(
            hub.clock.monotonic(),
            settings.max_frame_bytes,
            timers,
            hub.supported_versions,
            hub.dispatcher.codec,
        )
        self._machine = self.session.machine  # read directly on the fan-out path
        self.transport: asyncio.Transport | None = None
        self.address = "unknown"
        self.source = "unknown"  # the address as bans and per-address limits count it
        self.user: UserRecord | None = None
        self.session_id = ""
        self.agent = ""
        self.since_ms = 0  # wall clock of the login
        self._login_task: asyncio.Task[None] | None = None
        self.conflated: dict[str, bytes] = {}
        self.tick_backlog: dict[str, list[Any]] = {}  # newest tick per symbol while slow
        self.registered = False
        self._write_paused = False
        self._replies = 0  # replies being prepared in tasks (Session.replying)
        self._fd = -1  # the socket, for the parallel fan-out (plain TCP only: fanout.py)

    @property
    def end_reason(self) -> str:
        return self.session.end_reason

    @end_reason.setter
    def end_reason(self, reason: str) -> None:
        self.session.end_reason = reason

    # ---- admission -------------------------------------------------------------------------------

    def admit(self, address: str) -> bytes | None:
        """Count this connection from ``address`` (at TCP accept, before any TLS handshake),
        or return the line that refuses it."""
        self.address = address
        self.source = self.hub.auth.bans.key(address)
        self.session.opened_at = self.session.last_rx = self.hub.clock.monotonic()
        refusal = self.hub.admit(self)
        self.registered = refusal is None
        return refusal

    def start_handshake(self) -> None:
        """The listener speaks TLS: the loop's handshake runs before connection_made."""
        self.session.start_tls()

    def handshake_failed(self) -> None:
        self.session.connection_lost()
        self._unregister()

    # ---- asyncio callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but they implement it.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        if self.session.state is S.HANDSHAKING:
            self.session.tls_done(self.hub.clock.monotonic())
        elif not self.registered:  # plain TCP: counted now, at accept
            peer = transport.get_extra_info("peername")
            refusal = self.admit(str(peer[0]) if peer else "unknown")
            if refusal is not None:
                self.close(refusal)
                return
        transport.set_write_buffer_limits(high=self.hub.config.hub.write_buffer_bytes)
        sock = transport.get_extra_info("socket")
        if sock is not None and transport.get_extra_info("ssl_object") is None:
            self._fd = sock.fileno()

    def data_received(self, data: bytes) -> None:
        self.session.receive_data(data, self.hub.clock.monotonic())
        self._serve()

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.connection_lost()
        if self._login_task is not None:
            self._login_task.cancel()  # a check already running still completes and counts
        self._unregister()

    def _unregister(self) -> None:
        if self.registered:
            self.registered = False
            self.hub.forget(self)

    def pause_writing(self) -> None:
        self._write_paused = True
        self.hub.slow_consumers.inc()
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
        self._serve()  # the frames held while it was slow, then reading resumes

    def replying(self, reply: object) -> None:
        """A task is preparing a reply to this client (Session.replying)."""
        if isinstance(reply, asyncio.Future):
            self._replies += 1
            reply.add_done_callback(self._replied)

    def _replied(self, _: object) -> None:
        self._replies -= 1
        if self.transport is not None and not self.session.closing and not self._holding():
            self._serve()

    def _holding(self) -> bool:
        """True while this client's frames must wait: its output is over its limit, or too
        many replies to it are being prepared."""
        return self._write_paused or self._replies >= MAX_REPLIES_IN_FLIGHT

    # ---- the session's frames --------------------------------------------------------------------

    def _serve(self) -> None:
        """Hand every complete frame to its service, in order, writing replies as they come."""
        session = self.session
        while True:
            if self.user is not None and self._holding():
                break  # read lines wait in the session: nothing more until the client reads
            frame = session.next_frame(self.hub.clock.monotonic())
            self._flush()
            if session.awaiting_login and self._login_task is None:
                assert session.hello is not None
                self._login_task = self.hub.spawn(self._login(session.hello))
            if frame is None:
                break
            key = route(frame)
            self.hub.frames.inc(1, key)
            try:
                if not self.hub.dispatcher.dispatch(self, frame, key):
                    msg = f"no service handles {key!r} frames"
                    self.send(error_line("bad_frame", msg, getattr(frame, "id", None)))
            except Exception:  # a bug must cost one frame, not the connection or the hub
                log.exception("internal error handling a frame from %s", self.address)
                self.send(error_line("internal", "internal error; the frame was not applied"))
        self._update_reading()

    def _flush(self) -> None:
        for line in self.session.data_to_send():
            self._write(line)
        if self.session.closing and self.transport is not None:
            self.conflated.clear()
            self.transport.close()

    def _update_reading(self) -> None:
        if self.transport is None or self.session.closing:
            return
        if self._holding() or self.session.reading_paused:
            self.transport.pause_reading()
        else:
            self.transport.resume_reading()

    async def _login(self, hello: Hello) -> None:
        try:
            user = await self.hub.auth.login(hello.user, hello.password, self.address)
        except FrameError as exc:  # banned, server_busy
            extra = {"retry_after_s": exc.retry_after_s} if exc.retry_after_s else {}
            self._refuse(error_line(exc.code, exc.msg, hello.id, **extra))
            return
        if self.session.state is not S.AUTHENTICATING:
            return  # closed meanwhile (timeout, shutdown, peer gone)
        if user is None:
            self._refuse(error_line("auth_failed", "wrong user name or password", hello.id))
            return
        self.user = user
        self.session_id = secrets.token_hex(8)
        self.agent = hello.agent[:64]
        self.since_ms = now_ms(self.hub.clock)
        self.session.accept_login(encode(self.hub.welcome(self, hello)))
        self._serve()  # the lines held during the check, then reading resumes

    def _refuse(self, line: bytes) -> None:
        self.session.refuse_login(line, self.hub.clock.monotonic())
        self._flush()

    # ---- outbound --------------------------------------------------------------------------------

    def _write(self, line: bytes) -> None:
        if self.transport is not None and self._machine.state is not S.CLOSED:
            self.transport.write(line)

    @property
    def backlogged(self) -> bool:
        return self._write_paused

    def send(self, line: bytes) -> None:
        """Queue a reply or control frame (small; reading is paused while the buffer is full)."""
        if self._machine.state is not S.CLOSING:
            self._write(line)

    def drop_pending(self, channel: str) -> None:
        self.conflated.pop(channel, None)

    def deliver(self, message: Message) -> None:
        """A channel's state from the bus: the hot path of fan-out, one call per subscriber."""
        self.send_state(message.subject, message.line)

    def direct_fd(self) -> int:
        """The socket a fan-out thread may write a state to now, or -1: TLS, something already
        queued (order), a slow client (conflation), not logged in."""
        transport = self.transport
        if (
            self._fd < 0
            or self._write_paused
            or self._machine.state is not S.AUTHENTICATED
            or transport is None
            or transport.get_write_buffer_size()
            or transport.is_closing()
        ):
            return -1
        return self._fd

    def send_rest(self, rest: bytes) -> None:
        """What a direct write left over: queued in the transport, in order."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(rest)

    def send_state(self, channel: str, line: bytes) -> None:
        """Deliver a channel state; while the client is slow, keep only the newest per channel
        (the one place that rule is written: bus deliveries come through here too)."""
        if self._write_paused:
            self.conflated[channel] = line
        elif self._machine.state is S.AUTHENTICATED and self.transport is not None:
            self.transport.write(line)

    def send_ticks(self, line: bytes, rows: list[TickRow]) -> None:
        """Deliver live ticks; while the client is slow, keep only the newest per symbol."""
        if self._write_paused:
            for row in rows:
                self.tick_backlog[row[0]] = list(row)
        elif self._machine.state is S.AUTHENTICATED:
            self._write(line)

    def close(
        self, last_line: bytes | None = None, event: SessionEvent = SessionEvent.CLOSE
    ) -> None:
        """Send ``last_line`` (an error or bye) if given, then close the connection."""
        if self.session.close(last_line, self.hub.clock.monotonic(), event):
            self._flush()

    # ---- timers (called by the hub's sweeper) ----------------------------------------------------

    def tick(self, now: float) -> None:
        """Apply the session's timers at monotonic time ``now``."""
        if self.session.state is S.HANDSHAKING:
            return  # the loop's handshake timeout applies
        self.session.tick(now)
        self._flush()
        if self.session.abort and self.transport is not None:
            self.transport.abort()
