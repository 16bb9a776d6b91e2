"""``tradewire topic pub|sub``: publish on and follow named topics of a running hub."""

from __future__ import annotations

import sys
from typing import Any

import click
import msgspec

from tradewire.cli.common import HubLogin, fail, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.clients.topics import TopicClient


@click.group("topic")
def topic_group() -> None:
    """Named topics carrying JSON values: indicator values, levels, signals (docs/topics.md).

    Publishing needs the provider role and a grant topic:NAME or topic:PREFIX*; subscribing,
    such a grant (tradewire user grant USER 'topic:ind.*').
    """


@topic_group.command("pub")
@click.argument("topic")
@click.argument("value", default="-")
@hub_login
@reports_errors
def topic_pub(
    topic: str,
    value: str,
    login: HubLogin,
) -> None:
    """Publish VALUE (JSON; - reads it from stdin) on TOPIC; prints the topic's seq.

    Example: tradewire topic pub levels.EURUSD '{"support":1.081}' --hub 127.0.0.1:7400 --user alice
    """
    if value == "-" and login.password_stdin:
        fail("VALUE and the password cannot both come from stdin: pass VALUE as an argument")
    text = sys.stdin.read() if value == "-" else value
    try:
        decoded: Any = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        fail(f"VALUE is not valid JSON ({exc}); quote it, e.g. '{{\"v\": 1}}' or '1.5'")

    async def action(client: HubClient) -> int:
        return await TopicClient(client).publish(topic, decoded)

    seq = with_client(login, action)
    click.echo(f"{topic} seq {seq}")


@topic_group.command("del")
@click.argument("topic")
@hub_login
@reports_errors
def topic_del(topic: str, login: HubLogin) -> None:
    """Delete TOPIC and its kept value: one you created (each user may hold
    topics.max_topics_per_user of them), or any as an admin. Subscribers stay subscribed.

    Example: tradewire topic del levels.EURUSD --hub 127.0.0.1:7400 --user alice
    """

    async def action(client: HubClient) -> None:
        await TopicClient(client).delete(topic)

    with_client(login, action)
    click.echo(f"{topic} deleted")


@topic_group.command("sub")
@click.argument("patterns", nargs=-1, required=True, metavar="TOPIC_OR_PREFIX*...")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many values (default: until Ctrl-C).",
)
@hub_login
@reports_errors
def topic_sub(
    patterns: tuple[str, ...],
    count: int | None,
    login: HubLogin,
) -> None:
    """Print each value of the topics named (names, or prefixes ending in *) as one JSON
    line {"topic":…,"seq":…,"ts":…,"value":…}; the retained values come first."""

    async def action(client: HubClient) -> None:
        topics = TopicClient(client)
        updates = topics.updates()
        await topics.subscribe(list(patterns))
        seen = 0
        async for update in updates:
            click.echo(msgspec.json.encode(update).decode())
            seen += 1
            if count is not None and seen >= count:
                return

    try:
        with_client(login, action)
    except KeyboardInterrupt:
        return
