"""SqliteTickStore passes the tick store conformance suite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.store.tick_conformance import CHECKS, Opened
from tradewire.store.ticks import SqliteTickStore, TickStore


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
def test_sqlite_tick_store_conforms(check: Callable[[Opened], None], tmp_path: Path) -> None:
    def opened() -> TickStore:
        return SqliteTickStore(tmp_path / "data")

    check(opened)
