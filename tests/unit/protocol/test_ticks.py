from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradewire.protocol.ticks import DAY_MS, TickError, check_rows, parse_text
from tradewire.ticks.bars import TIMEFRAMES_MS, Bar, bars

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("data", "row"),
    [
        (b"EURUSD 1.08345\x00", ("EURUSD", NOW, 1.08345, None, None, None)),  # the article's form
        (b"EURUSD 1.08345", ("EURUSD", NOW, 1.08345, None, None, None)),
        (
            b"  XAUUSD 2350.5 2350.8 1699999999000 \r\n\x00\x00",
            ("XAUUSD", 1699999999000, 2350.5, 2350.8, None, None),
        ),
        (
            b"US30\t39000.1\t39001.2\t1699999999999",
            ("US30", 1699999999999, 39000.1, 39001.2, None, None),
        ),
    ],
)
def test_text_ticks(data: bytes, row: tuple[object, ...]) -> None:
    assert parse_text(data, NOW) == row


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "expected"),
        (b"EURUSD", "expected"),
        (b"EURUSD 1.1 1.2", "expected"),
        (b"EUR USD 1.1 1.2 3", "expected"),
        (b"EURUSD abc", "not a number"),
        (b"EURUSD nan", "finite"),
        (b"EURUSD inf", "finite"),
        (b"EURUSD -1.1", "finite"),
        (b"EUR\x00USD 1.1", "symbol"),
        (b"EUR/USD 1.1", "symbol"),
        (b"EURUSD 1.1 1.2 -5", "before 1970"),
        (b"EURUSD 1.1 1.2 " + str(NOW + DAY_MS + 1).encode(), "day ahead"),
        (b"EURUSD 1.1 1.2 1.5", "not a number"),
        (b"\xffEURUSD 1.1", "ASCII"),
    ],
)
def test_bad_text_ticks_have_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(TickError) as caught:
        parse_text(data, NOW)
    assert reason in caught.value.reason


@given(st.binary(max_size=80))
def test_any_datagram_gives_a_row_or_a_tick_error(data: bytes) -> None:
    try:
        row = parse_text(data, NOW)
    except TickError:
        return
    assert row[2] >= 0 and 0 <= row[1] <= NOW + DAY_MS


def test_native_rows_are_refused_whole_naming_the_first_bad_row() -> None:
    good = ["EURUSD", NOW, 1.1, 1.2]
    assert check_rows([good, ["GBPUSD", NOW, 1.3, 1.31, 0, 5]], NOW) == [
        ("EURUSD", NOW, 1.1, 1.2, None, None),
        ("GBPUSD", NOW, 1.3, 1.31, 0.0, 5.0),
    ]
    for bad, reason in [
        (["EURUSD", NOW, 1.1], "a row is"),
        (["EURUSD", NOW, 1.1, None], "ask"),
        (["EURUSD", -1, 1.1, 1.2], "before 1970"),
        (["EURUSD", True, 1.1, 1.2], "integer"),
        (["EURUSD", NOW, "1.1", 1.2], "not a number"),
        (["EURUSD", NOW, 1.1, 1.2, -3], "last"),
        ("EURUSD", "a row is"),
        (["E U", NOW, 1.1, 1.2], "symbol"),
    ]:
        assert check_rows([good, good, bad], NOW) == (2, check_rows([bad], NOW)[1])  # type: ignore[index]
        assert reason in check_rows([bad], NOW)[1]  # type: ignore[index, operator]


def reference_bars(rows: list[tuple[int, float]], tf: int) -> list[Bar]:
    buckets: dict[int, list[float]] = {}
    for t, bid in rows:
        buckets.setdefault(t // tf * tf, []).append(bid)
    return [Bar(k, v[0], max(v), min(v), v[-1], len(v)) for k, v in sorted(buckets.items())]


@given(
    st.lists(st.tuples(st.integers(0, 10_000_000), st.floats(0.5, 2.0)), max_size=200),
    st.sampled_from(["M1", "M5", "H1"]),
)
def test_bars_match_a_simple_reference(points: list[tuple[int, float]], tf: str) -> None:
    points.sort(key=lambda p: p[0])
    rows = [("EURUSD", t, bid, None, None, None) for t, bid in points]
    assert list(bars(rows, tf)) == reference_bars(points, TIMEFRAMES_MS[tf])
