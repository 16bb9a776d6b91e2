"""``tradewire``: the command-line entry point."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import click
import msgspec
import uvloop

from tradewire import __version__
from tradewire.cli.admin import ban_group, user_group
from tradewire.cli.budget import budget
from tradewire.cli.channel import channel_group
from tradewire.cli.common import config_option, console, data_option, reports_errors
from tradewire.cli.copy import follow, provide
from tradewire.cli.demo import demo
from tradewire.cli.files import files_group
from tradewire.cli.jobs import jobs_group, worker
from tradewire.cli.journal import journal_group
from tradewire.cli.logs import setup_logging
from tradewire.cli.paper import paper_group
from tradewire.cli.relay import relay_group
from tradewire.cli.sentiment import sentiment
from tradewire.cli.sessions import session_group
from tradewire.cli.simulate import simulate
from tradewire.cli.status import status
from tradewire.cli.terminal import terminal_group
from tradewire.cli.ticks import ticks_group
from tradewire.cli.topics import topic_group
from tradewire.config import Config, load_config
from tradewire.hub.server import Hub

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tradewire")
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    show_default=True,
    help="How much to log on stderr.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text: colours on a terminal, else one line per record; json: one object per line.",
)
def cli(log_level: str, log_format: str) -> None:
    """tradewire: connect trading terminals to each other over sockets.

    Start a hub with `tradewire serve`, create users with `tradewire user add`, then point
    providers and followers (or any TCP client speaking docs/protocol.md) at it.
    """
    setup_logging(log_level, log_format)


@cli.command()
@config_option
@data_option
@click.option(
    "--host",
    default=None,
    help="Listen address (overrides hub.host; default 127.0.0.1). Another address needs "
    "[tls] cert/key, or hub.allow_plaintext = true.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Listen port (overrides hub.port; 0 picks a free one).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Hub processes sharing the port (SO_REUSEPORT), the data directory and NATS: an "
    "embedded nats-server unless [nats] names servers. Needs tradewire[scale]; see "
    "docs/scaling.md.",
)
@click.option("--worker", type=int, default=None, hidden=True)  # set by the supervisor
@click.option("--worker-count", type=int, default=1, hidden=True)  # set by the supervisor
# ... and its NATS, in the environment (a token in argv would show in `ps`)
@click.option("--nats", "nats_urls", default=None, hidden=True, envvar="TRADEWIRE_NATS")
@reports_errors
def serve(
    config_path: Path | None,
    data_dir: Path,
    host: str | None,
    port: int | None,
    workers: int,
    worker: int | None,
    worker_count: int,
    nats_urls: str | None,
) -> None:
    """Run the hub until SIGINT or SIGTERM, then shut down gracefully (exit 0).

    It listens on 127.0.0.1:7400 unless told otherwise, keeps its data in --data (created
    private, one hub per directory) and prints each listener with its scheme. On shutdown every
    client gets {"t":"bye","reason":"shutdown"} and storage is flushed.

    With --workers N, N hub processes serve the same port and share everything through NATS,
    so every core of the machine serves clients (docs/scaling.md).
    """
    config = load_config(config_path)
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    config = msgspec.structs.replace(config, hub=msgspec.structs.replace(config.hub, **overrides))
    if workers > 1 and worker is None:
        from tradewire.hub.workers import Supervisor

        parent = click.get_current_context().find_root().params
        logs = ["--log-level", parent["log_level"], "--log-format", parent["log_format"]]
        Supervisor(config, config_path, data_dir.resolve(), workers, logs).run()
        return
    if nats_urls and worker is not None:
        nats = msgspec.structs.replace(config.nats, servers=nats_urls.split(","))
        config = msgspec.structs.replace(config, nats=nats)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(_serve(config, data_dir.resolve(), worker, worker_count))


async def _serve(
    config: Config, data_dir: Path, worker: int | None = None, worker_count: int = 1
) -> None:
    # Handlers first: a signal that arrives as soon as the address is printed must still
    # lead to a graceful shutdown.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    hub = Hub(config, data_dir, worker=worker, worker_count=worker_count)
    await hub.start()
    for line in hub.listening:
        console.print(f"tradewire hub listening on {line}", highlight=False)
    console.print(f"data in {data_dir}; Ctrl-C to stop", highlight=False)
    await stop.wait()
    console.print("shutting down…")
    await hub.stop()
    console.print("stopped")


cli.add_command(demo)
cli.add_command(ticks_group)
cli.add_command(provide)
cli.add_command(paper_group)
cli.add_command(follow)
cli.add_command(user_group)
cli.add_command(ban_group)
cli.add_command(files_group)
cli.add_command(session_group)
cli.add_command(status)
cli.add_command(budget)
channel_group.add_command(simulate)
cli.add_command(channel_group)
cli.add_command(relay_group)
cli.add_command(sentiment)
cli.add_command(terminal_group)
cli.add_command(topic_group)
cli.add_command(jobs_group)
cli.add_command(journal_group)
cli.add_command(worker)


def main() -> None:
    cli(prog_name="tradewire")
