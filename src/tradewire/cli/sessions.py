"""``tradewire session list|kick``: see and end the sessions of a running hub, as an admin
(over the native protocol, logged in like any other client)."""

from __future__ import annotations

from datetime import UTC, datetime

import click
import msgspec
from rich.table import Column, Table

from tradewire.cli.common import HubLogin, console, fail, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.protocol.messages import SessionInfo


@click.group("session")
def session_group() -> None:
    """List and kick the live sessions of a running hub (admin users only)."""


@session_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, every field whole.")
@hub_login
@reports_errors
def session_list(
    as_json: bool,
    login: HubLogin,
) -> None:
    """Show every logged-in session: user, role, address, since, channels. Session ids are
    shown whole (folded on a narrow terminal), so any of them can be kicked.

    Example: TRADEWIRE_PASSWORD=... tradewire session list --hub 127.0.0.1:7400 --user root
    """

    async def action(client: HubClient) -> list[SessionInfo]:
        return await client.sessions()

    sessions = with_client(login, action)
    if as_json:
        click.echo(msgspec.json.encode(sessions).decode())
        return
    whole = max((len(info.session) for info in sessions), default=7)  # ids kick: never cut
    table = Table(
        Column("session", min_width=whole, no_wrap=True),
        "user", "role", "address", "since (UTC)", "subscribed", "publishing",
        Column("agent", overflow="fold"),
    )  # fmt: skip
    for info in sessions:
        since = datetime.fromtimestamp(info.since_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            info.session,
            info.user,
            info.role,
            info.address,
            since,
            ", ".join(info.subscribed) or "-",
            ", ".join(info.publishing) or "-",
            info.agent,
        )
    console.print(table)


@session_group.command("kick")
@click.argument("target")
@hub_login
@reports_errors
def session_kick(
    target: str,
    login: HubLogin,
) -> None:
    """End TARGET: a session id from `session list`, or user:NAME for all of NAME's sessions.

    A kicked client may log in again: to keep a user out, also run `tradewire user disable`.
    """
    name = target.removeprefix("user:") if target.startswith("user:") else None

    async def action(client: HubClient) -> int:
        if name is not None:
            return await client.kick(user=name)
        return await client.kick(session=target)

    closed = with_client(login, action)
    if not closed:
        fail(f"no live session matches {target!r} (see `tradewire session list`)")
    console.print(f"closed {closed} session{'s' if closed != 1 else ''}")
