from __future__ import annotations

from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewire.protocol.mt5csv import CsvTick, Mt5CsvError, Skipped, read_ticks

EXPORT = [
    "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>\n",
    "2024.01.02\t00:00:00.057\t1.10410\t\t\t\t2\n",  # no ask yet: skipped
    "2024.01.02\t00:00:00.100\t\t1.10420\t\t\t4\n",
    "2024.01.02\t00:00:01.5\t1.10400\t\t\t\t2\r\n",
    "\n",
    "2024.01.02\t00:00:02\t1.10390\t1.10395\t1.1039\t3\t134\n",
]


def test_unchanged_fields_are_carried_forward() -> None:
    assert list(read_ticks(EXPORT)) == [
        CsvTick(1704153600100, 1.1041, 1.1042, 0.0, 0.0, 4),
        CsvTick(1704153601500, 1.104, 1.1042, 0.0, 0.0, 2),
        CsvTick(1704153602000, 1.1039, 1.10395, 1.1039, 3.0, 134),
    ]


def test_the_ticks_skipped_for_want_of_a_price_are_named() -> None:
    skipped = Skipped()
    assert len(list(read_ticks(EXPORT, skipped=skipped))) == 3
    assert skipped.lines == [2]
    assert str(skipped).startswith("1 tick(s) before the first one with both a bid and an ask")
    assert "(line 2)" in str(skipped)


def test_times_in_the_broker_servers_zone_are_read_as_such() -> None:
    utc = [t.time_ms for t in read_ticks(EXPORT)]
    plus2 = [t.time_ms for t in read_ticks(EXPORT, timezone(timedelta(hours=2)))]
    assert [u - p for u, p in zip(utc, plus2, strict=True)] == [7_200_000] * 3
    summer = ["2024.07.01\t12:00:00\t1.1\t1.2\n"]  # Athens is UTC+3 in July, +2 in January
    (athens,) = read_ticks(summer, ZoneInfo("Europe/Athens"))
    (naive,) = read_ticks(summer)
    assert naive.time_ms - athens.time_ms == 3 * 3_600_000


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("2024.13.02\t00:00:00\t1\t1\n", "bad date"),
        ("2024.01.02\tnoon\t1\t1\n", "bad date"),
        ("2024.01.02\t00:00:00\tabc\t1\n", "BID"),
        ("2024.01.02\t00:00:00\t-1\t1\n", "BID must be finite"),
        ("2024.01.02\t00:00:00\tnan\t1\n", "BID must be finite"),
        ("2024.01.02\t00:00:00\t1\n", "4 to 7"),
        ("2024.01.02\t00:00:00\t1\t1\t\t\tx\n", "FLAGS"),
    ],
)
def test_bad_lines_are_named(line: str, fragment: str) -> None:
    with pytest.raises(Mt5CsvError) as caught:
        list(read_ticks([EXPORT[0], line]))
    assert caught.value.line == 2 and fragment in str(caught.value)


@given(st.lists(st.text(max_size=60), max_size=10))
def test_any_text_gives_ticks_or_one_named_error(lines: list[str]) -> None:
    try:
        for tick in read_ticks(lines):
            assert tick.bid >= 0 and tick.ask >= 0
    except Mt5CsvError as exc:
        assert exc.line >= 1


def test_dates_before_1970_are_an_error_with_the_line() -> None:
    # Found by fuzzing (make fuzz): year 1012 gave a negative time that the hub later refused.
    lines = [
        "<DATE>\t<TIME>\t<BID>\t<ASK>\t<LAST>\t<VOLUME>\t<FLAGS>",
        "1012.01.02\t10:00:00.100\t1.10410\t1.10420\t\t\t6",
    ]
    with pytest.raises(Mt5CsvError) as caught:
        list(read_ticks(lines))
    assert "1970" in str(caught.value) and "2" in str(caught.value)


def test_a_bars_export_is_named_as_such_with_what_to_do() -> None:
    bars = [
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n",
        "2024.01.02\t10:00:00\t1.1041\t1.1043\t1.1039\t1.1043\t12\t0\t10\n",
    ]
    with pytest.raises(Mt5CsvError) as caught:
        list(read_ticks(bars))
    assert "this is a bars (OHLC) export, not ticks" in str(caught.value)
    assert "export ticks instead" in str(caught.value)
