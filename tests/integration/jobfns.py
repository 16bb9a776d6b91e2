"""Task functions for the job tests (a worker trusts ``tests.integration.jobfns``)."""

from __future__ import annotations

import time
from typing import Any

from tradewire.jobs.registry import TaskError, task_function


@task_function
def square(x: int) -> int:
    return x * x


@task_function
def boom(x: Any) -> Any:
    raise RuntimeError(f"boom {x}")  # its message stays in the worker's log


@task_function
def refuse(x: Any) -> Any:
    raise TaskError(f"x must be even, got {x}")  # a message for the submitter


@task_function
def huge(x: Any) -> str:
    return "x" * 50_000  # fits in a frame, beyond the hub's result limit


@task_function
def giant(x: Any) -> str:
    return "x" * 200_000  # does not even fit in a frame


@task_function
def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
