"""The job scheduler, pure: fair turns between jobs, attempts, leases that expire or whose
worker leaves, cancellation, an outcome recorded once."""

from __future__ import annotations

from tradewire.hub.services.jobs.queue import Job, JobQueue


def queue_with(*jobs: tuple[str, int, int]) -> JobQueue:
    queue = JobQueue()
    for name, n, attempts in jobs:
        job = Job(name, "bob", "m:f", attempts, lease_s=10)
        job.n = n
        queue.add(job, {i: b"null" for i in range(n)})
    return queue


def test_leases_take_turns_between_jobs_and_count_attempts() -> None:
    queue = queue_with(("a", 3, 3), ("b", 1, 3))
    taken = queue.take("w", now=0, most=10)
    assert [(lease.job.id, lease.task, lease.attempt) for lease in taken] == [
        ("a", 0, 1), ("b", 0, 1), ("a", 1, 1), ("a", 2, 1),
    ]  # fmt: skip
    assert queue.take("w", now=0, most=1) == [] and queue.waiting == 0


def test_a_failed_attempt_goes_first_again_until_attempts_are_used_up() -> None:
    queue = queue_with(("a", 2, 2))
    (first,) = queue.take("w", 0, 1)
    assert queue.retry_or_fail("a", first.task, "boom") is None
    (again,) = queue.take("w", 0, 1)
    assert (again.task, again.attempt) == (0, 2)
    failed = queue.retry_or_fail("a", again.task, "boom")
    assert failed is not None and failed.error == "boom"
    assert queue.finish("a", 0, ok=False) and queue.jobs["a"].failed == 1


def test_expired_leases_and_departed_workers_give_their_tasks_back() -> None:
    queue = queue_with(("a", 2, 1))
    queue.take("w1", now=0, most=1)
    queue.take("w2", now=5, most=1)
    assert queue.extend("w2", "a", 1, now=9) and not queue.extend("w1", "a", 1, now=9)
    failed = queue.expired(now=12)  # w1's lease (deadline 10) ran out, its only attempt
    assert [(f.task, f.error) for f in failed] == [(0, "lease expired")]
    queue.release("w2")  # w2 left: its task waits again
    assert queue.waiting == 1 and not queue.leases


def test_an_outcome_is_recorded_once_and_cancel_stops_the_rest() -> None:
    queue = queue_with(("a", 3, 3))
    queue.take("w", 0, 1)
    assert queue.finish("a", 0, ok=True) and not queue.finish("a", 0, ok=True)
    queue.cancel("a")
    assert queue.take("w", 0, 5) == [] and not queue.is_open("a", 1)
    assert queue.jobs["a"].status == "cancelled" and queue.jobs["a"].done == 1
