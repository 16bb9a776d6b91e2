"""``tradewire provide`` and ``tradewire follow``: publish an account, or copy a channel."""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import uvloop

from tradewire.broker_schemes import check_broker, open_broker
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
from tradewire.cli.engine import keep_status, run_engine, send_reports
from tradewire.cli.follow_status import print_explanations, print_status, read_status
from tradewire.cli.follower_page import page_address, serve_page
from tradewire.clients.account_lock import AccountLock
from tradewire.clients.alerts import Alerts
from tradewire.clients.breakers import breakers_path, clear_breakers
from tradewire.clients.follower import Follower
from tradewire.clients.follower_report import report
from tradewire.clients.journal import Journal, percentile
from tradewire.clients.provider import Provider
from tradewire.clients.risk_guard import resume as resume_limits
from tradewire.clients.risk_guard import risk_path
from tradewire.copy.rules import CopyRules, parse_rules
from tradewire.exceptions import ConfigError

log = logging.getLogger(__name__)


def hub_options(func: Any, required: bool = True) -> Any:
    """--channel, --broker and the connection; a ``follow`` (not required) may repeat
    --channel to follow several channels on one account."""
    channel = (
        click.option("--channel", required=True, help="The signal channel.")
        if required
        else click.option(
            "--channel",
            "channels",
            multiple=True,
            help="The signal channel; repeat it to follow several on one account (a "
            "portfolio: each channel with its own --rules file, in the same order).",
        )
    )
    for option in reversed(
        [
            channel,
            click.option(
                "--broker",
                "broker_spec",
                required=required,
                metavar="SPEC",
                help="The account: paper:FILE[?mode=netting|hedging&balance=N&suffix=.m"
                "&seed=N&latency_ms=N&slippage_points=N&requote_probability=P] (a simulated "
                "account); mt5:[?login=N&server=NAME&path=EXE] (a MetaTrader 5 terminal on "
                "Windows); terminal:NAME?hub=HOST:PORT&user=U (a terminal running the bridge "
                "EA, anywhere: docs/mt5.md).",
            ),
        ]
    ):
        func = option(func)
    return connection_options(func, hub_required=required)


@click.command()
@hub_options
@click.option(
    "--refresh-s",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Publish at least this often even without changes (a keepalive).",
)
@click.option(
    "--takeover",
    is_flag=True,
    help="Replace a live publisher of another account on the channel (audited); "
    "without it such a channel is refused as channel_busy.",
)
@reports_errors
def provide(
    hub_address: str,
    user: str,
    channel: str,
    broker_spec: str,
    password_stdin: bool,
    tls_ca: Path | None,
    use_tls: bool,
    refresh_s: float,
    takeover: bool,
) -> None:
    """Publish a broker account's positions to a channel on every change.

    A channel has one publisher at a time: the same user and account reconnecting takes over
    at once; another account is refused (channel_busy) unless --takeover is given.
    """
    parse_hubs(hub_address)
    check_broker(broker_spec)  # fail on a bad spec before asking for a password
    password = client_password(password_stdin)

    async def run() -> None:
        broker = await open_broker(broker_spec)
        client = new_client(hub_address, user, password, use_tls, tls_ca)
        try:
            await client.start(wait=True)  # banned, or no hub yet: wait, logging why
            provider = Provider(broker, client, channel, refresh_s=refresh_s, takeover=takeover)
            console.print(f"providing {broker_spec} on channel {channel} via {hub_address}")
            await until_signalled(asyncio.create_task(provider.run()))
            console.print(
                f"stopped after {provider.published} publications (last seq {provider.last_seq})"
            )
        finally:
            await client.close()
            await broker.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run())


