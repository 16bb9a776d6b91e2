"""What some tests need from the machine (g++, chromium, PostgreSQL): without it a test is
skipped with the reason printed, except in CI (``CI`` set, as `.ci/run` does), where a missing
tool fails the run: the make targets install them, so CI never passes by skipping them."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip (on a developer's machine) or fail (in CI) for want of ``reason``."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: a missing tool fails the run)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)
