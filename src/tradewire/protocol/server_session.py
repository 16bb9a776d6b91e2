"""The hub's side of one session, sans I/O (in the shape of python-websockets' ``Protocol``).

It holds every session rule: frames bounded before their newline, ``hello`` first, lines that
arrive during the password check held and handled after ``welcome`` in order, three bad frames
in a row close, pings answered, and the timers (auth timeout, heartbeat pings, idle timeout,
the grace of a closing connection). It never touches a socket or a clock: the caller feeds

* bytes with :meth:`receive_data`, then takes frames for the services one at a time with
  :meth:`next_frame` (so replies keep the order of the requests), and the password check's
  outcome with :meth:`accept_login` / :meth:`refuse_login`;
* the time with :meth:`tick`;

and writes what :meth:`data_to_send` returns. ``closing`` tells it to close the transport,
``reading_paused`` to stop reading (lines are held while a password is checked), ``abort`` that
a closing connection did not drain in time.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from tradewire.clock import micros
from tradewire.exceptions import FrameError, FrameTooLarge
from tradewire.protocol.codec import BUILTIN_CODEC, Codec, encode, error_line
from tradewire.protocol.framing import DEFAULT_HEARTBEAT_S, DEFAULT_MAX_FRAME_BYTES, LineFramer
from tradewire.protocol.messages import Bye, Hello, Ping, Pong
from tradewire.protocol.session import SessionEvent, SessionMachine, SessionState

MAX_BAD_FRAMES = 3  # consecutive bad frames before the connection is closed (PROTOCOL.md 1)
CLOSE_GRACE_S = 2.0  # a closing connection that does not drain by then is aborted

S, E = SessionState, SessionEvent


@dataclass(frozen=True, slots=True)
class SessionTimers:
    auth_timeout_s: float = 10.0
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    idle_timeout_s: float = 45.0


class ServerSession:
    def __init__(
        self,
        now: float,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        timers: SessionTimers | None = None,
        supported_versions: tuple[int, ...] = (1,),
        codec: Codec = BUILTIN_CODEC,
    ) -> None:
        """``codec``: the frames this session decodes (the hub's, from its services)."""
        self._codec = codec
        self.machine = SessionMachine()
        self.timers = timers or SessionTimers()
        self.supported_versions = supported_versions
        self._framer = LineFramer(max_frame_bytes)
        self._lines: deque[bytes] = deque()
        self._out: list[bytes] = []
        self._bad_frames = 0
        self.hello: Hello | None = None  # the hello being checked, once it arrived
        self.opened_at = self.last_rx = now
        self.last_ping = self.closing_since = 0.0
        self.end_reason = "closed by the client"
        self.abort = False

    @property
    def state(self) -> SessionState:
        return self.machine.state

    @property
    def closing(self) -> bool:
        return self.machine.state in (S.CLOSING, S.CLOSED)

    @property
    def reading_paused(self) -> bool:
        """Lines wait for the password check: read no more until it is done."""
        return self.machine.state is S.AUTHENTICATING and bool(self._lines)

    # ---- input -----------------------------------------------------------------------------------

    def start_tls(self) -> None:
        self.machine.handle(E.TLS)

    def tls_done(self, now: float) -> None:
        self.machine.handle(E.TLS_OK)
        self.opened_at = self.last_rx = now  # the login's time counts from here

    def receive_data(self, data: bytes, now: float) -> None:
        if self.closing:
            return
        self.last_rx = now
        try:
            self._lines.extend(self._framer.feed(data))
        except FrameTooLarge as exc:
            self.close(error_line("frame_too_large", str(exc)), now)

    def next_frame(self, now: float) -> Any | None:
        """The next frame for a service, or ``None`` when there is none (yet). Protocol frames
        (hello, ping, pong, bye, bad ones) are handled on the way."""
        while self._lines:
            if self.machine.state not in (S.AWAITING_HELLO, S.AUTHENTICATED):
                return None  # closing, or lines held during the password check
            frame = self._decode(self._lines.popleft(), now)
            if frame is not None:
                return frame
        return None

    def _decode(self, line: bytes, now: float) -> Any | None:
        try:
            frame: Any = self._codec.decode_client(line)
        except FrameError as exc:
            self.send(error_line(exc.code, exc.msg, exc.re))
            if exc.code == "bad_frame":
                self._bad_frames += 1
                if self._bad_frames >= MAX_BAD_FRAMES:
                    self.close(encode(Bye(reason="too many bad frames")), now)
            return None
        self._bad_frames = 0
        if isinstance(frame, Bye):
            self.close(None, now)
        elif self.machine.state is S.AWAITING_HELLO:
            if isinstance(frame, Hello):
                self._on_hello(frame, now)
            else:
                msg = error_line("invalid_state", "send hello first", getattr(frame, "id", None))
                self.close(msg, now)
        elif isinstance(frame, Ping):
            self.send(encode(Pong(re=frame.id, now_us=micros(now))))
        elif isinstance(frame, Pong):
            pass  # its arrival already refreshed last_rx
        elif isinstance(frame, Hello):
            self.send(error_line("invalid_state", "already authenticated", frame.id))
        else:
            return frame
        return None

    def _on_hello(self, hello: Hello, now: float) -> None:
        self.machine.handle(E.HELLO)
        if hello.v not in self.supported_versions:
            line = error_line(
                "unsupported_version",
                f"protocol v{hello.v} is not served",
                hello.id,
                supported=list(self.supported_versions),
            )
            self.close(line, now, E.AUTH_FAILED)
            return
        self.hello = hello

    # ---- the password check's outcome ------------------------------------------------------------

    @property
    def awaiting_login(self) -> bool:
        """A hello arrived and its password must be checked (the caller starts that)."""
        return self.machine.state is S.AUTHENTICATING and self.hello is not None

    def accept_login(self, welcome: bytes) -> None:
        if self.machine.state is not S.AUTHENTICATING:
            return  # closed meanwhile (timeout, shutdown, peer gone)
        self.machine.handle(E.AUTH_OK)
        self.send(welcome)

    def refuse_login(self, line: bytes, now: float) -> None:
        self.close(line, now, E.AUTH_FAILED)

    # ---- output ----------------------------------------------------------------------------------

    def send(self, line: bytes) -> None:
        if self.machine.state is not S.CLOSING:
            self._out.append(line)

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def close(
        self, last_line: bytes | None = None, now: float = 0.0, event: SessionEvent = E.CLOSE
    ) -> bool:
        """Queue ``last_line`` (an error or bye) and enter ``closing``; False if already."""
        if not self.machine.can(event) or self.machine.state is S.CLOSING:
            return False
        if last_line is not None:
            self.end_reason = last_line.decode(errors="replace").strip()[:200]
            self._out.append(last_line)
        self.machine.handle(event)
        self.closing_since = now
        self._lines.clear()
        return True

    def connection_lost(self) -> None:
        if self.machine.state is not S.CLOSED:
            self.machine.handle(E.TRANSPORT_CLOSED)

    # ---- timers ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Enforce the auth timeout, heartbeats, the idle timeout and the closing grace."""
        state, timers = self.machine.state, self.timers
        if state in (S.AWAITING_HELLO, S.AUTHENTICATING):
            # A pending login is bounded too: every hello gets an answer within the timeout.
            if now - self.opened_at >= timers.auth_timeout_s:
                msg = f"no login within {timers.auth_timeout_s} s"
                self.close(error_line("auth_timeout", msg), now)
        elif state is S.AUTHENTICATED:
            idle = now - self.last_rx
            if idle >= timers.idle_timeout_s:
                self.close(encode(Bye(reason="idle_timeout")), now)
            elif idle >= timers.heartbeat_s and now - self.last_ping >= timers.heartbeat_s:
                self.last_ping = now
                self.send(encode(Ping(id=int(now * 1000))))
        elif state is S.CLOSING and now - self.closing_since >= CLOSE_GRACE_S:
            self.abort = True
