from __future__ import annotations

import random

import pytest

from tradewire.clients.backoff import Backoff


def test_delays_double_with_jitter_up_to_the_cap_and_reset() -> None:
    backoff = Backoff(initial=0.1, maximum=2.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    bases = [min(2.0, 0.1 * 2**i) for i in range(10)]
    for delay, base in zip(delays, bases, strict=True):
        assert base * 0.5 <= delay <= base
    assert len(set(delays)) == len(delays)  # jittered, not lockstep
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(initial=0)
    with pytest.raises(ValueError):
        Backoff(initial=2, maximum=1)
