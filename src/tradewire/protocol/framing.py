"""NDJSON framing with a hard bound on buffered bytes (PROTOCOL.md section 1, "Framing").

One JSON object per line, ``\\n`` terminated, ``\\r\\n`` accepted, empty lines ignored. The
framer never holds more than ``max_frame_bytes`` of an unfinished line: a longer line raises
:class:`FrameTooLarge` and the framer refuses further input (the connection is to be closed).
"""

from __future__ import annotations

from tradewire.exceptions import FrameTooLarge

# The protocol's defaults, written once: the hub's settings, its welcome and clients that have
# no welcome yet all start from these.
DEFAULT_MAX_FRAME_BYTES = 65_536
DEFAULT_HEARTBEAT_S = 15.0


class LineFramer:
    """Splits a byte stream into lines of at most ``max_frame_bytes`` bytes each."""

    __slots__ = ("_broken", "_buffer", "_max")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        if max_frame_bytes < 2:
            raise ValueError("max_frame_bytes must be at least 2")
        self._max = max_frame_bytes
        self._buffer = b""
        self._broken = False

    @property
    def buffered(self) -> int:
        """Bytes of an unfinished line currently held."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the complete, non-empty lines it finished, in order.

        Raises :class:`FrameTooLarge` when a line (without its terminator) exceeds the bound,
        and on every call after that.
        """
        if self._broken:
            raise FrameTooLarge(self._max)
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        parts = data.split(b"\n")
        tail = parts.pop()  # bytes after the last newline: an unfinished line
        lines: list[bytes] = []
        limit = self._max
        for part in parts:
            if part.endswith(b"\r"):
                part = part[:-1]
            if len(part) > limit:
                self._broken = True
                raise FrameTooLarge(limit)
            if part:
                lines.append(part)
        # An unfinished line may still end with the \r of a \r\n split across reads: allow one byte.
        if len(tail) > limit + (1 if tail.endswith(b"\r") else 0):
            self._broken = True
            raise FrameTooLarge(limit)
        self._buffer = tail
        return lines
