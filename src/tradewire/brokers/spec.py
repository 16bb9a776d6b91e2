"""Broker specs on the command line: ``paper:PATH[?key=value&...]``.

Keys are the fields of :class:`~tradewire.brokers.paper.PaperSettings`, e.g.
``paper:acct.db?mode=netting&balance=5000&suffix=.m&latency_ms=5``. An unknown scheme or key,
or a bad value, raises ConfigError naming it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

import msgspec

from tradewire.brokers.paper import PaperBroker, PaperSettings
from tradewire.exceptions import ConfigError

SCHEMES = ("paper",)


def parse_paper_spec(spec: str) -> tuple[Path, PaperSettings]:
    path, settings, _ = parse_paper_spec_keys(spec)
    return path, settings


def parse_paper_spec_keys(spec: str) -> tuple[Path, PaperSettings, frozenset[str]]:
    """The path, the settings, and which settings the spec spelled out."""
    scheme, sep, rest = spec.partition(":")
    if not sep or scheme not in SCHEMES:
        raise ConfigError(
            f"--broker {spec!r}: expected paper:FILE[?key=value&...] "
            f"(schemes: {', '.join(SCHEMES)})"
        )
    path_text, _, query = rest.partition("?")
    if not path_text:
        raise ConfigError(f"--broker {spec!r}: the paper account needs a file, e.g. paper:acct.db")
    try:
        options = dict(parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query)))
        settings = msgspec.convert(options, PaperSettings, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"--broker {spec!r}: {exc}".replace("$.", "")) from None
    except ValueError as exc:
        raise ConfigError(f"--broker {spec!r}: {exc}") from None
    return Path(path_text), settings, frozenset(options)


async def open_broker(spec: str, create: bool = True) -> PaperBroker:
    """Open the account a ``--broker`` spec names (``create=False``: it must exist)."""
    path, settings, given = parse_paper_spec_keys(spec)
    return await PaperBroker.open(path, settings, create=create, given=given)
