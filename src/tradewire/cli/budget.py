"""``tradewire budget [USER]``: what an account holds of each per-user budget of a running hub
(files, topics, open job tasks, unfinished jobs, sentiment symbols), against each limit."""

from __future__ import annotations

import click
from rich.table import Table

from tradewire.cli.common import HubLogin, console, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.protocol.messages import BudgetReply, BudgetRow


def _amount(value: int, unit: str) -> str:
    if unit != "bytes":
        return f"{value:,}"  # topics, jobs, symbols: the budget's name says which
    size = float(value)
    for prefix in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {prefix}" if prefix == "B" else f"{size:.1f} {prefix}"
        size /= 1024
    return f"{size:.1f} GiB"


def _share(row: BudgetRow) -> str:
    if row.limit is None:
        return "exempt"
    return f"{row.used / row.limit:.0%}"


@click.command("budget")
@click.argument("account", required=False)
@hub_login
@reports_errors
def budget(account: str | None, login: HubLogin) -> None:
    """Show what ACCOUNT (default: you; another user needs an admin login) holds of each
    per-user budget, with the configuration key of its limit (SECURITY.md).

    Example: TRADEWIRE_PASSWORD=... tradewire budget alice --hub 127.0.0.1:7400 --user root
    """

    async def action(client: HubClient) -> BudgetReply:
        return await client.budget(account)

    reply = with_client(login, action)
    table = Table(title=f"budget of {reply.user}", box=None)
    for name in ("budget", "used", "limit", "share", "set by"):
        table.add_column(name, no_wrap=True)
    for row in reply.rows:
        limit = "-" if row.limit is None else _amount(row.limit, row.unit)
        table.add_row(row.budget, _amount(row.used, row.unit), limit, _share(row), row.key)
    console.print(table)
