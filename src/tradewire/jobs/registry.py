"""Which functions a worker may run: only those marked as task functions.

A worker trusts modules (``--trust tradewire.jobs``), but a module holds more than its task
functions: ``sweep:Path`` once ran, turning a payload into a path object. Now a task names a
function that carries the mark :func:`task_function` puts on it; anything else in a trusted
module is refused.

A task function validates its payload (types, bounds) and raises :class:`TaskError` with a
message for the submitter. Any other exception fails the task with its type only: its message
may quote what a file or the environment held (a parse error citing a line), so it stays in the
worker's log.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
MARK = "__tradewire_task__"


class TaskError(ValueError):
    """A payload the task function refuses; the message goes back to the submitter, so it
    must name the parameter and the rule, never quote data read from files."""


def task_function(fn: F) -> F:
    """Mark ``fn`` as a function workers may run as a task."""
    setattr(fn, MARK, True)
    return fn


def is_task_function(obj: object) -> bool:
    return callable(obj) and getattr(obj, MARK, False) is True


class TaskNotAllowed(TaskError):
    """The task names a function this worker does not run."""


MAX_DATA_FILE_BYTES = 1 << 30  # one data file a task may read
_data_root: Path | None = None


def set_data_root(root: Path | None) -> None:
    """Where tasks may read files (``tradewire worker --data-root``); None: nowhere."""
    global _data_root
    _data_root = root.resolve() if root is not None else None


def data_file(name: object) -> Path:
    """The file a payload names, if it is a regular file under the worker's data root (and not
    too large); else TaskError. Paths are resolved first, so ``..`` and links cannot leave it."""
    if not isinstance(name, str) or not name:
        raise TaskError("data.file must be a file name")
    if _data_root is None:
        raise TaskError("this worker reads no files: start it with --data-root DIR")
    path = (_data_root / name).resolve()
    if not path.is_relative_to(_data_root):
        raise TaskError("data.file must be under the worker's data root")
    if not path.is_file():
        raise TaskError("data.file is not a regular file under the worker's data root")
    if path.stat().st_size > MAX_DATA_FILE_BYTES:
        raise TaskError(f"data.file is larger than {MAX_DATA_FILE_BYTES} bytes")
    return path


def bounded_int(
    payload: dict[str, Any], key: str, low: int, high: int, default: int | None = None
) -> int:
    """``payload[key]`` as an int within [low, high], else TaskError naming the key."""
    value = payload.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise TaskError(f"{key} must be an integer from {low} to {high}")
    return value
