"""The runaway breaker's file: which of a follower's symbols are stopped, and why.

It sits next to the journal (``follow-bob-alpha.breakers.json``), so a stopped symbol stays
stopped across restarts until a person clears it: ``tradewire follow --journal FILE
--clear-breaker SYMBOL`` removes it from the file, and the running follower, which looks at
the file every round, starts counting that symbol afresh.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tradewire.exceptions import ConfigError


def breakers_path(journal: Path) -> Path:
    return journal.with_suffix(".breakers.json")


def load_breakers(path: Path) -> dict[str, str]:
    """Tripped keys and their reasons ({} without a file). Raises ConfigError on a broken one."""
    return load_map(path, "delete it to clear every breaker")


def save_breakers(path: Path, tripped: dict[str, str]) -> None:
    save_map(path, tripped)


def load_map(path: Path, hint: str) -> dict[str, str]:
    """A follower's small JSON file of string: string ({} without one); ``hint``: what to do
    about a broken one. Raises ConfigError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc} ({hint})") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(f"{path}: expected an object of string: string ({hint})")
    return data


def save_map(path: Path, data: dict[str, str]) -> None:
    """Write atomically: a reader never sees half a file."""
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(partial, path)


def clear_breakers(path: Path, keys: list[str]) -> list[str]:
    """Clear ``keys`` (all of them for ``["*"]``); returns those that were tripped."""
    tripped = load_breakers(path)
    cleared = sorted(tripped) if keys == ["*"] else [k for k in keys if k in tripped]
    for key in cleared:
        del tripped[key]
    if cleared:  # nothing tripped (or no such file): nothing to write
        save_breakers(path, tripped)
    return cleared


def mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0
