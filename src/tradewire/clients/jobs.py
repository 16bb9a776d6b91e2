"""Shared computation from Python: submit jobs and follow them (docs/jobs.md).

jobs = JobClient(client)                              # client: a started HubClient
job = await jobs.submit("tradewire.jobs.sweep:backtest", payloads)
info = await jobs.wait(job, on_progress=print)        # polls job_status
results = await jobs.results(job)                     # TaskOutcome per task, by index
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec

from tradewire.clients.hub_client import HubClient
from tradewire.protocol.messages import (
    Ack,
    JobAdd,
    JobCancel,
    JobInfo,
    JobResultList,
    JobResults,
    JobStatus,
    JobSubmit,
    TaskOutcome,
)

FRAME_SHARE = 0.8  # of the hub's frame limit used by one frame of tasks


class JobClient:
    def __init__(self, client: HubClient) -> None:
        self._client = client

    async def submit(
        self, fn: str, payloads: list[Any], max_attempts: int = 3, lease_s: float = 30.0
    ) -> str:
        """Submit a job; payloads go in as many frames as the hub's frame limit needs.
        Returns the job id. Raises :class:`HubRefused` (``bad_frame``, ``forbidden``…)."""
        encoded = [msgspec.Raw(msgspec.json.encode(p)) for p in payloads]
        chunks = _chunks(encoded, int(self._client.max_frame_bytes * FRAME_SHARE))
        info = await self._client.request(
            JobSubmit(fn=fn, tasks=chunks[0], max_attempts=max_attempts, lease_s=lease_s)
        )
        assert isinstance(info, JobInfo)
        for chunk in chunks[1:]:
            await self._client.request(JobAdd(job=info.job, tasks=chunk))
        return info.job

    async def status(self, job: str) -> JobInfo:
        info = await self._client.request(JobStatus(job=job))
        assert isinstance(info, JobInfo)
        return info

    async def wait(
        self, job: str, on_progress: Callable[[JobInfo], None] | None = None, every_s: float = 0.2
    ) -> JobInfo:
        """Poll until every task is finished (or the job is cancelled)."""
        while True:
            info = await self.status(job)
            if on_progress is not None:
                on_progress(info)
            if info.status != "running":
                return info
            await asyncio.sleep(every_s)

    async def results(self, job: str, page: int = 1000) -> list[TaskOutcome]:
        out: list[TaskOutcome] = []
        while True:
            offset = out[-1].task + 1 if out else 0
            got = await self._client.request(JobResults(job=job, offset=offset, limit=page))
            assert isinstance(got, JobResultList)
            out += got.results
            if len(got.results) < page:
                return out

    async def cancel(self, job: str) -> None:
        ack = await self._client.request(JobCancel(job=job))
        assert isinstance(ack, Ack)


def _chunks(tasks: list[msgspec.Raw], budget: int) -> list[list[msgspec.Raw]]:
    chunks: list[list[msgspec.Raw]] = [[]]
    size = 0
    for task in tasks:
        if chunks[-1] and size + len(task) + 1 > budget:
            chunks.append([])
            size = 0
        chunks[-1].append(task)
        size += len(task) + 1
    return chunks
