"""The sentiment book, pure: latest contribution wins, VWAP over priced volume, the privacy
threshold with its withheld row, expiry, and positions as contributions."""

from __future__ import annotations

from tradewire.hub.services.sentiment.book import Contribution, SentimentBook, from_positions
from tradewire.protocol.messages import Position, SentimentRow


def c(
    long: float, short: float, lp: float = 0.0, sp: float = 0.0, exp: float = 100
) -> Contribution:
    return Contribution(long, short, int(long > 0), int(short > 0), lp, sp, exp)


def test_latest_contribution_wins_and_vwap_ignores_unpriced_volume() -> None:
    book = SentimentBook(min_contributors=2)
    book.put("a", "EURUSD", c(1.0, 0.0, 1.10))
    book.put("a", "EURUSD", c(2.0, 0.0, 1.20))  # replaces the first
    book.put("b", "EURUSD", c(1.0, 1.0, 0.0, 1.30))  # a long without a price (article client)
    row = book.row("EURUSD")
    assert row == SentimentRow(
        "EURUSD", long_volume=3.0, short_volume=1.0, long_pct=75.0, short_pct=25.0,
        long_positions=2, short_positions=1, contributors=2, long_price=1.2, short_price=1.3,
    )  # fmt: skip


def test_the_threshold_withholds_and_says_so_once() -> None:
    book = SentimentBook(min_contributors=2)
    book.put("a", "EURUSD", c(1, 0))
    assert book.changes() == []  # one contributor: nothing shown, nothing to withdraw
    book.put("b", "EURUSD", c(0, 1))
    assert [r.contributors for r in book.changes()] == [2]
    book.drop("b")
    assert book.changes() == [SentimentRow("EURUSD", withheld=True)]
    book.drop("a")
    assert book.changes() == [] and book.visible() == []


def test_contributions_lapse_at_their_expiry() -> None:
    book = SentimentBook(min_contributors=1)
    book.put("a", "EURUSD", c(1, 0, exp=10))
    book.put("b", "GBPUSD", c(1, 0, exp=20))
    book.expire(15)
    assert [r.symbol for r in book.visible()] == ["GBPUSD"] and book.symbols_of("a") == []


def test_positions_become_one_contribution_per_symbol() -> None:
    positions = [
        Position("1", "EURUSD", "buy", 0.1, 1.10, 0),
        Position("2", "EURUSD", "buy", 0.3, 1.20, 0),
        Position("3", "EURUSD", "sell", 0.2, 1.15, 0),
        Position("4", "XAUUSD", "sell", 1.0, 2000.0, 0),
    ]
    got = from_positions(positions, 50)
    assert got["EURUSD"] == Contribution(0.4, 0.2, 2, 1, (0.11 + 0.36) / 0.4, 1.15, 50)
    assert got["XAUUSD"] == Contribution(0.0, 1.0, 0, 1, 0.0, 2000.0, 50)


def test_contributors_without_exposure_do_not_count_toward_the_threshold() -> None:
    """Issue 26, item 9: two zero-volume accounts plus the victim gave the victim's exact
    volume and price. They count for nothing now; a third account with exposure makes the
    figure visible again, the empty ones still left out of it."""
    book = SentimentBook(min_contributors=3)
    book.put("victim", "EURUSD", c(1.37, 0.0, 1.0842))
    book.put("sybil-1", "EURUSD", c(0.0, 0.0))
    book.put("sybil-2", "EURUSD", c(0.0, 0.0))
    assert book.row("EURUSD") is None and book.visible() == []
    book.put("someone", "EURUSD", c(0.0, 2.0, 0.0, 1.0850))
    book.put("another", "EURUSD", c(0.5, 0.0, 1.0830))
    row = book.row("EURUSD")
    assert row is not None and row.contributors == 3
    assert (row.long_volume, row.short_volume) == (1.87, 2.0)
