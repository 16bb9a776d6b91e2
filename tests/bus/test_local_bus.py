"""LocalBus passes the bus conformance suite, persist hook included."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.bus.conformance import CHECKS, PERSIST_CHECKS
from tradewire.bus.base import Bus, Persist
from tradewire.bus.local import LocalBus


async def make_local_bus(persist: Persist | None = None) -> Bus:
    bus = LocalBus(persist)
    await bus.start()
    return bus


@pytest.mark.parametrize(
    "check", CHECKS + PERSIST_CHECKS, ids=lambda c: c.__name__.removeprefix("check_")
)
async def test_local_bus_conforms(check: Callable[[Any], Awaitable[None]]) -> None:
    await check(make_local_bus)
