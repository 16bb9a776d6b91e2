"""``tradewire channel stats CH``: a channel's statistics from the hub's history of it (what a
trader reads before following; docs/statistics.md)."""

from __future__ import annotations

import click
import msgspec
from rich.table import Table

from tradewire.cli.common import (
    HubLogin,
    console,
    fail,
    hub_login,
    reports_errors,
    with_client,
)
from tradewire.cli.ticks import parse_time
from tradewire.clients import HubClient
from tradewire.clock import format_ms
from tradewire.protocol.messages import ChannelStats
from tradewire.protocol.names import is_channel


@click.group("channel")
def channel_group() -> None:
    """What a channel has done: its statistics over its history (docs/statistics.md)."""


def _money(value: float | None, currency: str) -> str:
    return "-" if value is None else f"{value:,.2f} {currency}"


def _ratio(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.2f}{suffix}"


def figures(s: ChannelStats) -> list[tuple[str, str]]:
    """The figures as people read them, in the order of docs/statistics.md."""
    c = s.currency
    balance_dd = f"{_money(s.balance_drawdown, c)} ({s.balance_drawdown_pct:.2f}%)"
    equity_dd = f"{_money(s.equity_drawdown, c)} ({s.equity_drawdown_pct:.2f}%)"
    holding = "-" if s.average_holding_s is None else _duration(s.average_holding_s)
    return [
        ("period", f"{format_ms(s.start_ms)} to {format_ms(s.end_ms)} ({s.points} moments)"),
        ("growth", f"{s.growth_pct:+.2f}% (deposits and withdrawals left out)"),
        ("profit", _money(s.profit, c)),
        ("deposits - withdrawals", _money(s.deposits, c)),
        ("max drawdown, balance", balance_dd),
        ("max drawdown, equity", equity_dd),
        ("profit factor", _ratio(s.profit_factor)),
        ("expected payoff", _money(s.expected_payoff, c)),
        ("recovery factor", _ratio(s.recovery_factor)),
        ("Sharpe ratio (per closing)", _ratio(s.sharpe)),
        ("trades", f"{s.trades} ({s.trades_per_week:.1f} a week; from {s.trades_from})"),
        ("commission / swap", f"{_money(s.commission, c)} / {_money(s.swap, c)}"),
        ("won", _ratio(s.win_pct, "%")),
        ("average win / loss", f"{_money(s.average_win, c)} / {_money(s.average_loss, c)}"),
        ("best / worst trade", f"{_money(s.best_trade, c)} / {_money(s.worst_trade, c)}"),
        ("longest losing series", f"{s.longest_losing_series} trades"),
        ("average holding", holding),
        ("deposit load (max margin/equity)", _ratio(s.deposit_load_pct, "%")),
    ]


def _duration(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} days"


@channel_group.command("stats")
@click.argument("channel")
@click.option("--since", help="Start: Unix ms or an ISO date, UTC (default: its first state).")
@click.option("--until", help="End: Unix ms or an ISO date, UTC (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@hub_login
@reports_errors
def stats(
    channel: str, since: str | None, until: str | None, as_json: bool, login: HubLogin
) -> None:
    """Show CHANNEL's statistics: growth, drawdowns, profit factor, trades, win rate, monthly
    returns. A follower or provider of the channel, or an admin, may read them.

    Example: TRADEWIRE_PASSWORD=... tradewire channel stats alpha --user bob --since 2026-01-01
    """
    if not is_channel(channel):
        fail(f"channel {channel!r} must match [A-Za-z0-9_.-]{{1,64}}")
    since_ms = parse_time(since, 0) if since else None
    until_ms = parse_time(until, 0) if until else None

    async def action(client: HubClient) -> ChannelStats:
        return await client.channel_stats(channel, since_ms, until_ms)

    reply = with_client(login, action)
    if as_json:
        click.echo(msgspec.json.encode(msgspec.structs.replace(reply, re=None)).decode())
        return
    table = Table(title=f"channel {reply.ch}", box=None, show_header=False)
    table.add_column("figure", style="bold", no_wrap=True)
    table.add_column("value")
    for name, value in figures(reply):
        table.add_row(name, value)
    console.print(table)
    if reply.monthly:
        months = Table(title="monthly returns", box=None)
        months.add_column("month")
        months.add_column("growth", justify="right")
        for m in reply.monthly:
            months.add_row(m.month, f"{m.pct:+.2f}%")
        console.print(months)
