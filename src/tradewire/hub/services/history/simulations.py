"""What-if replays (docs/simulate.md), each in a process of its own (``python -m
tradewire.simulate``): a replay runs a copier over thousands of moments, CPU and memory the hub's
event loop and its followers must not share. One runs at a time, hub-wide, within
``[history] simulate_timeout_s`` and ``simulate_memory_mb``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import msgspec

from tradewire.config import HistorySettings
from tradewire.protocol.frames.history import SimulateRequest, Simulation

MAX_REPLY_BYTES = 16 << 20


class SimulationRefused(Exception):
    """The replay could not be made: ``code`` is the wire's error code."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code


class Simulations:
    def __init__(self, settings: HistorySettings, data_dir: Path, postgres: str) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._postgres = postgres
        self._reserved = False

    def reserve(self) -> bool:
        """Take the one replay slot, at once (no await between the check and the taking:
        two requests in one read cannot both pass); False when a replay holds it."""
        if self._reserved:
            return False
        self._reserved = True
        return True

    def release(self) -> None:
        """Give the slot back (whoever reserved it, once the replay's task is done, however it
        ended: a task cancelled before it ran runs none of its own code)."""
        self._reserved = False

    async def run(self, frame: SimulateRequest) -> Simulation:
        """The replay's result, on the slot :meth:`reserve` took. Raises SimulationRefused."""
        settings = self._settings
        job = {
            "data_dir": str(self._data_dir),
            "postgres": self._postgres,
            "channel": frame.ch,
            "deposit": frame.deposit,
            "rules": frame.rules,
            "mode": frame.mode,
            "leverage": frame.leverage,
            "since_ms": frame.since_ms,
            "until_ms": frame.until_ms,
            "max_moments": settings.simulate_max_moments,
            "memory_mb": settings.simulate_memory_mb,
        }
        out = await self._spawn(msgspec.json.encode(job))
        try:
            answer = msgspec.json.decode(out)
        except msgspec.DecodeError:
            raise SimulationRefused("internal", "the simulation ended without a result") from None
        if isinstance(answer, dict) and "error" in answer:
            raise SimulationRefused(str(answer["error"]), str(answer.get("msg", "")))
        return msgspec.json.decode(out, type=Simulation)

    async def _spawn(self, job: bytes) -> bytes:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tradewire.simulate",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            limit=MAX_REPLY_BYTES,
        )
        try:
            async with asyncio.timeout(self._settings.simulate_timeout_s):
                out, _ = await process.communicate(job)
        except TimeoutError:
            msg = (
                f"the simulation took more than {self._settings.simulate_timeout_s:g} s"
                " ([history] simulate_timeout_s): give a shorter period"
            )
            raise SimulationRefused("too_large", msg) from None
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        return out
