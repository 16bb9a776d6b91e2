"""``tradewire follow --channel a --channel b``: one account following several channels from
the command line, each with its own rules file: the copy engine's portfolio
(docs/engine.md "One account, several channels"), without an accounts file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tradewire.broker_schemes import check_broker
from tradewire.cli.common import fail, reports_errors
from tradewire.cli.engine import print_engine_status, run_accounts
from tradewire.cli.engine_explain import ask_and_print
from tradewire.clients.accounts import AccountSpec, check_portfolio
from tradewire.copy.rules import CopyRules


@reports_errors
def follow_portfolio(
    channels: tuple[str, ...],
    rules: list[CopyRules],
    hub_address: str | None,
    user: str,
    broker_spec: str | None,
    password_stdin: bool,
    tls_ca: Path | None,
    use_tls: bool,
    journal: Path | None,
    show_status: bool,
    explain: str | None,
    clear_breaker: tuple[str, ...],
    resume: bool,
    alert_urls: tuple[str, ...],
    page: str | None = None,
    **flags: Any,
) -> None:
    """Follow ``channels`` onto one account; ``rules``: one for all, or one per channel."""
    joined = "+".join(channels)
    base = journal or Path(f"follow-{user}-{joined}.jsonl")
    status_path = base.with_suffix(".status.json")
    command = f"tradewire follow --user {user} " + " ".join(f"--channel {c}" for c in channels)
    if show_status:
        print_engine_status(status_path)
        return
    if explain is not None:
        # a netting portfolio is one follower (BASE); on hedging, one per channel (USER/CH)
        ask_and_print(status_path, base.stem if explain == "*" else explain)
        return
    if clear_breaker or resume:
        fail(
            "--clear-breaker and --resume act on one follower: give one --channel (each "
            "channel's journal is follow-USER-CHANNEL.jsonl) or its --journal"
        )
    if hub_address is None or broker_spec is None:
        fail("follow needs --hub HOST:PORT and --broker SPEC (only --status works without)")
    if len(rules) not in (1, len(channels)):
        fail(
            f"{len(rules)} --rules files for {len(channels)} channels: give one for all, or "
            "one per --channel in the same order"
        )
    check_broker(broker_spec)
    specs = [
        AccountSpec(
            f"{user}/{channel}",
            channel,
            broker_spec,
            rules[index] if len(rules) > 1 else rules[0],
            base.with_name(f"follow-{user}-{channel}.jsonl"),
            account=base.stem,  # a netting account's one journal: BASE.jsonl
        )
        for index, channel in enumerate(channels)
    ]
    check_portfolio(f"--channel {' --channel '.join(channels)}", specs)
    run_accounts(specs, hub_address, user, password_stdin, use_tls, tls_ca, alert_urls,
                 status_path, f"{command} --status", page)  # fmt: skip
