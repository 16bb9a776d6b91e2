"""The provider's price of the change a fill copies (copy/quality.py), by hand."""

from __future__ import annotations

import pytest

from tradewire.copy.quality import change_price, reached, slippage_points
from tradewire.copy.targets import TargetPosition


def target(side: str, ref_volume: float, ref_price: float) -> TargetPosition:
    return TargetPosition("EURUSD", "EURUSD", side, 0.2, ref_price, ref_volume=ref_volume)  # type: ignore[arg-type]


def test_an_open_is_measured_against_the_providers_entry() -> None:
    assert change_price("open", None, target("buy", 1.0, 1.1000)) == 1.1000
    assert change_price("reverse", ("sell", 1, 1.2, 1), target("buy", 1.0, 1.1)) == 1.1


def test_an_increase_is_measured_against_the_price_the_average_implies() -> None:
    # 1.0 lot at 1.1000, then 0.5 more at 1.1030: the average is 1.1010, the change 1.1030
    before = reached(target("buy", 1.0, 1.1000))
    after = target("buy", 1.5, (1.0 * 1.1000 + 0.5 * 1.1030) / 1.5)
    assert change_price("increase", before, after) == pytest.approx(1.1030)


@pytest.mark.parametrize(
    "before",
    [None, ("sell", 1.0, 1.1000, 1.0), ("buy", 1.5, 1.1000, 1.5)],  # unknown, other side, no growth
)
def test_an_increase_whose_price_nothing_says_reports_none(before: object) -> None:
    assert change_price("increase", before, target("buy", 1.5, 1.1010)) is None  # type: ignore[arg-type]


def test_slippage_is_positive_when_worse_for_either_side() -> None:
    assert slippage_points("buy", 1.10012, 1.10000, 0.00001) == 12.0
    assert slippage_points("sell", 1.10012, 1.10000, 0.00001) == -12.0
