"""``tradewire terminal sim``: a simulated bridge terminal (the documented fake of docs/mt5.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
import uvloop

from tradewire.brokers.paper.broker import PaperBroker
from tradewire.brokers.paper.scheme import parse_paper_spec
from tradewire.cli.common import (
    client_password,
    connection_options,
    console,
    fail,
    new_client,
    parse_hubs,
    reports_errors,
    until_signalled,
)
from tradewire.clients.relay import RelayClient
from tradewire.clients.terminal.sim import TerminalSim


@click.group("terminal")
def terminal_group() -> None:
    """MetaTrader 5 terminals as hub members (docs/mt5.md)."""


@terminal_group.command("sim")
@click.option(
    "--name",
    default=None,
    help="The name the terminal listens under: your user name (default) or USER/label.",
)
@click.option(
    "--broker",
    "broker_spec",
    required=True,
    metavar="paper:FILE[?…]",
    help="The paper account standing in for the terminal's trading account.",
)
@click.option(
    "--answer-delay-ms",
    type=click.FloatRange(min=0, max=60_000),
    default=0.0,
    help="Wait this long after acting before answering (to rehearse slow terminals).",
)
@connection_options
@reports_errors
def terminal_sim(
    name: str | None,
    broker_spec: str,
    answer_delay_ms: float,
    hub_address: str,
    user: str,
    password_stdin: bool,
    tls_ca: Path | None,
    use_tls: bool,
) -> None:
    """Act as a terminal running TradewireBridge.mq5, on a paper account.

    A FAKE for where MetaTrader 5 cannot run: it answers the bridge protocol exactly as the EA
    does (one request at a time, request ids in order comments), so `follow --broker
    terminal:NAME?…` can be tried end to end. Example:

    \b
    TRADEWIRE_PASSWORD=... tradewire terminal sim --broker paper:term1.db \\
        --hub 127.0.0.1:7400 --user term1
    """
    if not broker_spec.startswith("paper:"):
        fail(f"--broker {broker_spec!r}: the simulated terminal trades on a paper:FILE account")
    path, settings, given = parse_paper_spec(broker_spec)
    parse_hubs(hub_address)
    password = client_password(password_stdin)
    listen_as = name or user

    async def run() -> None:
        broker = await PaperBroker.open(path, settings, create=True, given=given)
        sim = TerminalSim(broker, answer_delay_ms / 1000)
        client = new_client(hub_address, user, password, use_tls, tls_ca)
        relay = RelayClient(client)
        try:
            await client.start(wait=True)
            sim.start()
            await relay.listen(listen_as, sim.answer)
            console.print(f"terminal {listen_as} (simulated, {broker_spec}) is listening")
            await until_signalled(asyncio.create_task(_forever()))
        finally:
            await relay.close()
            await sim.close()
            await client.close()
            await broker.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


async def _forever() -> None:
    await asyncio.Event().wait()
