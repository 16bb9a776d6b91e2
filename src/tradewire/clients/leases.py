"""Accounts shared by copy engines on several machines: a lease per account in a NATS
JetStream key-value bucket (docs/engine.md, "Several machines").

Every engine started with ``--leases nats://HOST:PORT[/BUCKET]`` reads the same accounts file
and copies only the accounts whose lease it holds:

- **Taking.** A lease is the key ``account.NAME``, created only if absent (JetStream refuses a
  second ``create``): one engine holds it.
- **Keeping.** The holder rewrites it every ``RENEW_S`` with the revision it last wrote; the
  bucket forgets a key not written for ``TTL_S``, so a dead engine's accounts are free
  ``TTL_S`` after its last renewal, and another engine takes them at its next look
  (``LOOK_S``).
- **Fencing.** An engine stops copying an account whose lease it could not renew for
  ``FENCE_S`` (< ``TTL_S``): cut off from NATS, it stops before anyone else may start. A
  renewal refused (the revision moved) means the lease is gone: it stops at once.
- **Sharing.** Each engine beats in a second bucket; with E engines alive and A accounts each
  takes up to ceil(A / E) of the free ones and gives back what it holds above that, a few at
  a time. A lease given back (above the share, or at a clean stop) is left to expire rather
  than deleted, so that an order still on its way lands before another engine reads the
  account.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import api
from nats.js.errors import KeyWrongLastSequenceError, NoKeysError
from nats.js.kv import KeyValue

from tradewire.clock import Clock, SystemClock
from tradewire.exceptions import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")

TTL_S = 3.0  # a lease not renewed for this long is free
RENEW_S = 0.5  # renewals and looks for free accounts
FENCE_S = 2.0  # stop copying an account whose lease was last renewed this long ago
LOOK_S = 0.25  # how often an engine below its share looks for free accounts
SETTLE_S = 1.5  # after joining: time to see the other engines before taking any account
CALL_S = 1.0  # a NATS request that takes longer counts as failed
CONNECT_S = 10.0  # at start: NATS unreachable this long is an error
BATCH = 32  # accounts taken or given back per look at most
DEFAULT_BUCKET = "tw_engine"


def parse_leases(url: str) -> tuple[str, str]:
    """``nats://[TOKEN@]HOST:PORT[/BUCKET]`` -> (server URL, bucket). Raises ConfigError."""
    parts = urlsplit(url)
    bucket = parts.path.strip("/") or DEFAULT_BUCKET
    if parts.scheme not in ("nats", "tls") or not parts.hostname or parts.port is None:
        raise ConfigError(f"--leases {url!r}: expected nats://HOST:PORT[/BUCKET]")
    if not all(c.isalnum() or c in "-_" for c in bucket):
        raise ConfigError(f"--leases {url!r}: a bucket is letters, digits, - and _")
    return f"{parts.scheme}://{parts.netloc}", bucket


class LeaseBucket:
    """The leases of one accounts file in NATS JetStream KV, for engine ``engine_id``."""

    def __init__(self, nc: Client, leases: KeyValue, engines: KeyValue, engine_id: str) -> None:
        self._nc, self._leases, self._engines, self.engine_id = nc, leases, engines, engine_id

    @classmethod
    async def connect(cls, url: str, bucket: str, engine_id: str = "") -> LeaseBucket:
        engine_id = engine_id or f"{socket.gethostname()}-{os.getpid()}-{random.randrange(1 << 16)}"
        errors: list[Exception] = []

        async def error(exc: Exception) -> None:  # one line each, not nats-py's tracebacks
            if not errors or str(errors[-1]) != str(exc):
                log.warning("lease bucket at %s: %s", _safe(url), exc)
            errors.append(exc)
            del errors[:-1]

        async def back() -> None:
            errors.clear()
            log.info("lease bucket at %s: connected again", _safe(url))

        try:
            async with asyncio.timeout(CONNECT_S):
                nc = await nats.connect(
                    url, connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=0.5,
                    error_cb=error, reconnected_cb=back,
                )  # fmt: skip
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            why = errors[-1] if errors else exc
            raise ConfigError(
                f"--leases: cannot reach NATS at {_safe(url)} ({why or 'no answer'}): is "
                "nats-server running there, with JetStream (docs/scaling.md)?"
            ) from None
        js = nc.jetstream()
        made = []
        for name in (bucket, f"{bucket}_engines"):
            config = api.KeyValueConfig(bucket=name, ttl=TTL_S, history=1)
            made.append(await js.create_key_value(config))
        return cls(nc, made[0], made[1], engine_id)

    async def take(self, account: str) -> int | None:
        """The lease's revision if this engine now holds it; None if another does."""
        try:
            return int(await self._call(self._leases.create(_key(account), self._me)))
        except KeyWrongLastSequenceError:
            return None

    async def renew(self, account: str, revision: int) -> int | None:
        """The new revision, or None when the lease is gone (expired and maybe taken)."""
        try:
            return int(await self._call(self._leases.update(_key(account), self._me, revision)))
        except KeyWrongLastSequenceError:
            return None

    async def release(self, account: str, revision: int) -> None:
        """Give the lease back now (not waiting for it to expire); best effort."""
        with contextlib.suppress(TimeoutError, nats.errors.Error):  # it expires anyway
            await self._call(self._leases.delete(_key(account), last=revision))

    async def beat(self) -> int:
        """Say this engine is alive; returns how many are (this one included)."""
        await self._call(self._engines.put(self.engine_id, b"1"))
        try:
            return max(1, len(await self._call(self._engines.keys())))
        except NoKeysError:  # our own beat has not landed yet
            return 1

    async def leased(self) -> set[str]:
        """The accounts some engine holds now."""
        try:
            keys = await self._call(self._leases.keys())
        except NoKeysError:
            return set()
        return {key.removeprefix("account.") for key in keys}

    async def close(self) -> None:
        # nats-py raises from close() when the server went away (it flushes to a dead socket)
        with contextlib.suppress(RuntimeError, OSError, nats.errors.Error):
            await self._nc.close()

    @property
    def _me(self) -> bytes:
        return self.engine_id.encode()

    async def _call(self, request: Awaitable[T]) -> T:
        return await asyncio.wait_for(request, CALL_S)


