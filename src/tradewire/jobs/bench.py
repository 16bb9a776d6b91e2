"""A trivial task function for measuring the job service itself (benchmarks/services.py)."""

from __future__ import annotations

from typing import Any

from tradewire.jobs.registry import task_function


@task_function
def echo(payload: Any) -> Any:
    return payload
