"""``tradewire paper``: trade and inspect a paper account from the shell. A running
``tradewire provide`` on the same file notices the change within 0.2 s."""

from __future__ import annotations

import asyncio

import click
from rich.table import Table

from tradewire.brokers.registry import check_broker, open_broker
from tradewire.cli.common import console, reports_errors
from tradewire.model import OrderRequest

broker_option = click.option(
    "--broker",
    "broker_spec",
    required=True,
    metavar="SPEC",
    help="paper:FILE[?mode=...] (see `tradewire provide --help`).",
)


@click.group("paper")
def paper_group() -> None:
    """Trade and inspect paper accounts."""


@paper_group.command("order")
@broker_option
@click.argument("symbol")
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("volume", type=float)
@click.option("--position", "position_id", help="Close or reduce this position (hedging).")
@reports_errors
def paper_order(
    broker_spec: str, symbol: str, side: str, volume: float, position_id: str | None
) -> None:
    """Send a market order: SYMBOL buy|sell VOLUME."""
    check_broker(broker_spec)

    async def run() -> None:
        broker = await open_broker(broker_spec)
        try:
            fill = await broker.market_order(OrderRequest(symbol, side, volume, position_id))  # type: ignore[arg-type]
        finally:
            await broker.close()
        console.print(
            f"filled {fill.side} {fill.volume} {fill.symbol} at {fill.price} "
            f"(position {fill.position_id})"
        )

    asyncio.run(run())


@paper_group.command("positions")
@broker_option
@reports_errors
def paper_positions(broker_spec: str) -> None:
    """Show the account and its open positions."""
    check_broker(broker_spec)

    async def run() -> None:
        broker = await open_broker(broker_spec, create=False)
        try:
            account, positions = await broker.account(), await broker.positions()
        finally:
            await broker.close()
        console.print(
            f"{account.mode} account {account.login}: balance {account.balance:.2f} "
            f"equity {account.equity:.2f} margin {account.margin:.2f}"
        )
        table = Table("id", "symbol", "side", "volume", "price", "comment")
        for p in positions:
            table.add_row(p.id, p.symbol, p.side, f"{p.volume:g}", f"{p.price}", p.comment)
        console.print(table)

    asyncio.run(run())
