"""Brokers by scheme: every command opens ``--broker`` through one registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewire.broker_schemes import OpenBroker, check_broker, open_broker
from tradewire.brokers.paper.broker import PaperBroker
from tradewire.brokers.registry import register, unregister
from tradewire.exceptions import ConfigError


def test_unknown_schemes_name_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"expected one of mt5:.*, paper:FILE.*, terminal:NAME"):
        check_broker("mt9:account")
    with pytest.raises(ConfigError, match="needs a file"):
        check_broker("paper:")


async def test_a_registered_scheme_is_opened_by_every_command(tmp_path: Path) -> None:
    opened: list[tuple[str, bool]] = []

    class Alias:  # a toy adapter: "demo:NAME" is a paper account in tmp_path
        usage = "demo:NAME"

        def check(self, rest: str, spec: str) -> None:
            if not rest.isalnum():
                raise ConfigError(f"--broker {spec!r}: NAME must be letters and digits")

        async def open(self, rest: str, spec: str, create: bool) -> OpenBroker:
            opened.append((rest, create))
            return await PaperBroker.open(tmp_path / f"{rest}.db", create=create)

    register("demo", Alias())
    try:
        await _use_demo_scheme()
    finally:
        unregister("demo")
    assert opened == [("acct1", True)]


async def _use_demo_scheme() -> None:
    check_broker("demo:acct1")
    with pytest.raises(ConfigError, match="letters and digits"):
        check_broker("demo:../x")
    broker = await open_broker("demo:acct1")
    try:
        assert (await broker.account()).mode == "hedging"
    finally:
        await broker.close()
