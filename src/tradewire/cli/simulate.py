"""``tradewire channel simulate CH``: what following a channel would have done to your account,
with your deposit and your rules (docs/simulate.md). The hub replays its history of the channel
through the same copier ``tradewire follow`` runs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
import msgspec
from rich.table import Table

from tradewire.cli.channel import figures
from tradewire.cli.common import (
    HubLogin,
    console,
    fail,
    hub_login,
    reports_errors,
    with_client,
)
from tradewire.cli.copy import rules_table
from tradewire.cli.ticks import parse_time
from tradewire.clients import HubClient
from tradewire.copy.rules import parse_rules
from tradewire.protocol.frames.history import SimulateRequest, Simulation
from tradewire.protocol.names import is_channel
from tradewire.simulate.html import render


@click.command("simulate")
@click.argument("channel")
@click.option(
    "--deposit",
    type=click.FloatRange(min=0, min_open=True, max=1e9),
    required=True,
    help="Your account's starting balance, USD.",
)
@click.option(
    "--rules",
    "rules_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your copy rules (a rules file: docs/copying.md); default: copy 1:1.",
)
@click.option(
    "--mode",
    type=click.Choice(["hedging", "netting"]),
    default="hedging",
    show_default=True,
    help="Your account's position accounting.",
)
@click.option("--leverage", type=click.IntRange(1, 10_000), default=100, show_default=True)
@click.option(
    "--from", "since", help="Start: Unix ms or an ISO date, UTC (default: the first kept state)."
)
@click.option("--until", help="End: Unix ms or an ISO date, UTC (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the result as a page: both curves, every deal and skip.",
)
@hub_login
@reports_errors
def simulate(
    channel: str,
    deposit: float,
    rules_file: Path | None,
    mode: str,
    leverage: int,
    since: str | None,
    until: str | None,
    as_json: bool,
    html_file: Path | None,
    login: HubLogin,
) -> None:  # fmt: skip
    """Replay CHANNEL's history onto a simulated paper account of DEPOSIT USD copying with
    your rules: its figures, its deals and every copy skipped, with why. A follower or
    provider of the channel, or an admin, may run it; the hub runs one at a time.

    Example: TRADEWIRE_PASSWORD=... tradewire channel simulate alpha --user bob
    --deposit 5000 --rules rules.toml --from 2026-01-01 --html alpha.html
    """
    if not is_channel(channel):
        fail(f"channel {channel!r} must match [A-Za-z0-9_.-]{{1,64}}")
    rules = rules_table(rules_file)
    parse_rules(
        rules, str(rules_file or "rules")
    )  # a bad rule is told here, before the hub is asked
    request = SimulateRequest(
        ch=channel,
        deposit=deposit,
        rules=rules,
        mode="netting" if mode == "netting" else "hedging",
        leverage=leverage,
        since_ms=parse_time(since, 0) if since else None,
        until_ms=parse_time(until, 0) if until else None,
    )

    async def action(client: HubClient) -> Simulation:
        with console.status(f"replaying {channel} (the hub runs one simulation at a time)"):
            return await client.channel_simulate(request)

    result = with_client(login, action)
    shown = [*_summary(result), *figures(result.stats)[1:]]
    if html_file is not None:
        try:
            html_file.write_text(render(result, shown), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {html_file}: {exc.strerror}")
    if as_json:
        click.echo(msgspec.json.encode(msgspec.structs.replace(result, re=None)).decode())
        return
    table = Table(title=f"following {result.ch} with {deposit:,.2f} USD", box=None,
                  show_header=False)  # fmt: skip
    table.add_column("figure", style="bold", no_wrap=True)
    table.add_column("value")
    for name, value in shown:
        table.add_row(name, value)
    console.print(table)
    reasons = Counter(s.reason for s in result.skips)
    if reasons:
        skipped = Table(title=f"copies skipped or refused ({result.skips_total})", box=None)
        skipped.add_column("times", justify="right")
        skipped.add_column("reason")
        for reason, times in reasons.most_common(10):
            skipped.add_row(str(times), reason)
        console.print(skipped)
    if html_file is not None:
        console.print(f"wrote {html_file}")


def _summary(r: Simulation) -> list[tuple[str, str]]:
    if r.price_time_pct:  # of the period's symbol-time
        sources = ", ".join(f"{k} {v:.0f}%" for k, v in r.price_time_pct.items() if v)
    else:  # one moment: of the quotes
        quotes = sum(r.prices.values()) or 1
        sources = ", ".join(f"{k} {100 * v / quotes:.0f}%" for k, v in r.prices.items() if v)
    provider = r.provider_curve
    provider_growth = (
        f"{100 * (provider[-1].equity / provider[0].equity - 1):+.2f}% (equity, deposits in)"
        if provider and provider[0].equity > 0
        else "-"
    )
    return [
        (
            "ends with",
            f"balance {r.balance:,.2f}, equity {r.equity:,.2f} USD ({r.moments} moments)",
        ),
        ("the provider's equity moved", provider_growth),
        ("deals", f"{r.fills_total}"),
        ("prices from (of the period)", sources or "-"),
    ]
