"""The copy engine's accounts, opened: each account's broker once (a few at a time), a follower
per account (or per channel of a hedging portfolio; one for a netting portfolio), and the
collector calmed once they are open. Shared by the engine that opens every account at start
(cli/engine.py) and the one that opens them as it takes their leases (cli/engine_leased.py)."""

from __future__ import annotations

import asyncio
import gc

from rich.progress import Progress

from tradewire.broker_schemes import OpenBroker, open_broker
from tradewire.cli.common import console
from tradewire.clients.accounts import AccountSpec
from tradewire.clients.follower import Follower
from tradewire.clients.journal import Journal
from tradewire.clients.portfolio import PortfolioFollower
from tradewire.exceptions import BrokerError

OPENING_AT_ONCE = 32  # accounts opened concurrently at start


def calm_collector() -> None:
    """Once every account is open: what they keep for the engine's life goes out of the cyclic
    collector's sight (``gc.freeze``), and it runs less often. A thousand accounts' objects,
    walked at every full collection, cost the engine measurably (docs/engine.md)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def one_per_account(accounts: list[AccountSpec]) -> list[AccountSpec]:
    """The first follower of each account (a portfolio's subscriptions share one)."""
    return list({spec.account_name: spec for spec in reversed(accounts)}.values())[::-1]


async def open_all(accounts: list[AccountSpec]) -> dict[str, OpenBroker]:
    """Open every account's broker once (a few at a time), by account name; on a failure
    close those opened and raise naming the account."""
    opened: dict[str, OpenBroker] = {}
    limit = asyncio.Semaphore(OPENING_AT_ONCE)
    distinct = one_per_account(accounts)
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task("opening accounts", total=len(distinct))

        async def open_one(spec: AccountSpec) -> None:
            async with limit:
                try:
                    opened[spec.account_name] = await open_broker(spec.broker)
                except BrokerError as exc:
                    raise BrokerError(f"account {spec.account_name!r}: {exc}") from None
                progress.advance(bar)

        try:
            async with asyncio.TaskGroup() as group:
                for spec in distinct:
                    group.create_task(open_one(spec))
        except* BrokerError as failures:
            await asyncio.gather(*(broker.close() for broker in opened.values()))
            raise failures.exceptions[0] from None
    return opened


async def make_followers(
    accounts: list[AccountSpec], brokers: dict[str, OpenBroker]
) -> dict[str, Follower]:
    """A follower per account, and per channel of a portfolio on a hedging account (each its
    own magic and positions); a portfolio on a netting account is one follower of all its
    channels, which books each channel's share of the one position per symbol
    (clients/portfolio.py)."""
    followers: dict[str, Follower] = {}
    netting: dict[str, list[AccountSpec]] = {}
    for spec in accounts:
        if spec.account and (await brokers[spec.account_name].account()).mode == "netting":
            netting.setdefault(spec.account_name, []).append(spec)
            continue
        followers[spec.name] = Follower(
            brokers[spec.account_name],
            spec.channel,
            spec.rules,
            journal=Journal(spec.journal),
            name=spec.name,
        )
    for name, specs in netting.items():
        followers[name] = PortfolioFollower(
            brokers[name],
            {spec.channel: spec.rules for spec in specs},
            magic=specs[0].portfolio_magic,
            journal=Journal(specs[0].journal.with_name(f"{name}.jsonl")),
            name=name,
        )
    return followers
