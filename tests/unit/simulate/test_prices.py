"""Where a what-if replay's prices come from (simulate/prices.py): a stored tick first, then
the provider's deal at that moment, then the states (an open price; a close implied by the
profit), and a known price holds until the next."""

from __future__ import annotations

import pytest

from tradewire.model import Deal, Position
from tradewire.simulate.prices import PriceBook
from tradewire.stats.channel import Point

H = 3_600_000
EUR = Position("1", "EURUSD", "buy", 0.1, 1.1000, 0)
JPY = Position("2", "USDJPY", "sell", 0.1, 150.00, 0)


def test_states_give_open_prices_and_implied_closes() -> None:
    points = [
        Point(0, 10_000, 10_000, ()),
        Point(H, 10_000, 10_000, (EUR,)),
        Point(2 * H, 10_250, 10_250, ()),  # +250 on 0.1 lots: sold at 1.1250
    ]
    book = PriceBook(points, [])
    assert book.quote("EURUSD", H) == (1.1, 1.1)
    assert book.quote("EURUSD", 2 * H) == pytest.approx((1.125, 1.125))
    assert book.quote("EURUSD", 3 * H) == pytest.approx((1.125, 1.125))  # holds
    assert book.quote("EURUSD", 0) == (1.1, 1.1)  # before the first: counted unknown
    assert book.quote("GBPUSD", H) is None
    assert dict(book.used) == {"states": 3, "unknown": 1}


def test_a_close_in_another_currency_is_converted_back() -> None:
    points = [
        Point(0, 10_000, 10_000, (JPY,)),
        # USDJPY sold at 150.00, bought back: +100 USD on 10,000 USD is 15,000 JPY at 150
        Point(H, 10_100, 10_100, ()),
    ]
    book = PriceBook(points, [])
    bid, _ = book.quote("USDJPY", H)  # type: ignore[misc]
    # 15,000 JPY over 10,000 units: 1.5 lower, converted at the last known USDJPY (150.00)
    assert bid == pytest.approx(148.5)


def test_a_deal_wins_over_the_states_and_a_tick_over_both() -> None:
    points = [Point(0, 10_000, 10_000, ()), Point(H, 10_000, 10_000, (EUR,))]
    deal = Deal("7", "1", "EURUSD", "buy", 0.1, 1.1003, H - 5)
    assert PriceBook(points, [(H, deal)]).quote("EURUSD", H) == (1.1003, 1.1003)

    def ticks(symbol: str, ts: int) -> tuple[float, float] | None:
        return (1.1001, 1.1004) if symbol == "EURUSD" else None

    book = PriceBook(points, [(H, deal)], ticks)
    assert book.quote("EURUSD", H) == (1.1001, 1.1004)
    assert book.used["ticks"] == 1


def test_each_source_is_counted_for_the_time_its_price_holds() -> None:
    points = [Point(0, 10_000, 10_000, ()), Point(H, 10_000, 10_000, (EUR,))]
    book = PriceBook(points, [(H, Deal("7", "1", "EURUSD", "buy", 0.1, 1.1003, H))])
    book.quote("EURUSD", 0, H)  # before any known price: a quote, but no time (nothing held)
    book.quote("EURUSD", H, 3 * H)  # the deal's price holds three hours
    assert dict(book.held_ms) == {"deals": 3 * H}
    assert book.used["unknown"] == 1
