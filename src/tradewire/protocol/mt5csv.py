"""Reader for MetaTrader 5 tick exports (the terminal's "Export Ticks" CSV).

Tab-separated, with a header ``<DATE> <TIME> <BID> <ASK> <LAST> <VOLUME> <FLAGS>``; dates like
``2024.01.02``, times like ``00:00:00.123``. MT5 writes only the fields that changed in a tick
(the flags say which), so an empty BID or ASK means "unchanged" and is carried forward. Rows
before both a bid and an ask are known are skipped. Pure: takes lines, yields ticks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

import msgspec

from tradewire.exceptions import ProtocolError

HEADER = ("<DATE>", "<TIME>", "<BID>", "<ASK>", "<LAST>", "<VOLUME>", "<FLAGS>")


class CsvTick(msgspec.Struct, frozen=True):
    time_ms: int
    bid: float
    ask: float
    last: float = 0.0
    volume: float = 0.0
    flags: int = 0


class Mt5CsvError(ProtocolError):
    """A line of an MT5 tick export is malformed; ``line`` is 1-based."""

    def __init__(self, line: int, msg: str) -> None:
        super().__init__(f"line {line}: {msg}")
        self.line = line


def _number(text: str, line: int, name: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise Mt5CsvError(line, f"{name} {text[:20]!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise Mt5CsvError(line, f"{name} must be finite and >= 0")
    return value


def _time_ms(date: str, clock: str, line: int, zone: tzinfo = UTC) -> int:
    try:
        whole, _, frac = clock.partition(".")
        moment = datetime.strptime(f"{date} {whole}", "%Y.%m.%d %H:%M:%S").replace(tzinfo=zone)
        millis = int(frac.ljust(3, "0")[:3]) if frac else 0
    except ValueError:
        raise Mt5CsvError(line, f"bad date/time {date[:12]!r} {clock[:14]!r}") from None
    if moment.year < 1970:  # found by fuzzing: negative times were read, then refused later
        raise Mt5CsvError(line, f"date {date[:12]!r} is before 1970")
    return int(moment.timestamp()) * 1000 + millis


def detect_encoding(head: bytes) -> str:
    """The encoding of an export from its first bytes, as MetaTrader may have written it:
    UTF-16 (with a byte-order mark, or without one: NULs between ASCII), UTF-8 (with or
    without a mark), else the terminal's ANSI code page (read as Latin-1: every field that
    matters is ASCII)."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if len(head) >= 4 and head[1::2].count(0) > len(head) // 4:
        return "utf-16-le"
    if len(head) >= 4 and head[0::2].count(0) > len(head) // 4:
        return "utf-16-be"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return "latin-1"
    return "utf-8"


@dataclass
class Skipped:
    """The lines of ticks skipped because no bid or no ask was known yet (MT5 writes only what
    changed, so a file may start with a tick that has one side)."""

    lines: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.lines:
            return ""
        where = (
            f"line {self.lines[0]}"
            if len(self.lines) == 1
            else (f"lines {self.lines[0]} to {self.lines[-1]}")
        )
        return (
            f"{len(self.lines)} tick(s) before the first one with both a bid and an ask were "
            f"skipped ({where}): MT5 writes only what changed, so they have no price to store"
        )


def read_ticks(
    lines: Iterable[str], zone: tzinfo = UTC, skipped: Skipped | None = None
) -> Iterator[CsvTick]:
    """Yield ticks in file order. ``zone``: the time zone the export's times are in (MT5
    writes the broker server's time); ``skipped`` collects the lines of ticks with no bid or
    no ask known yet. Raises :class:`Mt5CsvError` naming the first bad line."""
    bid: float | None = None
    ask: float | None = None
    for number, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n").lstrip("\ufeff")
        if not text.strip():
            continue
        fields = text.split("\t")
        if number == 1 and fields[0].strip().upper() == "<DATE>":
            if "<OPEN>" in text.upper():
                raise Mt5CsvError(
                    1,
                    "this is a bars (OHLC) export, not ticks: tradewire stores ticks and makes "
                    "bars from them; export ticks instead (Symbols window, Ticks tab, Export)",
                )
            continue
        if len(fields) < 4 or len(fields) > 7:
            raise Mt5CsvError(number, f"expected 4 to 7 tab-separated fields, got {len(fields)}")
        fields += [""] * (7 - len(fields))
        time_ms = _time_ms(fields[0].strip(), fields[1].strip(), number, zone)
        new_bid = _number(fields[2].strip(), number, "BID")
        new_ask = _number(fields[3].strip(), number, "ASK")
        last = _number(fields[4].strip(), number, "LAST") or 0.0
        volume = _number(fields[5].strip(), number, "VOLUME") or 0.0
        try:
            flags = int(fields[6].strip() or 0)
        except ValueError:
            raise Mt5CsvError(number, f"FLAGS {fields[6][:10]!r} is not an integer") from None
        bid = new_bid if new_bid is not None else bid
        ask = new_ask if new_ask is not None else ask
        if bid is not None and ask is not None:
            yield CsvTick(time_ms, bid, ask, last, volume, flags)
        elif skipped is not None:
            skipped.lines.append(number)
