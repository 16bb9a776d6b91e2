"""The parsers tradewire exposes to untrusted bytes, each with the only errors it may raise.

Shared by the atheris harnesses (``fuzzing/fuzz.py``, coverage-guided, run by ``make fuzz``) and
the hypothesis tests in ``make test`` (``tests/unit/protocol/test_parsers_fuzz.py``): a parser that
raises anything else, or returns something out of contract, is a bug.
"""

from __future__ import annotations

from collections.abc import Callable

from tradewire.exceptions import FrameError, FrameTooLarge
from tradewire.protocol.codec import decode_client_frame
from tradewire.protocol.framing import LineFramer
from tradewire.protocol.legacy import (
    MAX_SIGNAL_MESSAGE,
    parse_signals,
    parse_template_payload,
)
from tradewire.protocol.messages import ERROR_CODES, PublishTicks
from tradewire.protocol.mt5csv import Mt5CsvError, read_ticks
from tradewire.protocol.tick_columns import native_ticks
from tradewire.protocol.ticks import TickError, parse_text

NOW_MS = 1_700_000_000_000


def native_frames(data: bytes) -> None:
    """The hub's inbound path: framing bounded at 4 KiB, then decoding each line."""
    framer = LineFramer(4096)
    try:
        lines = framer.feed(data)
    except FrameTooLarge:
        return
    for line in lines:
        try:
            frame = decode_client_frame(line)
        except FrameError as exc:
            assert exc.code in ERROR_CODES, exc.code
            continue
        if isinstance(frame, PublishTicks):  # rows or columns: accepted whole, or one reason
            checked = native_ticks(frame, NOW_MS)
            assert isinstance(checked, str) or len(checked.rows()) == len(checked)


def signal_stream(data: bytes) -> None:
    """The article's ``<<SYMBOL|NET>>`` stream as a client reads it, in two reads."""
    half = len(data) // 2
    found, rest = parse_signals(data[:half])
    more, rest = parse_signals(rest + data[half:])
    assert len(rest) <= MAX_SIGNAL_MESSAGE
    for symbol, net in found + more:
        assert symbol and net == net  # no NaN


def template_payload(data: bytes) -> None:
    """The article's template transfer as TplClient reads it."""
    try:
        symbol, period, body = parse_template_payload(data)
    except ValueError:
        return
    assert 0 < len(symbol) <= 10 and period >= 0 and len(body) == len(data) - 20


def tick_text(data: bytes) -> None:
    """A UDP datagram or a TCP tick line (the article's ``SYMBOL BID`` and the long form)."""
    try:
        symbol, time_ms, bid, ask, _, _ = parse_text(data, NOW_MS)
    except TickError:
        return
    assert symbol and 0 <= time_ms <= NOW_MS + 86_400_000 and bid >= 0
    assert ask is None or ask >= 0


def mt5_csv(data: bytes) -> None:
    """An MT5 tick export (tab-separated, as the terminal writes it)."""
    text = data.decode("utf-8", errors="replace")
    try:
        for tick in read_ticks(text.splitlines()):
            assert tick.time_ms >= 0
    except Mt5CsvError:
        return


HARNESSES: dict[str, Callable[[bytes], None]] = {
    "frames": native_frames,
    "signals": signal_stream,
    "template": template_payload,
    "ticks": tick_text,
    "mt5csv": mt5_csv,
}
