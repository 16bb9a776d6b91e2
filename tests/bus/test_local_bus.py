"""LocalBus passes the bus conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.bus.conformance import CHECKS
from tradewire.bus.local import LocalBus


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_local_bus_conforms(check: Callable[[Any], None]) -> None:
    check(LocalBus)
