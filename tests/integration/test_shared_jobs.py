"""Jobs whose queue is in JetStream (hub/services/jobs/shared.py), across hubs: a job submitted
through one hub is worked on by workers of every hub, survives every hub going away, gives the
tasks of a worker that leaves back at once, and is deleted everywhere after keep_days. (The frames'
behaviour on one hub is tests/integration/test_jobs.py, run with both queues.)"""

from __future__ import annotations

import asyncio
import time

import msgspec
import nats
import pytest

from tests.conftest import logged_in
from tests.integration.conftest import StartHub
from tests.integration.test_jobs import FNS, client, stop, workers
from tradewire.bus.nats_server import NatsServer
from tradewire.clients.jobs import JobClient
from tradewire.config import JobSettings
from tradewire.exceptions import HubRefused


async def test_a_job_submitted_through_one_hub_is_worked_on_by_workers_of_both(
    nats_hub: StartHub,
) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    running = [*await workers(a, "w1"), *await workers(b, "w2")]
    bob = await client(a, "bob")
    try:
        job = await JobClient(bob).submit(f"{FNS}:nap", [0.05] * 20)
        info = await JobClient(bob).wait(job)
        assert (info.status, info.done, info.failed) == ("finished", 20, 0)
        on_b = await client(b, "bob")  # the same job, seen through the other hub
        assert (await JobClient(on_b).status(job)).done == 20
        await on_b.close()
        by_hub = [h.snapshot()["tradewire_job_tasks_total"].get(("done",), 0) for h in (a, b)]
        assert sum(by_hub) == 20 and all(by_hub), by_hub  # both hubs' workers took tasks
    finally:
        await bob.close()
        await stop(running)


async def test_a_job_outlives_every_hub_and_each_result_is_stored_once(
    nats_hub: StartHub,
) -> None:
    a = await nats_hub("a")
    bob = await client(a, "bob")
    job = await JobClient(bob).submit(f"{FNS}:square", list(range(6)))
    raw = await logged_in(a, "w1")
    raw.send({"t": "task_lease", "max": 3, "id": 1})
    leased = (await raw.recv())["tasks"]
    for t in leased[:2]:  # two results stored, a third task in the air when the hub stops
        result = {"t": "task_result", "job": job, "task": t["task"], "ok": True}
        raw.send({**result, "value": t["payload"] ** 2, "id": t["task"]})
        assert (await raw.recv())["n"] == 1
    await bob.close()
    await a.stop()
    fresh = await nats_hub("c")  # another hub, with a data directory of its own
    running = await workers(fresh, "w2")
    bob = await client(fresh, "bob")
    try:
        info = await JobClient(bob).wait(job)
        assert (info.status, info.done, info.n) == ("finished", 6, 6)
        outcomes = await JobClient(bob).results(job)
        assert [msgspec.json.decode(o.value) for o in outcomes] == [n * n for n in range(6)]
    finally:
        await bob.close()
        await stop(running)


async def test_a_worker_that_leaves_gives_its_tasks_back_at_once(nats_hub: StartHub) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    bob = await client(a, "bob")
    try:
        job = await JobClient(bob).submit(f"{FNS}:square", [5], lease_s=60)
        gone = await logged_in(a, "w1")
        gone.send({"t": "task_lease", "id": 1})
        assert [t["task"] for t in (await gone.recv())["tasks"]] == [0]
        gone.close()  # long before its 60 s lease would expire
        other = await logged_in(b, "w2")
        other.send({"t": "task_lease", "wait_ms": 5000, "id": 1})
        (again,) = (await other.recv(timeout=6))["tasks"]
        assert (again["job"], again["task"], again["attempt"]) == (job, 0, 2)
    finally:
        await bob.close()


