"""``tradewire follow --accounts FILE``: the copy engine, many accounts in one process
(docs/engine.md); and what it shares with ``tradewire follow``: the status file and the reports
to the hub's dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvloop
from rich.table import Table

from tradewire.cli.common import (
    client_password,
    console,
    fail,
    new_client,
    parse_hubs,
    reports_errors,
    until_signalled,
)
from tradewire.cli.engine_accounts import calm_collector, make_followers, one_per_account, open_all
from tradewire.cli.engine_explain import ask_and_print, asked
from tradewire.cli.engine_workers import parse_worker, shard, supervise, worker_status_path
from tradewire.cli.follower_page import page_address, serve_page
from tradewire.clients import HubClient
from tradewire.clients.account_lock import AccountLock
from tradewire.clients.accounts import AccountSpec, load_accounts
from tradewire.clients.alerts import Alerts
from tradewire.clients.engine import CopyEngine
from tradewire.exceptions import ConnectionLost, HubRefused
from tradewire.protocol.messages import FollowerReport


@reports_errors
def run_engine(
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
    accounts_file: Path,
    **flags: Any,
) -> None:
    status_path = accounts_file.with_suffix(".status.json")
    workers: int = flags.pop("workers", None) or 1
    worker_of = flags.pop("worker", None)
    leases: str | None = flags.pop("leases", None)
    alert_urls = flags.pop("alert_urls", ())
    page = flags.pop("page", None)
    if flags.pop("resume", False):
        fail(
            "--resume acts on one account's risk file: tradewire follow --user U --journal "
            "journals/NAME.jsonl --resume (a netting portfolio's channel: NAME.CHANNEL.jsonl)"
        )
    explain = flags.pop("explain", None)
    if explain == "*":
        fail("--explain with --accounts needs the account: --explain ACCOUNT[:SYMBOL]")
    if explain is not None:
        ask_and_print(status_path, explain)
        return
    if show_status:
        print_engine_status(status_path)
        return
    given = [
        name
        for name, value in (
            ("--channel", channel),
            ("--broker", broker_spec),
            ("--journal", journal),
            ("--rules", rules_file),
        )
        if value is not None
    ]
    given += [
        f"--{key.replace('_', '-')}" for key, value in flags.items() if value not in (None, ())
    ]
    if given:
        fail(
            f"{given[0]} does not go with --accounts: the accounts file names each account's "
            "channel, broker, journal and rules (docs/engine.md)"
        )
    if hub_address is None:
        fail("follow --accounts needs --hub HOST:PORT")
    accounts = load_accounts(accounts_file)
    status_command = f"tradewire follow --accounts {accounts_file} --status"
    if workers > 1:
        if page is not None:
            fail("--page goes with one engine process, not --workers: serve a page per "
                 "process by running one per shard of accounts (docs/engine.md)")  # fmt: skip
        parse_hubs(hub_address)
        if leases is not None:
            from tradewire.clients.leases import parse_leases  # nats-py: only when asked for

            parse_leases(leases)
        distinct = len(one_per_account(accounts))
        if workers > distinct:
            fail(f"--workers {workers} is more than the {distinct} accounts in {accounts_file}")
        password = client_password(password_stdin)
        supervise(workers, password, status_path, distinct, status_command)
        return
    if worker_of is not None:
        index, count = parse_worker(worker_of)
        if leases is None:  # leased: every worker competes for every account's lease
            accounts = shard(accounts, index, count)
        status_path = worker_status_path(status_path, index)
    run_accounts(accounts, hub_address, user, password_stdin, use_tls, tls_ca, alert_urls,
                 status_path, status_command, page, leases)  # fmt: skip


def run_accounts(
    accounts: list[AccountSpec],
    hub_address: str,
    user: str,
    password_stdin: bool,
    use_tls: bool,
    tls_ca: Path | None,
    alert_urls: tuple[str, ...],
    status_path: Path,
    status_command: str,
    page: str | None = None,
    leases: str | None = None,
) -> None:
    """Copy ``accounts`` (checked whole) until SIGINT or SIGTERM, one hub session for all;
    their status in ``status_path``, which ``status_command`` prints. With ``leases`` (a NATS
    URL): only the accounts whose lease this engine holds (cli/engine_leased.py)."""
    parse_hubs(hub_address)
    if leases is not None:
        # nats-py costs every tradewire command 0.16 s to import: only when asked for
        from tradewire.cli.engine_leased import LeasedAccounts
        from tradewire.clients.leases import parse_leases

        parse_leases(leases)
    alerts = Alerts(alert_urls) if alert_urls else None
    page_at = page_address(page) if page else None
    password = client_password(password_stdin)

    async def run() -> None:
        leased = None
        if leases is None:
            brokers = await open_all(accounts)
            followers = await make_followers(accounts, brokers)
            calm_collector()
        else:
            brokers, followers = {}, {}
        extra = []
        if alerts is not None:
            for name, follower in followers.items():
                follower.journal.listener = alerts.listener(name)
        engine = CopyEngine(followers)
        if page_at is not None:
            extra.append(asyncio.create_task(serve_page(page_at, lambda: engine.followers)))
        if leases is not None:
            listener = alerts.listener if alerts is not None else None
            leased = LeasedAccounts(engine, accounts, listener)
            await leased.connect(leases)
        client = new_client(hub_address, user, password, use_tls, tls_ca, on_state=engine.on_state)
        engine.hub_clock_offset = lambda: client.clock_offset_us
        channels = sorted({spec.channel for spec in accounts})
        try:
            await client.start(wait=True)  # banned, or no hub yet: wait, logging why
            for name in channels:
                await client.subscribe(name)
            if leased is not None:
                extra.append(asyncio.create_task(leased.run()))
            console.print(
                f"copying {', '.join(channels)} onto {len(accounts)} accounts via "
                f"{hub_address}{' (the accounts leased to this engine)' if leased else ''}; "
                f"see `{status_command}`"
            )
            await until_signalled(
                asyncio.create_task(engine.run(keep_running=leased is not None)),
                asyncio.create_task(
                    keep_status(lambda: engine.status(asked(status_path)), status_path)
                ),
                asyncio.create_task(send_reports(engine.reports, client)),
                *extra,
            )
        finally:
            if leased is not None:
                await leased.close()
            await client.close()
            await asyncio.gather(*(broker.close() for broker in brokers.values()))
            for follower in followers.values():
                follower.journal.close()
            if alerts is not None:
                await alerts.aclose()
        if engine.failed:
            name, why = next(iter(engine.failed.items()))
            fail(f"{len(engine.failed)} account(s) stopped on an error, first {name}: {why}")

    with contextlib.ExitStack() as locks:
        for spec in one_per_account(accounts) if leases is None else []:  # leased: as taken
            what = f"the copy engine's account {spec.account_name}"
            locks.enter_context(AccountLock(spec.broker, what))
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())


async def send_reports(make: Callable[[], list[FollowerReport]], client: HubClient) -> None:
    """Copy quality to the hub every 2 s, one report per channel, for its operator's
    dashboard (best effort)."""
    while True:
        await asyncio.sleep(2.0)
        for made in make():
            with contextlib.suppress(ConnectionLost, HubRefused):
                await client.request(made)


async def keep_status(make: Callable[[], dict[str, Any]], path: Path) -> None:
    """Rewrite the status file every second (atomically: a reader never sees half of one)."""
    while True:
        await asyncio.sleep(1.0)
        text = json.dumps(make())
        tmp = path.with_suffix(".tmp")
        await asyncio.to_thread(tmp.write_text, text)
        await asyncio.to_thread(tmp.replace, path)


def print_engine_status(path: Path) -> None:
    if not path.exists():
        fail(f"no status at {path}: is `tradewire follow --accounts` running with that file?")
    status = json.loads(path.read_text())
    table = Table(
        "account", "channel", "seq", "in sync", "pending", "fills", "rejects", "errors",
        "p99 ms", "stopped",
        title=f"{len(status['accounts'])} accounts on {', '.join(status['channels'])}; "
        f"{status['states']} states received",
    )  # fmt: skip
    for row in status["accounts"]:
        p99 = row["latency_ms_p99"]
        table.add_row(
            row["account"], row["channel"], str(row["seq"]), "yes" if row["in_sync"] else "no",
            str(row["pending"]), str(row["fills"]), str(row["rejects"]), str(row["errors"]),
            "-" if p99 is None else f"{p99:g}", row["stopped"],
        )  # fmt: skip
    console.print(table)
    for row in status["accounts"]:
        for key, reason in sorted(row.get("breakers", {}).items()):
            console.print(
                f"[red]STOPPED[/red] {row['account']} {key}: {reason}\n  when fixed: tradewire "
                f"follow --journal JOURNAL-OF-{row['account']} --clear-breaker {key}"
            )
