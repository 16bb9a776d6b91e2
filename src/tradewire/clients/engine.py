"""The copy engine: one process copies one or more channels onto many accounts (docs/engine.md).

It is how a signal service or a VPS copier runs hundreds of accounts: one hub session for all,
each state decoded once and turned into the planning input once, then handed to every account on
its channel. Each account is a :class:`Follower` of its own (its broker, rules, journal, order
slots and retries), so each stays idempotent on its own and one account's orders never wait for
another's: they run as separate tasks, against brokers that work in parallel. An account that
fails (a bug, a full disk under its journal) stops alone and is reported; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from tradewire.clients.follower import Follower, arrival
from tradewire.clients.follower_report import combined_report
from tradewire.clients.journal import percentile
from tradewire.clock import Clock, SystemClock
from tradewire.copy import ProviderState
from tradewire.protocol.messages import FollowerReport, StateUpdate

log = logging.getLogger(__name__)


class CopyEngine:
    """Copies channels onto the accounts of ``followers`` (account name -> its follower)."""

    def __init__(self, followers: Mapping[str, Follower], clock: Clock | None = None) -> None:
        self.followers = dict(followers)
        self.clock: Clock = clock or SystemClock()
        self._by_channel: dict[str, list[Follower]] = {}
        for follower in self.followers.values():
            for channel in follower.channels:  # a netting portfolio copies several
                self._by_channel.setdefault(channel, []).append(follower)
        # The hub's clock minus ours (HubClient.clock_offset_us), for the hop stamps.
        self.hub_clock_offset: Callable[[], int | None] = lambda: None
        self.failed: dict[str, str] = {}  # account -> why it stopped
        self.states = 0
        # the newest state of each channel, for an account added later (a lease taken)
        self._latest: dict[str, tuple[ProviderState, list[int]]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._ended = asyncio.Event()
        self._running = False

    @property
    def channels(self) -> list[str]:
        return sorted(self._by_channel)

    def on_state(self, update: StateUpdate) -> None:
        """HubClient callback: one state, made ready once, for every account on its channel."""
        followers = self._by_channel.get(update.ch)
        self.states += 1
        state, stamps = arrival(update, self.clock, self.hub_clock_offset())
        self._latest[update.ch] = (state, stamps)
        for follower in followers or ():
            follower.accept(state, stamps, update.ch)

    def add(self, name: str, follower: Follower) -> None:
        """Copy onto one more account from now on (a lease taken: clients/leases.py), from the
        newest state of its channels."""
        self.followers[name] = follower
        for channel in follower.channels:
            self._by_channel.setdefault(channel, []).append(follower)
            if channel in self._latest:
                follower.accept(*self._latest[channel], channel)
        self.failed.pop(name, None)
        if self._running:
            self._start(name)

    async def remove(self, name: str) -> Follower | None:
        """Stop copying onto ``name`` (its round ends; its orders under way are cancelled)."""
        follower = self.followers.pop(name, None)
        if follower is None:
            return None
        for channel in follower.channels:
            self._by_channel[channel].remove(follower)
            if not self._by_channel[channel]:
                del self._by_channel[channel]
        task = self._tasks.pop(name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return follower

    async def run(self, keep_running: bool = False) -> None:
        """Copy until cancelled, or until every account has stopped (``keep_running``: until
        cancelled, accounts coming and going with ``add`` and ``remove``)."""
        self._running = True
        for name in self.followers:
            self._start(name)
        try:
            while self._tasks or keep_running:
                self._ended.clear()
                await self._ended.wait()
        finally:
            self._running = False
            tasks = list(self._tasks.values())
            self._tasks.clear()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _start(self, name: str) -> None:
        task = asyncio.get_running_loop().create_task(
            self.followers[name].run(), name=f"account {name}"
        )
        self._tasks[name] = task
        task.add_done_callback(lambda done: self._on_end(name, done))

    def _on_end(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is not task:
            return  # removed, or cancelled at the end of run()
        del self._tasks[name]
        self._ended.set()
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self.failed[name] = f"{type(error).__name__}: {error}"
            log.error("account %s stopped: %s", name, self.failed[name])
        elif self.followers[name].stopped:
            log.warning("account %s stopped: stop_equity reached", name)

    def status(self, explain: tuple[str, int] | None = None) -> dict[str, Any]:
        """A JSON-ready summary of every account, for ``tradewire follow --accounts --status``;
        with ``explain`` (an account, when it was asked: cli/engine_explain.py), why each of
        that account's targets is what it is."""
        rows = []
        for name, follower in self.followers.items():
            journal = follower.journal
            rows.append(
                {
                    "account": name,
                    "channel": follower.channel,
                    "seq": follower.state.seq if follower.state else None,
                    "in_sync": follower.in_sync(),
                    "pending": len(follower.pending_orders),
                    "fills": journal.counts["fill"],
                    "rejects": journal.counts["reject"],
                    "errors": journal.counts["error"],
                    "latency_ms_p99": percentile(journal.latencies_ms, 0.99),
                    "stopped": self.failed.get(name)
                    or ("stop_equity" if follower.stopped else "")
                    or ", ".join(f"{k} (breaker)" for k in sorted(follower.breaker.tripped)),
                    "breakers": dict(follower.breaker.tripped),
                }
            )
        status = {"channels": self.channels, "states": self.states, "accounts": rows}
        if explain is not None:
            status["explained"] = self._explained(*explain)
        return status

    def _explained(self, name: str, asked_ms: int) -> dict[str, Any]:
        follower = self.followers.get(name)
        if follower is None:
            known = ", ".join(sorted(self.followers)[:10])
            return {"asked_ms": asked_ms, "error": f"no account {name!r} (accounts: {known})"}
        plan = follower.last_plan
        targets = plan.target if plan is not None else {}
        return {
            "account": name,
            "asked_ms": asked_ms,
            "target": {k: msgspec.to_builtins(t) for k, t in targets.items()},
            "explain": follower.explain(),
        }

    def reports(self) -> list[FollowerReport]:
        """Copy quality per channel, all its accounts together, for the hub's dashboard (one
        session; the hub checks each channel against what the user may follow)."""
        return [combined_report(ch, self._by_channel[ch]) for ch in self.channels]