RULE_FLAGS = {
    "sizing": click.option(
        "--sizing",
        type=click.Choice(["multiplier", "fixed", "balance", "equity", "risk"]),
        help="How volumes are sized [default: multiplier]; risk: so that a loss at the "
        "copy's stop-loss costs --risk-percent of the account.",
    ),
    "risk_percent": click.option(
        "--risk-percent", type=float, help="Percent of the account risked per copy (--sizing risk)."
    ),
    "risk_basis": click.option(
        "--risk-basis",
        type=click.Choice(["balance", "equity"]),
        help="What the risk percents are of [default: equity].",
    ),
    "max_trade_risk": click.option(
        "--max-trade-risk", type=float, help="Cap any copy's loss at its stop to this percent."
    ),
    "default_sl_points": click.option(
        "--default-sl-points",
        type=float,
        help="Measure the risk of a copy without a stop-loss as if it had one this far.",
    ),
    "max_leverage": click.option(
        "--max-leverage", type=float, help="Open no more than N × equity of notional."
    ),
    "min_trade_amount": click.option(
        "--min-trade-amount", type=float, help="Skip new copies worth less (account currency)."
    ),
    "multiplier": click.option("--multiplier", type=float, help="Volume factor."),
    "fixed_volume": click.option("--fixed-volume", type=float, help="Lots with --sizing fixed."),
    "min_volume": click.option("--min-volume", type=float, help="Skip sized volumes below."),
    "max_volume": click.option("--max-volume", type=float, help="Cap per position."),
    "max_total_volume": click.option("--max-total-volume", type=float, help="Cap per symbol."),
    "reverse": click.option("--reverse", is_flag=True, default=None, help="Buy <-> sell."),
    "symbol_map": click.option(
        "--map",
        "symbol_map",
        multiple=True,
        metavar="SRC=DST",
        help="Map a provider symbol (repeatable).",
    ),
    "prefix": click.option("--prefix", help="Add to provider symbols."),
    "suffix": click.option("--suffix", help="Add to provider symbols, e.g. .m"),
    "strip_prefix": click.option("--strip-prefix", help="Remove from provider symbols first."),
    "strip_suffix": click.option("--strip-suffix", help="Remove from provider symbols first."),
    "include": click.option("--include", multiple=True, help="Only these symbols (globs)."),
    "exclude": click.option("--exclude", multiple=True, help="Never these symbols (globs)."),
    "max_deviation_points": click.option(
        "--max-deviation-points", type=float, help="Do not add exposure this far from entry."
    ),
    "max_signal_age_s": click.option(
        "--max-signal-age-s", type=float, help="Older states may only reduce exposure."
    ),
    "stop_equity": click.option(
        "--stop-equity", type=float, help="Below this equity close everything copied."
    ),
    "close_only": click.option(
        "--close-only",
        type=click.Choice(["by-position", "by-symbol", "immediately"]),
        is_flag=False,
        flag_value="by-position",
        default=None,
        help="Open nothing new (by-position, the default when given alone); still trade the "
        "symbols held (by-symbol); or close everything copied now (immediately).",
    ),
    "copy_sl": click.option(
        "--copy-sl",
        type=click.Choice(["yes", "no", "fixed"]),
        help="Stop-loss: the provider's (yes, default), never set or changed (no), or "
        "--fixed-sl-points from the follower's fill (fixed).",
    ),
    "copy_tp": click.option(
        "--copy-tp",
        type=click.Choice(["yes", "no", "fixed"]),
        help="Take-profit, as --copy-sl.",
    ),
    "fixed_sl_points": click.option(
        "--fixed-sl-points", type=float, help="Points from the fill with --copy-sl fixed."
    ),
    "fixed_tp_points": click.option(
        "--fixed-tp-points", type=float, help="Points from the fill with --copy-tp fixed."
    ),
    "sl_tp_mode": click.option(
        "--sl-tp-mode",
        type=click.Choice(["price", "distance"]),
        help="Copy the provider's stop levels (price, default), or their distance from its "
        "entry measured from the follower's own (distance).",
    ),
    "copy_pending": click.option(
        "--copy-pending/--no-copy-pending",
        default=None,
        help="Place the provider's pending orders at the follower's broker (default), or "
        "copy their positions at market once they fill.",
    ),
}


def rules_table(rules_file: Path | None) -> dict[str, Any]:
    """A rules file's table as written (its [rules] table or top level; {} for none).
    Raises ConfigError naming the file."""
    if rules_file is None:
        return {}
    try:
        with rules_file.open("rb") as fh:
            loaded = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{rules_file}: {exc}") from None
    table = loaded.get("rules", loaded)
    if not isinstance(table, dict):
        raise ConfigError(f"{rules_file}: [rules] must be a table (docs/copying.md)")
    return table


def rules_from(rules_file: Path | None, flags: dict[str, Any]) -> CopyRules:
    """Rules from a TOML file (its [rules] table or top level), overridden by flags."""
    data = rules_table(rules_file)
    for key, value in flags.items():
        if value is None or value == ():
            continue
        if key == "symbol_map":
            pairs = {}
            for item in value:
                src, sep, dst = item.partition("=")
                if not sep:
                    raise ConfigError(f"--map {item!r}: expected SRC=DST")
                pairs[src] = dst
            value = {**data.get("symbol_map", {}), **pairs}
        data[key] = list(value) if isinstance(value, tuple) else value
    return parse_rules(data, str(rules_file) if rules_file else "copy options")


