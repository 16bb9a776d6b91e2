"""``tradewire paper``: trade and inspect a paper account from the shell. A running
``tradewire provide`` on the same file notices the change within 0.2 s."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import msgspec
from rich.table import Table

from tradewire.broker_schemes import OpenBroker, check_broker, open_broker
from tradewire.brokers.paper.broker import PaperBroker
from tradewire.cli.common import console, reports_errors
from tradewire.model import Account, OrderRequest, PendingOrder, Position, Quote

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

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


def on_account(spec: str, action: Callable[[OpenBroker], Awaitable[T]], create: bool = False) -> T:
    """Open the account ``spec`` names, run ``action`` on it, close it (whatever happens);
    ``create``: a new paper account may be made, as a first order does."""
    check_broker(spec)

    async def run() -> T:
        broker = await open_broker(spec, create=create)
        try:
            return await action(broker)
        finally:
            await broker.close()

    return asyncio.run(run())


def _level(name: str) -> Callable[[F], F]:
    return click.option(
        f"--{name}",
        type=float,
        default=0.0,
        show_default=True,
        help=f"{'Stop-loss' if name == 'sl' else 'Take-profit'} price (0: none).",
    )


@paper_group.command("order")
@broker_option
@click.argument("symbol")
@click.argument("side", type=click.Choice(["buy", "sell"]))
@click.argument("volume", type=float)
@click.option("--position", "position_id", help="Close or reduce this position (hedging).")
@_level("sl")
@_level("tp")
@click.option(
    "--type",
    "kind",
    type=click.Choice(["market", "limit", "stop", "stop_limit"]),
    default="market",
    show_default=True,
    help="A pending order instead of a market one: waits at --price (a buy limit below the "
    "market, a buy stop above it; stop_limit places a limit at --stop-limit once --price "
    "is reached).",
)
@click.option("--price", type=float, help="The pending order's price.")
@click.option("--stop-limit", type=float, default=0.0, help="The stop-limit's limit price.")
@click.option("--expires-in", type=float, default=0.0, help="Seconds until it expires (0: never).")
@reports_errors
def paper_order(
    broker_spec: str,
    symbol: str,
    side: str,
    volume: float,
    position_id: str | None,
    sl: float,
    tp: float,
    kind: str,
    price: float | None,
    stop_limit: float,
    expires_in: float,
) -> None:
    """Send a market order: SYMBOL buy|sell VOLUME, with its stops if given; or, with
    --type and --price, place a pending order."""
    if kind != "market":
        if price is None:
            raise click.UsageError(f"--type {kind} needs --price")
        pending = PendingOrder(
            "", symbol, f"{side}_{kind}", volume, price, stop_limit=stop_limit,  # type: ignore[arg-type]
            sl=sl, tp=tp, expiration=_expiration(expires_in),
        )  # fmt: skip
        ticket = on_account(broker_spec, lambda b: b.place_order(pending), create=True)
        console.print(f"placed {pending.type} {volume} {symbol} at {price} (order {ticket})")
        return
    request = OrderRequest(symbol, side, volume, position_id, sl=sl, tp=tp)  # type: ignore[arg-type]
    fill = on_account(broker_spec, lambda b: b.market_order(request), create=True)
    console.print(
        f"filled {fill.side} {fill.volume} {fill.symbol} at {fill.price} "
        f"(position {fill.position_id})"
    )


def _expiration(expires_in: float) -> int:
    """Unix ms ``expires_in`` seconds from now, or 0 (good till cancelled)."""
    return int(time.time() * 1000 + expires_in * 1000) if expires_in > 0 else 0


@paper_group.command("cancel")
@broker_option
@click.argument("order_id", metavar="ORDER")
@reports_errors
def paper_cancel(broker_spec: str, order_id: str) -> None:
    """Cancel the pending order ORDER."""
    on_account(broker_spec, lambda b: b.cancel_order(order_id))
    console.print(f"order {order_id} cancelled")


@paper_group.command("orders")
@broker_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (no stop is 0.0).")
@reports_errors
def paper_orders(broker_spec: str, as_json: bool) -> None:
    """Show the account's pending orders."""
    orders = on_account(broker_spec, lambda b: b.orders())
    if as_json:
        click.echo(json.dumps({"orders": [msgspec.structs.asdict(o) for o in orders]}))
        return
    # stop-limit prices and expirations only when an order has one: the table fits 80 columns
    limits, expiring = any(o.stop_limit for o in orders), any(o.expiration for o in orders)
    columns = ["id", "symbol", "type", "volume", "price", "sl", "tp", "magic", "comment"]
    table = Table(*columns, *(["stop_limit"] if limits else []),
                  *(["expires (ms)"] if expiring else []), box=None)  # fmt: skip
    for o in orders:
        table.add_row(
            o.id, o.symbol, o.type, f"{o.volume:g}", f"{o.price}", f"{o.sl:g}", f"{o.tp:g}",
            str(o.magic), o.comment, *([f"{o.stop_limit:g}"] if limits else []),
            *([str(o.expiration)] if expiring else []),
        )  # fmt: skip
    console.print(table)


