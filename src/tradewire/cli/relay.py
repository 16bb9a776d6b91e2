"""``tradewire relay send|listen``: messages and requests between clients through the hub."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import msgspec

from tradewire.cli.common import HubLogin, fail, hub_login, reports_errors, with_client
from tradewire.clients import HubClient
from tradewire.clients.relay import Incoming, RelayClient


def _json(text: str, what: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        fail(f'{what} is not valid JSON ({exc}); quote it, e.g. \'{{"op": "ping"}}\'')


@click.group("relay")
def relay_group() -> None:
    """Send messages and requests to another client through the hub, or receive them.

    The addressee listens under its user name (or NAME/label); the sender needs the grant
    relay:NAME (tradewire user grant SENDER relay:NAME). See docs/relay.md.
    """


@relay_group.command("send")
@click.argument("to")
@click.argument("body", default="-")
@click.option("--request", is_flag=True, help="Wait for the listener's reply and print it.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.001, max=600),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the reply (with --request).",
)
@hub_login
@reports_errors
def relay_send(
    to: str,
    body: str,
    request: bool,
    timeout_s: float,
    login: HubLogin,
) -> None:
    """Send BODY (JSON; - reads it from stdin) to the client listening as TO.

    Example: tradewire relay send term1 '{"op":"account"}' --request --hub 127.0.0.1:7400 --user bob
    """
    if body == "-" and login.password_stdin:
        fail("BODY and the password cannot both come from stdin: pass BODY as an argument")
    value = _json(sys.stdin.read() if body == "-" else body, "BODY")

    async def action(client: HubClient) -> Any:
        relay = RelayClient(client)
        if request:
            return await relay.request(to, value, timeout_s)
        await relay.send(to, value)
        return None

    reply = with_client(login, action)
    if request:
        click.echo(msgspec.json.encode(reply).decode())
    else:
        click.echo(f"delivered to {to}", err=True)


@relay_group.command("listen")
@click.argument("name", required=False)
@click.option(
    "--reply",
    "reply_json",
    default='{"ok":true}',
    show_default=True,
    help="The JSON answer to every request.",
)
@click.option("--echo", is_flag=True, help="Answer each request with its own body instead.")
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many messages (default: run until Ctrl-C).",
)
@hub_login
@reports_errors
def relay_listen(
    name: str | None,
    reply_json: str,
    echo: bool,
    count: int | None,
    login: HubLogin,
) -> None:
    """Print each message sent to NAME (default: your user name) as one JSON line:
    {"from":…,"to":…,"body":…,"request":true|false}.
    """
    reply = _json(reply_json, "--reply")

    async def action(client: HubClient) -> None:
        relay = RelayClient(client)
        done = asyncio.Event()
        seen = 0

        async def answer(message: Incoming) -> Any:
            nonlocal seen
            line = {
                "from": message.sender,
                "to": message.to,
                "body": message.body,
                "request": message.wants_reply,
            }
            click.echo(msgspec.json.encode(line).decode())
            seen += 1
            if count is not None and seen >= count:
                done.set()
            return message.body if echo else reply

        await relay.listen(name or login.user, answer)
        click.echo(f"listening as {name or login.user}", err=True)
        await done.wait()
        await relay.drain()  # the last answer goes out before we log out

    with_client(login, action)
