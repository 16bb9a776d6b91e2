"""Bursts of identical refusals are audited once, with their count (store/audit_burst.py)."""

from __future__ import annotations

from tradewire.store.audit_burst import MAX_KEYS, WINDOW_S, RefusalBursts


def test_the_first_refusal_is_written_at_once_and_the_rest_as_one_count() -> None:
    bursts = RefusalBursts()
    assert bursts.refused(None, "10.0.0.1", "banned", 0.0) == [
        ("refused", None, "10.0.0.1", "banned")
    ]
    for n in range(72_621):
        assert bursts.refused(None, "10.0.0.1", "banned", n * 1e-4) == []
    assert bursts.ended(WINDOW_S - 0.1) == []
    assert bursts.ended(WINDOW_S) == [("refused", None, "10.0.0.1", "banned (72621 more in 10 s)")]
    # the next one starts a new burst, written at once
    assert bursts.refused(None, "10.0.0.1", "banned", WINDOW_S + 1) == [
        ("refused", None, "10.0.0.1", "banned")
    ]


def test_other_addresses_and_reasons_are_bursts_of_their_own_and_memory_is_bounded() -> None:
    bursts = RefusalBursts()
    assert bursts.refused(None, "10.0.0.1", "banned", 0.0)
    assert bursts.refused(None, "10.0.0.2", "banned", 0.0)
    assert bursts.refused(None, "10.0.0.1", "server_busy", 0.0)
    for n in range(MAX_KEYS + 5):
        bursts.refused(None, f"10.1.{n // 250}.{n % 250}", "banned", 1.0)
    assert len(bursts._bursts) <= MAX_KEYS
    assert bursts.ended(2.0, everything=True) == []  # no burst had a second refusal