@paper_group.command("modify")
@broker_option
@click.argument("ticket", metavar="POSITION|ORDER")
@_level("sl")
@_level("tp")
@click.option("--price", type=float, help="A pending order's new price (ORDER is one).")
@click.option("--stop-limit", type=float, default=0.0, help="A stop-limit's new limit price.")
@click.option("--expires-in", type=float, default=0.0, help="Seconds until it expires (0: never).")
@reports_errors
def paper_modify(
    broker_spec: str,
    ticket: str,
    sl: float,
    tp: float,
    price: float | None,
    stop_limit: float,
    expires_in: float,
) -> None:
    """Set a position's stop-loss and take-profit (both are replaced; 0 removes one), or with
    --price move the pending order ORDER (its price, stops and expiry)."""

    async def modify(broker: OpenBroker) -> None:
        if price is None:
            await broker.modify_position(ticket, sl, tp)
        else:
            await broker.modify_order(ticket, price, sl, tp, _expiration(expires_in), stop_limit)

    on_account(broker_spec, modify)
    what = f"order {ticket}: price {price:g} " if price is not None else f"position {ticket}: "
    console.print(f"{what}sl {sl:g} tp {tp:g}")


@paper_group.command("quote")
@broker_option
@click.argument("symbol")
@click.option("--bid", type=float, help="Pin the bid at this price.")
@click.option("--ask", type=float, help="Pin the ask at this price (default: the bid).")
@click.option("--unpin", is_flag=True, help="Let SYMBOL follow the account's feed again.")
@reports_errors
def paper_quote(
    broker_spec: str, symbol: str, bid: float | None, ask: float | None, unpin: bool
) -> None:
    """Show SYMBOL's price, or pin it for every process using this paper account until the
    next pin or --unpin. A pin triggers at once the stops it reaches (closing those positions
    at the pinned price), so tests and demos can walk a price through a stop-loss."""
    if not broker_spec.startswith("paper:"):
        raise click.UsageError("paper quote pins prices of paper: accounts only")
    if unpin and bid is not None:
        raise click.UsageError("--unpin and --bid do not go together")

    async def quote(broker: OpenBroker) -> Quote:
        assert isinstance(broker, PaperBroker)
        if unpin or bid is not None:
            await broker.pin(symbol, None if unpin else bid, ask if ask is not None else bid)
        return await broker.quote(symbol)

    now = on_account(broker_spec, quote, create=True)  # as `paper order`, creating the account
    console.print(f"{symbol} bid {now.bid} ask {now.ask}")


@paper_group.command("positions")
@broker_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (no stop is 0.0).")
@reports_errors
def paper_positions(broker_spec: str, as_json: bool) -> None:
    """Show the account and its open positions."""

    async def read(broker: OpenBroker) -> tuple[Account, list[Position]]:
        return await broker.account(), await broker.positions()

    account, positions = on_account(broker_spec, read)
    if as_json:
        rows = [msgspec.structs.asdict(p) for p in positions]  # every field, 0.0 included
        click.echo(json.dumps({"account": msgspec.to_builtins(account), "positions": rows}))
        return
    console.print(
        f"{account.mode} account {account.login}: balance {account.balance:.2f} "
        f"equity {account.equity:.2f} margin {account.margin:.2f}"
    )
    table = Table("id", "symbol", "side", "volume", "price", "sl", "tp", "magic", "comment")
    for p in positions:
        table.add_row(
            p.id, p.symbol, p.side, f"{p.volume:g}", f"{p.price}", f"{p.sl:g}", f"{p.tp:g}",
            str(p.magic), p.comment,
        )  # fmt: skip
    console.print(table)
