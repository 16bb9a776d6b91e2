"""``tradewire status``: the running hub's picture in the terminal, as an admin."""

from __future__ import annotations

import asyncio

import click
from rich.console import Group
from rich.live import Live
from rich.table import Table

from tradewire.cli.common import HubLogin, console, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.protocol.messages import StatusReply


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"≤{seconds * 1000:g} ms"


def render(reply: StatusReply) -> Group:
    head = f"[bold]tradewire {reply.version}[/]  up {reply.uptime_s:.0f} s"
    counters = Table("metric", "labels", "value", title="counters and gauges", title_justify="left")
    for name, samples in sorted(reply.metrics.items()):
        for sample in samples or []:
            labels = ", ".join(f"{k}={v}" for k, v in sample.labels.items()) or "-"
            counters.add_row(name.removeprefix("tradewire_"), labels, f"{sample.value:g}")
    latency = Table("histogram", "count", "p50", "p99", title="latencies", title_justify="left")
    for name, h in sorted(reply.histograms.items()):
        latency.add_row(
            name.removeprefix("tradewire_"), f"{h['count']:g}", _ms(h["p50"]), _ms(h["p99"])
        )
    return Group(head, counters, latency)


@click.command("status")
@click.option("--watch", is_flag=True, help="Refresh every second until Ctrl-C.")
@hub_login
@reports_errors
def status(
    watch: bool,
    login: HubLogin,
) -> None:
    """Connections, sessions by role, frames by type, logins and bans, states and fan-out
    latency, ticks, relay, sentiment, topics and jobs of a running hub (admin users only).

    Example: TRADEWIRE_PASSWORD=... tradewire status --hub 127.0.0.1:7400 --user root --watch
    """

    async def action(client: HubClient) -> StatusReply:
        reply = await client.status()
        if watch:
            with Live(render(reply), console=console, refresh_per_second=2) as live:
                while True:
                    await asyncio.sleep(1.0)
                    live.update(render(await client.status()))
        return reply

    try:
        reply = with_client(login, action)
    except KeyboardInterrupt:
        return
    console.print(render(reply))
