"""Task functions for the job tests (a worker trusts ``tests.integration.jobfns``)."""

from __future__ import annotations

import time
from typing import Any


def square(x: int) -> int:
    return x * x


def boom(x: Any) -> Any:
    raise RuntimeError(f"boom {x}")


def huge(x: Any) -> str:
    return "x" * 50_000  # fits in a frame, beyond the hub's result limit


def giant(x: Any) -> str:
    return "x" * 200_000  # does not even fit in a frame


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
