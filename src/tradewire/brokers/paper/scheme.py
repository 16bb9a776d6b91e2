"""The ``paper:`` scheme of ``--broker``: ``paper:PATH[?key=value&...]``.

Keys are the fields of :class:`~tradewire.brokers.paper.PaperSettings`, e.g.
``paper:acct.db?mode=netting&balance=5000&suffix=.m&latency_ms=5``. An unknown key or a bad
value raises ConfigError naming it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl

from tradewire.brokers.paper.broker import PaperBroker, PaperSettings
from tradewire.brokers.registry import spec_options
from tradewire.exceptions import ConfigError


def parse_paper_spec(spec: str) -> tuple[Path, PaperSettings, frozenset[str]]:
    """The path, the settings, and which settings the spec spelled out."""
    _, _, rest = spec.partition(":")
    path_text, _, query = rest.partition("?")
    if not path_text:
        raise ConfigError(f"--broker {spec!r}: the paper account needs a file, e.g. paper:acct.db")
    settings = spec_options(spec, query, PaperSettings)
    return (
        Path(path_text),
        settings,
        frozenset(k for k, _ in parse_qsl(query, keep_blank_values=True)),
    )


class PaperScheme:
    usage = "paper:FILE[?key=value&...]"

    def check(self, rest: str, spec: str) -> None:
        parse_paper_spec(spec)

    async def open(self, rest: str, spec: str, create: bool) -> PaperBroker:
        path, settings, given = parse_paper_spec(spec)
        return await PaperBroker.open(path, settings, create=create, given=given)
