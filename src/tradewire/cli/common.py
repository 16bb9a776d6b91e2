"""What every command shares: --data and --config options, error reporting, the console."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from tradewire.exceptions import TradewireError

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

DEFAULT_DATA = Path("tradewire-data")

data_option = click.option(
    "--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA, show_default=True, envvar="TRADEWIRE_DATA",
    help="Directory holding the state database (users, bans, channel states, audit log).")

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
    envvar="TRADEWIRE_CONFIG",
    help="TOML configuration file (see docs/configuration.md); defaults are built in.")


def fail(message: str, code: int = 1) -> None:
    """Print a one-line reason on stderr and exit non-zero."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    sys.exit(code)


def reports_errors(func: F) -> F:
    """Turn a TradewireError into a one-line message and exit status 1."""
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TradewireError as exc:
            fail(str(exc))
    return wrapper  # type: ignore[return-value]