async def test_finished_jobs_are_deleted_everywhere_after_keep_days(nats_hub: StartHub) -> None:
    a, b = await nats_hub("a"), await nats_hub("b")
    running = await workers(a, "w1")
    bob = await client(a, "bob")
    try:
        jobs = JobClient(bob)
        job = await jobs.submit(f"{FNS}:square", [1])
        await jobs.wait(job)
        b.parts.jobs.settings = JobSettings(keep_days=1e-9)  # anything finished is old enough
        b.parts.jobs.prune()
        deadline = time.monotonic() + 5
        while a.parts.jobs.backend.job(job) is not None:  # hub A hears of it through the bus
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        with pytest.raises(HubRefused) as caught:
            await jobs.status(job)
        assert caught.value.code == "not_found"
    finally:
        await bob.close()
        await stop(running)


async def test_counts_a_dead_hub_never_made_are_repaired_from_the_results(
    nats_hub: StartHub, nats_server: NatsServer
) -> None:
    """As if a hub stored task 0's result and died before counting it, and another took task
    1 and died before recording anything: the job's queue is empty, nothing is leased, and
    the counts say 0 of 2. The recount reads the results: one done, one failed."""
    a = await nats_hub("a")
    bob = await client(a, "bob")
    try:
        job = await JobClient(bob).submit(f"{FNS}:square", [3, 4])
        other = await nats.connect(nats_server.url)  # the dead hubs' doings
        try:
            js = other.jetstream()
            pull = await js.pull_subscribe_bind(f"job_{job}", "TW_TASKS")
            taken = await pull.fetch(2, timeout=5)
            outcome = {"ok": True, "value": 9, "error": "", "attempts": 1}
            await js.publish(f"tw.result.{job}.0", msgspec.json.encode(outcome))
            for msg in taken:
                await msg.term()  # gone from the queue, never to come again
        finally:
            await other.close()
        await a.parts.jobs.backend.sweep()  # what every hub does every 10 s (recounts)
        info = await JobClient(bob).wait(job)
        assert (info.status, info.done, info.failed) == ("finished", 1, 1)
        first, second = await JobClient(bob).results(job)
        assert msgspec.json.decode(first.value) == 9 and second.error == "lease expired"
    finally:
        await bob.close()


async def test_the_jobs_quota_holds_in_the_jetstream_queue_across_hubs(
    nats_hub: StartHub,
) -> None:
    """Issue 26, item 2, under [nats]: one user's sessions on two hubs submitting at once stay
    within jobs.max_waiting_bytes_per_user (a running job's tasks count whole until it ends)."""
    settings = JobSettings(max_waiting_bytes_per_user=100_000)
    a = await nats_hub("a", jobs=settings)
    b = await nats_hub("b", jobs=settings)
    task = msgspec.json.encode("x" * 398)  # 100 tasks of 400 bytes: 40 KB a job
    submit = b"".join(
        b'{"t":"job_submit","fn":"%s:square","tasks":[%s],"id":%d}\n'
        % (FNS.encode(), b",".join([task] * 100), n)
        for n in range(3)
    )
    sessions = [await logged_in(hub, "bob") for hub in (a, a, b, b)]
    first = sessions[0]
    first.send(submit.split(b"\n")[0] + b"\n")
    assert (await first.recv())["t"] == "job"  # 40 KB held; b sees it through the bus
    deadline = time.monotonic() + 10
    while b.parts.jobs.held_by("bob")[0] < 40_000:
        assert time.monotonic() < deadline, "hub b never saw the job"
        await asyncio.sleep(0.02)
    for raw in sessions:
        raw.send(submit)  # 12 more at once, on both hubs
    replies = [await raw.recv() for raw in sessions for _ in range(3)]
    accepted = [r for r in replies if r["t"] == "job"]
    refused = [r for r in replies if r.get("code") == "quota_exceeded"]
    # each hub admits what fits in what it sees: 40 KB held, so one more per hub at most
    assert 1 <= len(accepted) <= 2 and len(refused) == 12 - len(accepted), replies
    assert "jobs.max_waiting_bytes_per_user" in refused[0]["msg"]
    for n, job in enumerate(accepted):
        first.send({"t": "job_cancel", "job": job["job"], "id": 100 + n})
        while (await first.recv()).get("re") != 100 + n:
            pass
    await asyncio.sleep(0.5)
    first.send(submit.split(b"\n")[0] + b"\n")
    assert (await first.recv())["t"] == "job"  # the cancelled jobs' share is free
