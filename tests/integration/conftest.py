"""A watchdog for hangs: if an integration test is still running after 60 s, print every
asyncio task's stack (pytest-timeout's thread dump cannot show coroutines) before the
120 s timeout ends the run."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator

import pytest

WATCHDOG_S = 60.0


@pytest.fixture(autouse=True)
async def _asyncio_task_watchdog() -> AsyncIterator[None]:
    loop = asyncio.get_running_loop()

    def dump() -> None:
        print(f"\n=== still running after {WATCHDOG_S:.0f} s: asyncio tasks ===", file=sys.stderr)
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=sys.stderr)
        sys.stderr.flush()

    timer = threading.Timer(WATCHDOG_S, dump)
    timer.daemon = True
    timer.start()
    yield
    timer.cancel()
