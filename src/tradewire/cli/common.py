"""What every command shares: --data and --config options, error reporting, the console."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click
import uvloop
from rich.console import Console
from rich.markup import escape

from tradewire.exceptions import TradewireError

if TYPE_CHECKING:
    from tradewire.clients import HubClient

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)

DEFAULT_DATA = Path("tradewire-data")

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DATA,
    show_default=True,
    envvar="TRADEWIRE_DATA",
    help="Directory holding the state database (users, bans, channel states, audit log).",
)

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    envvar="TRADEWIRE_CONFIG",
    help="TOML configuration file (see docs/configuration.md); defaults are built in.",
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    # escaped: "[mt5]" or "[[account.subscription]]" in a message is text, not rich markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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


def client_password(password_stdin: bool) -> str:
    """A client's password: stdin with --password-stdin, else $TRADEWIRE_PASSWORD, else a
    prompt on a terminal. Never from argv."""
    import os

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif "TRADEWIRE_PASSWORD" in os.environ:
        password = os.environ["TRADEWIRE_PASSWORD"]
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True)
    else:
        fail("no password: use --password-stdin or set TRADEWIRE_PASSWORD")
    if not password:
        fail("the password is empty")
    return password


def parse_hub(value: str) -> tuple[str, int]:
    """``HOST:PORT`` -> (host, port), or exit with a clear error."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        fail(f"--hub {value!r}: expected HOST:PORT, e.g. 127.0.0.1:7400")
    return host.strip("[]"), int(port)


def parse_hubs(value: str) -> list[tuple[str, int]]:
    """``HOST:PORT[,HOST:PORT…]`` -> the hubs to try in turn, or exit with a clear error."""
    return [parse_hub(part.strip()) for part in value.split(",")]


def new_client(
    address: str,
    user: str,
    password: str,
    use_tls: bool,
    tls_ca: Path | None,
    **options: Any,
) -> HubClient:
    """A client of the hubs ``--hub`` names (the first, then the others on failover)."""
    from tradewire.clients import HubClient

    (host, port), *fallbacks = parse_hubs(address)
    return HubClient(
        host, port, user, password, ssl=client_ssl(use_tls, tls_ca), fallbacks=fallbacks, **options
    )


def connection_options(func: F, hub_required: bool = True, user_required: bool = True) -> F:
    """--hub, --user, --password-stdin, --tls-ca and --tls: how a client reaches the hub."""
    for option in reversed(
        [
            click.option(
                "--hub",
                "hub_address",
                required=hub_required,
                metavar="HOST:PORT[,…]",
                help="The hub's native listener; several hubs sharing NATS, comma-separated, "
                "are tried in turn on failover (docs/scaling.md).",
            ),
            click.option("--user", required=user_required, default="", help="Your hub user name."),
            click.option(
                "--password-stdin",
                is_flag=True,
                help="Read the password from stdin (else $TRADEWIRE_PASSWORD or a prompt).",
            ),
            click.option(
                "--tls-ca",
                type=click.Path(dir_okay=False, exists=True, path_type=Path),
                default=None,
                help="Speak TLS, trusting this CA file (self-signed hubs).",
            ),
            click.option("--tls", "use_tls", is_flag=True, help="Speak TLS with the system's CAs."),
        ]
    ):
        func = option(func)
    return func


def client_ssl(use_tls: bool, ca: Path | None) -> ssl.SSLContext | None:
    """The client TLS context for --tls / --tls-ca (TLS 1.2 or newer), or None for plain TCP."""
    if not use_tls and ca is None:
        return None
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


@dataclass(frozen=True)
class HubLogin:
    """How a command reaches and logs in to the hub: the connection options, in one value."""

    address: str | None
    user: str
    password_stdin: bool
    tls_ca: Path | None
    use_tls: bool


def hub_login(func: F, hub_required: bool = True, user_required: bool = True) -> F:
    """The connection options, handed to the command as one ``login: HubLogin``."""

    @functools.wraps(func)
    def command(
        *args: Any,
        hub_address: str | None,
        user: str,
        password_stdin: bool,
        tls_ca: Path | None,
        use_tls: bool,
        **kwargs: Any,
    ) -> Any:
        login = HubLogin(hub_address, user, password_stdin, tls_ca, use_tls)
        return func(*args, login=login, **kwargs)

    return connection_options(cast(F, command), hub_required, user_required)


def with_client(login: HubLogin, action: Callable[[HubClient], Awaitable[T]]) -> T:
    """Log in to the hub as the connection options say, run ``action``, log out."""
    if login.address is None:
        fail("give --hub HOST:PORT")
    parse_hubs(login.address)  # a bad address fails before the password is asked for
    password = client_password(login.password_stdin)

    async def run() -> T:
        client = new_client(login.address or "", login.user, password, login.use_tls, login.tls_ca)
        async with client:
            return await action(client)

    return uvloop.run(run())


async def until_signalled(*tasks: asyncio.Task[None]) -> None:
    """Wait for SIGINT/SIGTERM or the first task to end; cancel the rest; raise what a task
    raised."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, *tasks}, return_when=asyncio.FIRST_COMPLETED)
    for task in (waiter, *tasks):
        task.cancel()
    for task in (waiter, *tasks):
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for task in done:
        if task is not waiter and not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]
