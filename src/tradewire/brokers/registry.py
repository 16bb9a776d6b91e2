"""Brokers by URL scheme: ``--broker SCHEME:REST`` for every command.

An adapter is a :class:`BrokerScheme` that checks a spec without side effects and opens the
account. This module is only the mechanism and imports no adapter: which schemes exist is said
once, in ``tradewire/broker_schemes.py`` (paper:, mt5:, terminal:), which the commands import.
A new adapter adds its scheme there, one line.
"""

from __future__ import annotations

from typing import Protocol, TypeVar
from urllib.parse import parse_qsl

import msgspec

from tradewire.brokers.base import Broker
from tradewire.exceptions import ConfigError


class OpenBroker(Broker, Protocol):
    """A broker a command opened, and must close."""

    async def close(self) -> None: ...


class BrokerScheme(Protocol):
    usage: str  # e.g. "paper:FILE[?key=value&...]", shown when a spec is wrong

    def check(self, rest: str, spec: str) -> None:
        """Raise ConfigError naming what is wrong with ``spec`` (``rest`` is after the colon)."""
        ...

    async def open(self, rest: str, spec: str, create: bool) -> OpenBroker:
        """Open the account; ``create=False`` for commands that only read."""
        ...


T = TypeVar("T")


def spec_options(spec: str, query: str, kind: type[T], example: str = "") -> T:
    """The ``key=value&...`` part of a ``--broker`` spec as ``kind`` (a msgspec struct that
    forbids unknown keys); a bad key or value is a one-line ConfigError naming it."""
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
        return msgspec.convert(options, kind, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        text = str(exc).replace("$.", "")
        if example and "missing required field" in text:
            text += f" (e.g. {example})"
        raise ConfigError(f"--broker {spec!r}: {text}") from None


_SCHEMES: dict[str, BrokerScheme] = {}


def register(scheme: str, adapter: BrokerScheme) -> None:
    _SCHEMES[scheme] = adapter


def unregister(scheme: str) -> None:
    _SCHEMES.pop(scheme, None)


def _lookup(spec: str) -> tuple[BrokerScheme, str]:
    scheme, sep, rest = spec.partition(":")
    adapter = _SCHEMES.get(scheme) if sep else None
    if adapter is None:
        usages = ", ".join(sorted(a.usage for a in _SCHEMES.values())) or "none registered"
        raise ConfigError(f"--broker {spec!r}: expected one of {usages}")
    return adapter, rest


def check_broker(spec: str) -> None:
    """Validate ``--broker`` before anything is opened or asked for (a password, say)."""
    adapter, rest = _lookup(spec)
    adapter.check(rest, spec)


async def open_broker(spec: str, create: bool = True) -> OpenBroker:
    """Open the account a ``--broker`` spec names (``create=False``: it must exist)."""
    adapter, rest = _lookup(spec)
    return await adapter.open(rest, spec, create)