def _status_path(journal: Path) -> Path:
    return journal.with_suffix(".status.json")


@click.command()
@functools.partial(hub_options, required=False)
@click.option(
    "--rules",
    "rules_files",
    type=click.Path(dir_okay=False, path_type=Path),
    multiple=True,
    help="TOML file of copy rules (docs/copying.md); flags override it. With several "
    "--channel: one for all, or one per channel in the same order.",
)
@click.option(
    "--journal",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Decision journal (JSON lines) [default: follow-USER-CHANNEL.jsonl].",
)
@click.option(
    "--status",
    "show_status",
    is_flag=True,
    help="Print the running follower's positions vs target and last decisions (from "
    "its status file, next to the journal), then exit. Needs no --hub or "
    "--broker.",
)
@click.option(
    "--explain",
    is_flag=False,
    flag_value="*",
    default=None,
    metavar="[SYMBOL]",
    help="Print why each target of the running follower is what it is (or only SYMBOL's): "
    "the sizing formula with its numbers, the volume step, each limit and guard; then exit. "
    "Like --status, reads the status file next to the journal.",
)
@click.option(
    "--clear-breaker",
    "clear_breaker",
    metavar="SYMBOL",
    multiple=True,
    help="Let a symbol that the runaway breaker stopped trade again (repeat it, or '*' for "
    "all), once you know why it stopped (--status says). Works on a running follower "
    "within a round. Needs --channel or --journal, not --hub or --broker.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Lift every risk limit that halted or closed the follower (its risk file, next to "
    "the journal), each limit starting its high afresh; a running follower resumes within "
    "a round. Needs --channel or --journal, not --hub or --broker.",
)
@click.option(
    "--alert",
    "alert_urls",
    metavar="URL",
    multiple=True,
    help="Tell a person at once when copying halts (a risk limit), stops (stop_equity), a "
    "runaway breaker trips or a stop cannot be set: an apprise URL such as ntfy://TOPIC, "
    "tgram://TOKEN/CHAT or mailto://USER:PASS@HOST (repeatable; docs/copying.md).",
)
@click.option(
    "--page",
    metavar="HOST:PORT",
    help="Serve your own page of the accounts copied here (P/L, targets against what is "
    "held, copy quality, the journal with filters) on a loopback address, e.g. "
    "127.0.0.1:8480 (docs/follower-page.md).",
)
@click.option(
    "--accounts",
    "accounts_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Copy onto many accounts in this process: a TOML file of [[account]] entries, "
    "each with its channel, broker and rules (docs/engine.md). Replaces --channel, "
    "--broker, --journal and the rule flags.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    help="With --accounts: run the engine as this many processes on this machine, each "
    "copying its share of the accounts on a core of its own; a worker that dies is "
    "restarted (docs/engine.md). Default 1: one process.",
)
@click.option("--worker", hidden=True, help="Set by --workers: this process is worker I/N.")
@click.option(
    "--leases",
    metavar="nats://HOST:PORT[/BUCKET]",
    help="With --accounts: share the file's accounts with the other engines (on any machine) "
    "started with the same NATS JetStream server and bucket: each copies the accounts whose "
    "lease it holds, and takes over a dead engine's within about 4 s (docs/engine.md). A URL "
    "with a token belongs in $TRADEWIRE_LEASES, not here: arguments show in `ps`.",
)
def follow(**kwargs: Any) -> None:
    """Copy a channel onto a broker account, sized and mapped by your rules; several
    channels onto one account with --channel repeated (each with its own --rules); or, with
    --accounts, any number of channels onto many accounts at once (the copy engine).

    --hub, --channel and --broker are required unless --status or --accounts is given.
    """
    channels: tuple[str, ...] = kwargs.pop("channels")
    rules_files: tuple[Path, ...] = kwargs.pop("rules_files")
    workers, worker, leases = kwargs.pop("workers"), kwargs.pop("worker"), kwargs.pop("leases")
    if leases is not None and urlsplit(leases).username:
        log.warning("--leases carries a token, which every local user sees in `ps`: put the "
                    "URL in $TRADEWIRE_LEASES instead")  # fmt: skip
    if leases is None and kwargs["accounts_file"] is not None:
        leases = os.environ.get("TRADEWIRE_LEASES") or None
    if kwargs["accounts_file"] is None and (workers or worker or leases):
        what = "--leases" if leases else "--workers"
        fail(f"{what} goes with --accounts FILE (the copy engine): one account is one process")
    if kwargs["accounts_file"] is not None or len(channels) < 2:
        if len(rules_files) > 1:
            fail("give one --rules file (several go with several --channel, one each)")
        kwargs["channel"] = channels[0] if channels else None
        kwargs["rules_file"] = rules_files[0] if rules_files else None
        if kwargs["accounts_file"] is not None:
            run_engine(**kwargs, workers=workers, worker=worker, leases=leases)
            return
        kwargs.pop("accounts_file")
        _follow(**kwargs)
        return
    kwargs.pop("accounts_file")
    from tradewire.cli.portfolio import follow_portfolio  # it reads rules as this module does

    flags = {key: kwargs.pop(key) for key in RULE_FLAGS}
    with_flags = [rules_from(path, flags) for path in rules_files or [None]]
    follow_portfolio(channels, with_flags, **kwargs)


