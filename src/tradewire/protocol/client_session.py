"""The client's side of one session, sans I/O: the hello, the welcome or refusal, pongs for the
hub's pings, ``bye``, and the silence after which the hub counts as gone.

Feed it bytes with :meth:`receive_data` (it returns the frames the application handles: states,
acks, errors, files…), write what :meth:`data_to_send` returns.
"""

from __future__ import annotations

from typing import Any

from tradewire.protocol.codec import decode_server_frame, encode
from tradewire.protocol.framing import DEFAULT_HEARTBEAT_S, LineFramer
from tradewire.protocol.messages import Bye, Error, Hello, Ping, Pong, Welcome

MISSED_HEARTBEATS = 3  # this many silent heartbeat periods mean the hub is gone


class ClientSession:
    def __init__(self, hello: Hello, now: float, max_frame_bytes: int = 64 * 1024 * 1024) -> None:
        self._framer = LineFramer(max_frame_bytes)
        self._out: list[bytes] = [encode(hello)]
        self.welcome: Welcome | None = None
        self.refused: Error | None = None  # an error answered to the hello
        self.bye: str | None = None  # the reason of the hub's bye
        self.last_rx = now

    @property
    def closed(self) -> bool:
        return self.refused is not None or self.bye is not None

    def receive_data(self, data: bytes, now: float) -> list[Any]:
        """The frames for the application, in order. Raises ``FrameError``/``FrameTooLarge``
        for bytes that break the protocol (the caller drops the connection)."""
        self.last_rx = now
        frames: list[Any] = []
        for line in self._framer.feed(data):
            if self.closed:
                break
            frame = decode_server_frame(line)
            if isinstance(frame, Ping):
                self._out.append(encode(Pong(re=frame.id)))
            elif isinstance(frame, Bye):
                self.bye = frame.reason
            elif self.welcome is None:
                if isinstance(frame, Welcome):
                    self.welcome = frame
                elif isinstance(frame, Error):
                    self.refused = frame
            else:
                frames.append(frame)
        return frames

    def send(self, frame: Any) -> None:
        self._out.append(encode(frame))

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, []
        return out

    def silent_too_long(self, now: float) -> bool:
        heartbeat = self.welcome.heartbeat_s if self.welcome else DEFAULT_HEARTBEAT_S
        return now - self.last_rx >= MISSED_HEARTBEATS * heartbeat
