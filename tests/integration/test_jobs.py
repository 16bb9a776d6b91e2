"""Shared computation on a real hub with real workers: results equal a local run, failures
stay in their task, leases expire and redeliver, every result is stored once, jobs survive a
restart, access follows roles and ownership, bad input is refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.conftest import PASSWORD, add_user, logged_in, make_config
from tradewire.clients import HubClient
from tradewire.clients.jobs import JobClient
from tradewire.clients.worker import Worker
from tradewire.config import JobSettings, NatsSettings
from tradewire.exceptions import HubRefused
from tradewire.hub.server import Hub
from tradewire.jobs.registry import set_data_root
from tradewire.jobs.sweep import backtest, grid

FNS = "tests.integration.jobfns"
SWEEP = "tradewire.jobs.sweep:backtest"


@pytest.fixture
async def hub(data_dir: Path) -> AsyncIterator[Hub]:
    for name in ("w1", "w2"):
        add_user(data_dir, name, "worker")
    running = Hub(make_config(), data_dir)
    await running.start()
    yield running
    await running.stop()


@pytest.fixture(params=["jobs.db", "jetstream"])
async def any_hub(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[Hub]:
    """A hub with the jobs queue in its jobs.db, or (with [nats]) in JetStream: the same
    frames must behave the same (hub/services/jobs/shared.py)."""
    for name in ("w1", "w2"):
        add_user(data_dir, name, "worker")
    sections: dict[str, Any] = {}
    if request.param == "jetstream":
        server = request.getfixturevalue("nats_server")
        sections["nats"] = NatsSettings(servers=[server.url])
    running = Hub(make_config(**sections), data_dir)
    await running.start()
    yield running
    await running.stop()


async def client(hub: Hub, user: str) -> HubClient:
    host, port = hub.addresses[0]
    started = HubClient(host, port, user, PASSWORD)
    await started.start()
    return started


async def workers(
    hub: Hub, *names: str, trust: str = FNS
) -> list[tuple[HubClient, asyncio.Task[None]]]:
    out = []
    for name in names:
        c = await client(hub, name)
        out.append((c, asyncio.create_task(Worker(c, [trust, "tradewire.jobs"]).run())))
    return out


async def stop(running: list[tuple[HubClient, asyncio.Task[None]]]) -> None:
    for c, task in running:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await c.close()


async def test_a_sweep_on_two_workers_equals_the_local_run(any_hub: Hub) -> None:
    hub = any_hub
    payloads = grid([3, 5, 8, 13], [21, 34, 55], {"seed": 3, "bars": 3000})
    running = await workers(hub, "w1", "w2")
    bob = await client(hub, "bob")
    try:
        jobs = JobClient(bob)
        job = await jobs.submit("tradewire.jobs.sweep:backtest", payloads)
        seen: list[int] = []
        info = await jobs.wait(job, lambda i: seen.append(i.done))
        assert (info.status, info.done, info.failed, info.n) == ("finished", 12, 0, 12)
        assert seen == sorted(seen)  # progress only grows
        outcomes = await jobs.results(job)
        assert [o.task for o in outcomes] == list(range(12))
        assert [msgspec.json.decode(o.value) for o in outcomes] == [backtest(p) for p in payloads]
        assert hub.snapshot()["tradewire_jobs"][("finished",)] == 1
    finally:
        await bob.close()
        await stop(running)


async def test_failures_stay_in_their_task_and_use_up_attempts(any_hub: Hub) -> None:
    hub = any_hub
    running = await workers(hub, "w1")
    bob = await client(hub, "bob")
    try:
        jobs = JobClient(bob)
        for fn, error in [
            (f"{FNS}:boom", "RuntimeError (details in the worker's log)"),
            (f"{FNS}:refuse", "TaskError: x must be even, got 1"),
            ("tradewire.jobs.sweep:Path", "not a task function"),  # trusted module, not a task
            (f"{FNS}:huge", "result of 50002 bytes; at most 32768"),
            (f"{FNS}:giant", "does not fit in one frame"),
            ("os:getcwd", "not trusted"),
        ]:
            job = await jobs.submit(fn, [1], max_attempts=2)
            info = await jobs.wait(job)
            assert (info.done, info.failed) == (0, 1), fn
            (outcome,) = await jobs.results(job)
            assert not outcome.ok and error in outcome.error and outcome.attempts == 2, outcome
        job = await jobs.submit(f"{FNS}:square", [2, 3, 4])
        await jobs.wait(job)
        assert [msgspec.json.decode(o.value) for o in await jobs.results(job)] == [4, 9, 16]
    finally:
        await bob.close()
        await stop(running)


async def test_an_expired_lease_is_redelivered_and_a_result_is_stored_once(any_hub: Hub) -> None:
    hub = any_hub
    bob = await client(hub, "bob")
    try:
        jobs = JobClient(bob)
        job = await jobs.submit(f"{FNS}:square", [7], lease_s=1)
        slow = await logged_in(hub, "w1")  # leases, then says nothing
        slow.send({"t": "task_lease", "max": 1, "id": 1})
        (first,) = (await slow.recv())["tasks"]
        assert (first["task"], first["attempt"], first["payload"]) == (0, 1, 7)
        fresh = await logged_in(hub, "w2")
        fresh.send({"t": "task_lease", "max": 1, "wait_ms": 5000, "id": 1})
        (again,) = (await fresh.recv(timeout=5))["tasks"]  # after the lease expired
        assert (again["task"], again["attempt"]) == (0, 2)
        fresh.send({"t": "task_result", "job": job, "task": 0, "ok": True, "value": 49, "id": 2})
        assert await fresh.recv() == {"t": "ack", "re": 2, "n": 1}
        slow.send({"t": "task_result", "job": job, "task": 0, "ok": True, "value": -1, "id": 3})
        assert await slow.recv() == {"t": "ack", "re": 3, "n": 0}  # too late: not stored
        (outcome,) = await jobs.results(job)
        assert msgspec.json.decode(outcome.value) == 49
    finally:
        await bob.close()


async def test_jobs_share_workers_fairly(any_hub: Hub) -> None:
    hub = any_hub
    bob, alice = await client(hub, "bob"), await client(hub, "alice")
    try:
        first = await JobClient(bob).submit(f"{FNS}:square", list(range(10)))
        second = await JobClient(alice).submit(f"{FNS}:square", list(range(10)))
        w = await logged_in(hub, "w1")
        w.send({"t": "task_lease", "max": 6, "id": 1})
        leased = (await w.recv())["tasks"]
        assert [t["job"] for t in leased] == [first, second] * 3
    finally:
        await bob.close()
        await alice.close()


async def test_roles_ownership_cancel_and_bad_input(any_hub: Hub) -> None:
    hub = any_hub
    bob = await client(hub, "bob")
    try:
        job = await JobClient(bob).submit(f"{FNS}:square", [1, 2, 3])
        w = await logged_in(hub, "w1")
        w.send({"t": "job_submit", "fn": f"{FNS}:square", "tasks": [1], "id": 1})
        assert (await w.recv())["code"] == "forbidden"  # workers run, they do not submit
        alice = await logged_in(hub, "alice")
        alice.send({"t": "task_lease", "id": 1})
        assert (await alice.recv())["code"] == "forbidden"
        alice.send({"t": "job_status", "job": job, "id": 2})
        assert (await alice.recv())["code"] == "not_found"  # not hers
        root = await logged_in(hub, "root")
        root.send({"t": "job_status", "job": job, "id": 3})
        assert (await root.recv())["n"] == 3  # admins see every job
        for bad, code in [
            ({"fn": "not a function", "tasks": [1]}, "bad_frame"),
            ({"fn": "m:f", "tasks": [1], "max_attempts": 0}, "bad_frame"),
            ({"fn": "m:f", "tasks": ["x" * 20_000]}, "bad_frame"),
            ({"fn": "m:f"}, "bad_frame"),
        ]:
            alice.send({"t": "job_submit", **bad, "id": 4})
            assert (await alice.recv())["code"] == code, bad
            alice.send({"t": "ping"})
            assert (await alice.recv())["t"] == "pong"
        await JobClient(bob).cancel(job)
        assert (await JobClient(bob).status(job)).status == "cancelled"
        w.send({"t": "task_lease", "wait_ms": 0, "id": 5})
        assert (await w.recv())["tasks"] == []  # nothing of a cancelled job starts
        with pytest.raises(HubRefused) as caught:
            await JobClient(bob).status("0" * 16)
        assert caught.value.code == "not_found"
    finally:
        await bob.close()


async def test_a_job_finishes_after_a_hub_restart_with_every_result_once(data_dir: Path) -> None:
    add_user(data_dir, "w1", "worker")
    hub = Hub(make_config(jobs=JobSettings()), data_dir)
    await hub.start()
    bob = await client(hub, "bob")
    job = await JobClient(bob).submit(f"{FNS}:square", list(range(6)))
    raw = await logged_in(hub, "w1")
    raw.send({"t": "task_lease", "max": 3, "id": 1})
    leased = (await raw.recv())["tasks"]
    for t in leased[:2]:  # two results stored, the third task in the air at the restart
        raw.send(
            {
                "t": "task_result",
                "job": job,
                "task": t["task"],
                "ok": True,
                "value": t["payload"] ** 2,
                "id": t["task"],
            }
        )
        assert (await raw.recv())["n"] == 1
    await bob.close()
    await hub.stop()
    hub = Hub(make_config(), data_dir)
    await hub.start()
    try:
        running = await workers(hub, "w1")
        bob = await client(hub, "bob")
        info = await JobClient(bob).wait(job)
        assert (info.status, info.done, info.n) == ("finished", 6, 6)
        outcomes = await JobClient(bob).results(job)
        assert [msgspec.json.decode(o.value) for o in outcomes] == [n * n for n in range(6)]
        await bob.close()
        await stop(running)
    finally:
        await hub.stop()


async def test_finished_jobs_are_deleted_after_keep_days(hub: Hub) -> None:
    running = await workers(hub, "w1")
    bob = await client(hub, "bob")
    try:
        jobs = JobClient(bob)
        job = await jobs.submit(f"{FNS}:square", [1])
        await jobs.wait(job)
        hub.parts.jobs.settings = JobSettings(keep_days=1e-9)  # anything finished is old enough
        hub.parts.jobs.prune()
        await hub.parts.job_store.flush()
        with pytest.raises(HubRefused):
            await jobs.status(job)
        assert (
            await hub.parts.job_store.call(
                lambda db: db.execute("SELECT count(*) FROM tasks").fetchone()[0]
            )
            == 0
        )
    finally:
        await bob.close()
        await stop(running)


@pytest.mark.parametrize("queue", ["jobs.db", "jetstream"])
async def test_max_jobs_holds_when_many_submits_arrive_at_once(
    data_dir: Path, queue: str, request: pytest.FixtureRequest
) -> None:
    sections: dict[str, Any] = {"jobs": JobSettings(max_jobs=3)}
    if queue == "jetstream":
        sections["nats"] = NatsSettings(servers=[request.getfixturevalue("nats_server").url])
    hub = Hub(make_config(**sections), data_dir)
    await hub.start()
    try:
        sessions = [await logged_in(hub, "bob") for _ in range(5)]
        for raw in sessions:  # every frame on the wire before any job is stored
            for n in range(2):
                raw.send({"t": "job_submit", "fn": f"{FNS}:square", "tasks": [n], "id": n})
        answers = [await raw.recv() for raw in sessions for _ in range(2)]
        accepted = [a for a in answers if a["t"] == "job"]
        refused = [a for a in answers if a.get("code") == "rate_limited"]
        assert len(accepted) == 3 and len(refused) == 7, answers
        assert "max_jobs" in refused[0]["msg"]
        if queue == "jobs.db":
            await hub.parts.job_store.flush()
            stored = await hub.parts.job_store.call(
                lambda db: db.execute("SELECT count(*) FROM jobs").fetchone()[0]
            )
        else:
            stored = len(
                hub.parts.jobs.backend.jobs()
            )  # every job on the bus, as each hub sees them
        assert stored == 3
    finally:
        await hub.stop()


async def test_a_hostile_submitter_cannot_reach_beyond_the_task_functions_and_data_root(
    hub: Hub, tmp_path: Path
) -> None:
    """Issue 26, item 13, against a worker that trusts tradewire.jobs: any attribute of a
    trusted module ran (sweep:Path), data.file=/dev/zero took it to 2.6 GB, and any readable
    file was opened with its contents leaking into the error. Now only task functions run,
    their parameters are bounded, files are read only under --data-root, and the error a
    submitter gets carries no file contents."""
    root = tmp_path / "worker-data"
    root.mkdir()
    (root / "notes.csv").write_text("SECRET-TOKEN-42;not;a;tick;export\n" * 3)
    (tmp_path / "outside.csv").write_text("<DATE>\t<TIME>\t<BID>\t<ASK>\n")
    set_data_root(root)
    running = await workers(hub, "w1")
    bob = await client(hub, "bob")
    try:
        jobs = JobClient(bob)
        cases = [
            ("tradewire.jobs.sweep:Path", ["/etc/passwd"], "not a task function"),
            ("tradewire.jobs.sweep:json", [{}], "not a task function"),
            (f"{SWEEP}", [{"fast": 2, "slow": 5, "data": {"file": "/dev/zero"}}], "data root"),
            (f"{SWEEP}", [{"fast": 2, "slow": 5, "data": {"file": "../outside.csv"}}], "data root"),
            (f"{SWEEP}", [{"fast": 2, "slow": 5, "data": {"bars": 10**9}}], "bars must be"),
            (
                f"{SWEEP}",
                [{"fast": 2, "slow": 5, "data": {"file": "notes.csv", "symbol": "x y"}}],
                "data.symbol",
            ),
            (f"{SWEEP}", [{"fast": "2", "slow": 5}], "fast must be an integer"),
            (f"{SWEEP}", [{"fast": 2, "slow": 5, "data": {"file": "notes.csv"}}], "worker's log"),
        ]
        for fn, payloads, expected in cases:
            job = await jobs.submit(fn, payloads, max_attempts=1)
            await jobs.wait(job)
            (outcome,) = await jobs.results(job)
            assert not outcome.ok and expected in outcome.error, (fn, payloads, outcome.error)
            assert "SECRET" not in outcome.error
    finally:
        set_data_root(None)
        await bob.close()
        await stop(running)


async def test_one_users_open_tasks_stay_within_the_jobs_quota_under_concurrency(
    data_dir: Path,
) -> None:
    """Issue 26, item 2: four sessions flooding jobs grew the hub by 4.5 GB. What one user's
    open tasks take is capped (jobs.max_waiting_bytes_per_user), counting what is being stored
    meanwhile: four sessions submitting at once cannot pass it together; a cancelled job frees
    its share."""
    hub = Hub(make_config(jobs=JobSettings(max_waiting_bytes_per_user=100_000)), data_dir)
    await hub.start()
    try:
        task = msgspec.json.encode("x" * 398)  # 400-byte payloads, 100 per job: 40 KB a job
        submit = b"".join(
            b'{"t":"job_submit","fn":"%s:square","tasks":[%s],"id":%d}\n'
            % (FNS.encode(), b",".join([task] * 100), n)
            for n in range(5)
        )
        sessions = [await logged_in(hub, "bob") for _ in range(4)]
        for raw in sessions:
            raw.send(submit)  # 20 jobs in flight at once, 800 KB of tasks
        replies = [await raw.recv() for raw in sessions for _ in range(5)]
        accepted = [r for r in replies if r["t"] == "job"]
        refused = [r for r in replies if r.get("code") == "quota_exceeded"]
        assert len(accepted) == 2 and len(refused) == 18, replies
        assert "jobs.max_waiting_bytes_per_user" in refused[0]["msg"]
        assert hub.parts.jobs.held_by("bob")[0] <= 100_000
        carol = await logged_in(hub, "alice")  # another user is not held to bob's share
        carol.send(submit.split(b"\n")[0] + b"\n")
        assert (await carol.recv())["t"] == "job"
        sessions[0].send({"t": "job_cancel", "job": accepted[0]["job"], "id": 99})
        while (await sessions[0].recv()).get("re") != 99:
            pass
        sessions[0].send(submit.split(b"\n")[0] + b"\n")
        assert (await sessions[0].recv())["t"] == "job"  # the cancelled job's share is free
    finally:
        await hub.stop()