def _key(account: str) -> str:
    return f"account.{account}"


def _safe(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port}"


@dataclass
class Held:
    revision: int
    renewed_at: float  # our monotonic clock when the renewal that succeeded was sent


class LeaseKeeper:
    """Holds this engine's share of ``accounts``: ``start(name)`` opens and copies one (False:
    it cannot now, such as a lock still held), ``stop(name)`` stops copying it."""

    def __init__(
        self,
        bucket: LeaseBucket,
        accounts: Sequence[str],
        start: Callable[[str], Awaitable[bool]],
        stop: Callable[[str], Awaitable[None]],
        clock: Clock | None = None,
    ) -> None:
        self.bucket, self.accounts = bucket, list(accounts)
        self._start, self._stop = start, stop
        self.clock: Clock = clock or SystemClock()
        self.held: dict[str, Held] = {}
        self._not_before: dict[str, float] = {}  # an account that failed to start: retry later
        self.engines = 1

    async def run(self) -> None:
        """Renew, fence, and take or give back, each in a loop of its own: opening an account
        (a slow broker) never holds up the renewal of the others."""
        joined = self.clock.monotonic()
        helpers = [asyncio.create_task(self._fence()), asyncio.create_task(self._renewing())]
        try:
            while True:
                if self.clock.monotonic() - joined >= SETTLE_S:
                    await self.share()
                await asyncio.sleep(LOOK_S)
        finally:
            for task in helpers:
                task.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
            for name in list(self.held):
                await self._give_back(name)

    async def _renewing(self) -> None:
        while True:
            await self.renew()
            await asyncio.sleep(RENEW_S)

    async def _fence(self) -> None:
        """Apart from the looks, which may wait on NATS: stop every account whose lease was
        last renewed ``FENCE_S`` ago, before it can expire at the server."""
        while True:
            now = self.clock.monotonic()
            for name, held in list(self.held.items()):
                if now - held.renewed_at >= FENCE_S and self.held.get(name) is held:
                    del self.held[name]
                    since = now - held.renewed_at
                    log.error("cannot renew the lease of account %s for %.1f s: stopped "
                              "copying it before another engine may", name, since)  # fmt: skip
                    await self._stop(name)
            await asyncio.sleep(0.1)

    async def renew(self) -> None:
        """Say this engine is alive and renew every lease it holds."""
        sent = self.clock.monotonic()
        beat, _ = await asyncio.gather(
            self.bucket.beat(), self._renew(sent), return_exceptions=True
        )
        if isinstance(beat, int):
            self.engines = beat
        elif isinstance(beat, Exception):
            log.warning("cannot reach the lease bucket: %s", beat or type(beat).__name__)

    async def share(self) -> None:
        """Take free accounts up to this engine's share, or give back what is above it."""
        share = math.ceil(len(self.accounts) / self.engines)
        if len(self.held) > share:
            for name in sorted(self.held)[share:][:BATCH]:
                log.info("giving account %s back (%d engines share them)", name, self.engines)
                await self._give_back(name)
        elif len(self.held) < share:
            await self._take(share - len(self.held))

    async def _renew(self, sent: float) -> None:
        names = list(self.held)
        results = await asyncio.gather(
            *(self.bucket.renew(n, self.held[n].revision) for n in names), return_exceptions=True
        )
        for name, result in zip(names, results, strict=True):
            held = self.held.get(name)
            if held is None:
                continue  # fenced meanwhile: its lease expires unrenewed
            if isinstance(result, int):
                held.revision, held.renewed_at = result, sent
            elif result is None:
                log.error("lost the lease of account %s (it expired): stopped copying it", name)
                del self.held[name]
                await self._stop(name)
            # a failed call (NATS away): renewed_at stays, and _fence acts in time

    async def _take(self, wanted: int) -> None:
        now = self.clock.monotonic()
        try:
            leased = await self.bucket.leased()
        except (TimeoutError, nats.errors.Error):
            return
        free = [n for n in self.accounts if n not in leased and self._not_before.get(n, 0) <= now]
        random.shuffle(free)  # engines starting together do not all race for the same ones
        taken = 0
        for name in free[:BATCH]:
            if taken >= wanted:
                return
            asked = self.clock.monotonic()
            try:
                revision = await self.bucket.take(name)
            except (TimeoutError, nats.errors.Error):
                return
            if revision is None:
                continue  # another engine took it since
            taken += 1
            held = self.held[name] = Held(revision, asked)  # renewed (and fenced) from now on
            if not await self._start(name):
                self._not_before[name] = self.clock.monotonic() + 5.0
                if self.held.pop(name, None) is not None:
                    await self.bucket.release(name, held.revision)
            elif self.held.get(name) is not held:  # fenced or lost while it opened
                await self._stop(name)
            else:
                log.info("took account %s", name)

    async def _give_back(self, name: str) -> None:
        """Stop copying ``name`` and stop renewing its lease, which another engine may take
        once it expires: not deleted at once, so that an order still on its way to the broker
        lands before anyone else reads the account (TTL_S later)."""
        if self.held.pop(name, None) is not None:  # not fenced meanwhile
            await self._stop(name)