for _flag in reversed(list(RULE_FLAGS.values())):
    follow = _flag(follow)


@reports_errors
def _follow(
    hub_address: str | None,
    user: str,
    channel: str | None,
    broker_spec: str | None,
    password_stdin: bool,
    tls_ca: Path | None,
    use_tls: bool,
    rules_file: Path | None,
    journal: Path | None,
    show_status: bool,
    explain: str | None,
    clear_breaker: tuple[str, ...],
    resume: bool,
    alert_urls: tuple[str, ...],
    page: str | None,
    **flags: Any,
) -> None:
    if channel is None and journal is None:
        fail("follow needs --channel NAME (or --accounts FILE for the copy engine)")
    journal_path = journal or Path(f"follow-{user}-{channel}.jsonl")
    if show_status:
        print_status(_status_path(journal_path), journal_path)
        return
    if explain is not None:
        status = read_status(_status_path(journal_path), journal_path)
        print_explanations(status, None if explain == "*" else explain)
        return
    if resume:
        path = risk_path(journal_path)
        if not path.exists():
            fail(f"no risk limits were kept at {path}: nothing to resume (--journal?)")
        lifted = resume_limits(path)
        console.print(f"resumed: {', '.join(lifted)}" if lifted else "no risk limit was halted")
        return
    if clear_breaker:
        cleared = clear_breakers(breakers_path(journal_path), list(clear_breaker))
        console.print(
            f"cleared: {', '.join(cleared)}" if cleared else "no such breaker was tripped"
        )
        return
    if channel is None:
        fail("follow needs --channel NAME (or --accounts FILE for the copy engine)")
    if hub_address is None or broker_spec is None:
        fail("follow needs --hub HOST:PORT and --broker SPEC (only --status works without)")
    rules = rules_from(rules_file, flags)
    check_broker(broker_spec)
    parse_hubs(hub_address)
    alerts = Alerts(alert_urls) if alert_urls else None
    page_at = page_address(page) if page else None
    password = client_password(password_stdin)

    async def run() -> None:
        broker = await open_broker(broker_spec)
        follower = Follower(broker, channel, rules, journal=Journal(journal_path))
        extra = []
        if page_at is not None:
            accounts = {journal_path.stem: follower}
            extra.append(asyncio.create_task(serve_page(page_at, lambda: accounts)))
        if alerts is not None:
            follower.journal.listener = alerts.listener(f"{user}/{channel}")
        client = new_client(
            hub_address, user, password, use_tls, tls_ca, on_state=follower.on_state
        )
        follower.hub_clock_offset = lambda: client.clock_offset_us
        try:
            await client.start(wait=True)  # banned, or no hub yet: wait, logging why
            await client.subscribe(channel)
            console.print(
                f"following {channel} via {hub_address} onto {broker_spec}; journal {journal_path}"
            )
            await until_signalled(
                asyncio.create_task(follower.run()),
                asyncio.create_task(
                    keep_status(lambda: _status(follower), _status_path(journal_path))
                ),
                asyncio.create_task(send_reports(lambda: [report(follower)], client)),
                *extra,
            )
            if follower.stopped:
                fail(
                    "stop_equity reached: every copied position is closed and copying has "
                    "stopped. Check the account, then start `tradewire follow` again.",
                    3,
                )
        finally:
            await client.close()
            await broker.close()
            follower.journal.close()
            if alerts is not None:
                await alerts.aclose()

    who = f"`tradewire follow` of {user} on channel {channel}"
    with AccountLock(broker_spec, who), asyncio.Runner(loop_factory=uvloop.new_event_loop) as r:
        r.run(run())


def _status(follower: Follower) -> dict[str, Any]:
    status = follower.status()
    status["latency_ms_p50"] = percentile(follower.journal.latencies_ms, 0.5)
    status["latency_ms_p99"] = percentile(follower.journal.latencies_ms, 0.99)
    return status
