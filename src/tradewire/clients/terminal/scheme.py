"""``terminal:NAME?hub=HOST:PORT&user=USER``: a terminal running the bridge EA, reached over the
hub's relay; the options read and the hub client opened (docs/mt5.md)."""

from __future__ import annotations

import os
import ssl

from tradewire.brokers.registry import spec_options
from tradewire.clients.hub_client import HubClient
from tradewire.clients.terminal.broker import TerminalBroker, TerminalOptions
from tradewire.exceptions import ConfigError


def parse_terminal_spec(spec: str) -> tuple[str, TerminalOptions]:
    _, _, rest = spec.partition(":")
    name, _, query = rest.partition("?")
    if not name:
        raise ConfigError(f"--broker {spec!r}: name the terminal, e.g. terminal:term1?hub=…&user=…")
    parsed = spec_options(
        spec, query, TerminalOptions, "terminal:term1?hub=127.0.0.1:7400&user=bob"
    )
    host, sep, port = parsed.hub.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--broker {spec!r}: hub must be HOST:PORT, e.g. 127.0.0.1:7400")
    return name, parsed


class TerminalScheme:
    usage = "terminal:NAME?hub=HOST:PORT&user=USER"

    def check(self, rest: str, spec: str) -> None:
        parse_terminal_spec(spec)

    async def open(self, rest: str, spec: str, create: bool) -> TerminalBroker:
        name, options = parse_terminal_spec(spec)
        password = os.environ.get(options.password_env)
        if not password:
            raise ConfigError(
                f"--broker {spec!r}: set ${options.password_env} to {options.user}'s hub password"
            )
        host, _, port = options.hub.rpartition(":")
        context = None
        if options.tls or options.ca:
            context = ssl.create_default_context(cafile=options.ca)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        client = HubClient(
            host.strip("[]"),
            int(port),
            options.user,
            password,
            ssl=context,
            server_hostname=host.strip("[]"),
        )
        await client.start(wait=True)
        return TerminalBroker(client, name, options)
