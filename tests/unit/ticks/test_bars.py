"""Weekly and monthly bars (issue 27): a week opens on Sunday 00:00 UTC, as MT5's W1 bars do;
a month on its first day."""

from __future__ import annotations

from datetime import UTC, datetime

from tradewire.ticks.bars import bars


def ms(*when: int) -> int:
    return int(datetime(*when, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def row(t: int, bid: float) -> tuple[str, int, float, None, None, None]:
    return ("EURUSD", t, bid, None, None, None)


def test_a_week_opens_on_sunday_midnight_utc() -> None:
    rows = [
        row(ms(2026, 12, 5, 23, 59), 1.10),  # Saturday: the week of Sunday 29 November
        row(ms(2026, 12, 6), 1.20),  # Sunday midnight opens the next
        row(ms(2026, 12, 7, 12), 1.15),  # Monday
        row(ms(2026, 12, 12, 23, 59), 1.30),  # Saturday, same week
    ]
    weeks = list(bars(rows, "W1"))
    assert [(b.time_ms, b.ticks) for b in weeks] == [(ms(2026, 11, 29), 1), (ms(2026, 12, 6), 3)]
    assert (weeks[1].open, weeks[1].high, weeks[1].low, weeks[1].close) == (1.2, 1.3, 1.15, 1.3)


def test_a_month_opens_on_its_first_day() -> None:
    rows = [row(ms(2026, 12, 31, 23, 59), 1.1), row(ms(2027, 1, 1), 1.2), row(ms(2027, 2, 28), 1.3)]
    assert [b.time_ms for b in bars(rows, "MN1")] == [
        ms(2026, 12, 1),
        ms(2027, 1, 1),
        ms(2027, 2, 1),
    ]
