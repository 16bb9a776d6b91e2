"""Every target explained (copy/explain.py): the formula with its numbers, the volume step,
each limit and each guard, hand-computed; and planning without notes writes none."""

from __future__ import annotations

import msgspec
import pytest

from tests.unit.copy.test_plan import NOW, follower, pos, provider
from tradewire.copy import CopyRules, plan
from tradewire.copy.rules import DEFAULT_MAGIC
from tradewire.model import Position, Quote


def explained(rules: CopyRules, *positions: Position, **view: object) -> dict[str, str]:
    notes: dict[str, str] = {}
    plan(provider(*positions, balance=10_000), follower(**view), rules, NOW, notes)  # type: ignore[arg-type]
    return notes


@pytest.mark.parametrize(
    ("rules", "volume", "view", "text"),
    [
        (
            CopyRules(sizing="balance"),
            0.14,
            {"balance": 25_000},
            "+0.35 = 0.14 × 25,000.00 / 10,000.00 × 1 (balance) = 0.35 → step 0.01 → 0.35",
        ),
        (
            CopyRules(multiplier=1.5),
            0.33,
            {},
            "+0.49 = 0.33 × 1.5 (multiplier) = 0.495 → step 0.01 → 0.49",  # ties round down
        ),
        (
            CopyRules(sizing="fixed", fixed_volume=0.1, reverse=True),
            2.0,
            {},
            "-0.1 = fixed_volume 0.1 (fixed) = 0.1 → step 0.01 → 0.1 (reversed)",
        ),
        (
            CopyRules(multiplier=3, max_volume=2.0),
            1.0,
            {},
            "+2 = 1 × 3 (multiplier) = 3 → step 0.01 → 3 → max_volume 2 → 2",
        ),
        (
            CopyRules(sizing="equity"),
            1.0,
            {"balance": 5_000, "equity": 4_000},
            "+0.4 = 1 × 4,000.00 / 10,000.00 × 1 (equity) = 0.4 → step 0.01 → 0.4",
        ),
    ],
)
def test_the_formula_of_every_sizing(
    rules: CopyRules, volume: float, view: dict[str, object], text: str
) -> None:
    assert explained(rules, pos("1", volume=volume), **view) == {"EURUSD": text}


def test_a_guard_says_what_it_held_and_why() -> None:
    quote = {"EURUSD": Quote("EURUSD", 1.0900, 1.0901, NOW)}  # 160 points above the entry
    notes = explained(CopyRules(max_deviation_points=20), pos("1", price=1.0850), quotes=quote)
    assert notes["EURUSD"].startswith("+0: only reducing: max_deviation_points (sized: +1 = 1")
    ours = msgspec.structs.replace(pos("9", volume=0.5), magic=DEFAULT_MAGIC)
    closing = explained(CopyRules(), positions=[ours])
    assert closing == {"EURUSD": "+0: the provider holds none"}


def test_planning_without_notes_writes_none() -> None:
    result = plan(provider(pos("1")), follower(), CopyRules(), NOW)
    again: dict[str, str] = {}
    assert plan(provider(pos("1")), follower(), CopyRules(), NOW, again) == result
    assert again  # the same plan, with its notes only when asked
