"""``tradewire sentiment``: the crowd's positions per symbol, from a running hub."""

from __future__ import annotations

import click
from rich import box
from rich.live import Live
from rich.table import Table

from tradewire.cli.common import HubLogin, console, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.clients.sentiment import SentimentClient
from tradewire.protocol.messages import SentimentRow


def table(rows: list[SentimentRow]) -> Table:
    """One line per symbol; "L/S": the long side, then the short side."""
    view = Table(title="sentiment", box=box.SIMPLE_HEAD)
    for header in ("symbol", "long %", "short %", "lots L/S", "positions L/S", "avg price L/S"):
        view.add_column(header, no_wrap=True)
    view.add_column("users", no_wrap=True)
    for r in sorted(rows, key=lambda r: r.symbol):
        view.add_row(
            r.symbol, f"{r.long_pct:.1f}", f"{r.short_pct:.1f}",
            f"{r.long_volume:g}/{r.short_volume:g}", f"{r.long_positions}/{r.short_positions}",
            f"{_price(r.long_price)}/{_price(r.short_price)}", str(r.contributors),
        )  # fmt: skip
    if not rows:
        view.caption = "no symbol has enough contributors yet"
    return view


@click.command("sentiment")
@click.option("--symbol", "symbols", multiple=True, help="Only these symbols (repeat).")
@click.option("--watch", is_flag=True, help="Keep the table updated until Ctrl-C.")
@hub_login
@reports_errors
def sentiment(
    symbols: tuple[str, ...],
    watch: bool,
    login: HubLogin,
) -> None:
    """Show the crowd's long/short volumes, positions, average prices and number of users
    per symbol (symbols with fewer users than the hub's minimum are not shown)."""

    async def action(client: HubClient) -> list[SentimentRow]:
        crowd = SentimentClient(client)
        updates = crowd.updates()
        await crowd.subscribe(list(symbols) or ["*"])
        await anext(updates)  # the snapshot
        if watch:
            with Live(table(list(crowd.rows.values())), console=console) as live:
                async for _ in updates:
                    live.update(table(list(crowd.rows.values())))
        return list(crowd.rows.values())

    try:
        rows = with_client(login, action)
    except KeyboardInterrupt:
        return
    if not watch:
        console.print(table(rows))


def _price(price: float) -> str:
    """An average price; a side nobody holds has none (not 0)."""
    return f"{price:g}" if price else "-"
