"""The hub's long-lived tasks, supervised: a task that fails is logged, counted and restarted
with backoff (0.1 s doubling to 10 s), and while it is down the hub is not ready (``/readyz``
names it). Never a silent half-hub: before this, an upkeep that failed once (a listener-stats
save hitting EMFILE) stopped for good, and with it auth timeouts and revocations.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from tradewire.metrics import Counter

log = logging.getLogger(__name__)

Factory = Callable[[], Coroutine[Any, Any, None]]
FIRST_DELAY_S, MAX_DELAY_S = 0.1, 10.0
HEALTHY_AFTER_S = 60.0  # a task that ran this long since its last restart starts over at 0.1 s


class TaskSupervisor:
    def __init__(
        self, spawn: Callable[[Coroutine[Any, Any, None]], asyncio.Task[None]], restarts: Counter
    ) -> None:
        self._spawn = spawn
        self._restarts = restarts
        self.down: dict[str, str] = {}  # task -> why it is down now

    def start(self, name: str, factory: Factory) -> asyncio.Task[None]:
        """Run ``factory()`` as the long-lived task ``name``, restarting it when it fails."""
        return self._spawn(self._keep(name, factory))

    async def _keep(self, name: str, factory: Factory) -> None:
        delay = FIRST_DELAY_S
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            try:
                await factory()
                return  # it ended by itself: its work is done
            except Exception as exc:  # CancelledError is not an Exception: stop goes through
                if loop.time() - started >= HEALTHY_AFTER_S:
                    delay = FIRST_DELAY_S
                self.down[name] = f"{type(exc).__name__}: {exc} (restarting)"
                self._restarts.inc(1, name)
                log.error("hub task %s failed; restarting in %.1f s", name, delay, exc_info=exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_DELAY_S)
            self.down.pop(name, None)
            log.warning("hub task %s restarted", name)

    async def check(self) -> None:
        """The readiness check: raises while a task is down."""
        if self.down:
            raise RuntimeError("; ".join(f"{n}: {why}" for n, why in sorted(self.down.items())))
