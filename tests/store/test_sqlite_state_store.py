"""SqliteStateStore passes the state store conformance suite."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.store.state_conformance import CHECKS
from tradewire.clock import SystemClock
from tradewire.store.state import SqliteStateStore, StateStore


def add_user(store: StateStore, name: str, role: str, channels: list[str]) -> None:
    assert isinstance(store, SqliteStateStore)
    store.db.add_user(name, "hash", role, channels, 0)


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
async def test_sqlite_state_store_conforms(
    check: Callable[..., Awaitable[Any]], tmp_path: Path
) -> None:
    async def opened() -> StateStore:
        return await SqliteStateStore.open(tmp_path / "data", SystemClock())

    await check(opened, add_user)
