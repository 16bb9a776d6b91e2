"""The copy engine's accounts file: every mistake one line naming file, account and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradewire.clients.accounts import load_accounts
from tradewire.exceptions import ConfigError

GOOD = """
[rules]
multiplier = 2.0
max_volume = 5.0

[[account]]
name = "alice"
channel = "alpha"
broker = "paper:alice.db?mode=hedging"

[[account]]
name = "bob.2"
channel = "beta"
broker = "paper:bob.db"
rules = { multiplier = 0.5 }
journal = "j/bob.jsonl"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    return path


def test_accounts_with_shared_rules_overridden_per_account(tmp_path: Path) -> None:
    alice, bob = load_accounts(write(tmp_path, GOOD))
    assert (alice.name, alice.channel, alice.broker) == (
        "alice",
        "alpha",
        "paper:alice.db?mode=hedging",
    )
    assert alice.rules.multiplier == 2.0 and alice.rules.max_volume == 5.0
    assert bob.rules.multiplier == 0.5 and bob.rules.max_volume == 5.0  # the rest shared
    assert alice.journal == Path("journals/alice.jsonl") and bob.journal == Path("j/bob.jsonl")


ACCOUNT = '[[account]]\nname = "a"\nchannel = "alpha"\nbroker = "paper:a.db"\n'
PORTFOLIO = (
    '[[account]]\nname = "p"\nbroker = "paper:p.db"\nmagic = 7400030\n'
    '[[account.subscription]]\nchannel = "alpha"\nrules = { magic = 7400031 }\n'
    '[[account.subscription]]\nchannel = "beta"\nrules = { magic = 7400032 }\n'
)


def test_a_portfolio_is_a_follower_per_channel_sharing_the_account(tmp_path: Path) -> None:
    alpha, beta = load_accounts(write(tmp_path, PORTFOLIO + ACCOUNT))[:2]
    assert (alpha.name, alpha.account_name, alpha.channel) == ("p/alpha", "p", "alpha")
    assert (beta.rules.magic, beta.portfolio_magic) == (7400032, 7400030)
    assert beta.journal == Path("journals/p.beta.jsonl") and alpha.broker == beta.broker


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no [[account]]"),
        ("[[account]\n", "not TOML"),
        ("accounts = 1\n" + ACCOUNT, "unknown key 'accounts'"),
        ("[rules]\nmultiplier = -1\n" + ACCOUNT, "[rules]"),
        (ACCOUNT.replace('name = "a"', 'name = "a b"'), "account 1: name"),
        (ACCOUNT.replace('channel = "alpha"\n', ""), "account 'a': channel"),
        (ACCOUNT.replace("paper:a.db", "gold:a"), "account 'a': --broker 'gold:a'"),
        (ACCOUNT + "colour = 1\n", "account 'a': unknown key 'colour'"),
        (ACCOUNT + "rules = { sizing = 'lots' }\n", "account 'a': rules"),
        (ACCOUNT + ACCOUNT, "name 'a' is used twice"),
        (ACCOUNT + "magic = 5\n", "account 'a': magic: only for [[account.subscription]]"),
        (PORTFOLIO.replace("7400030", "'x'"), "account 'p': magic: expected a whole number"),
        (PORTFOLIO.replace("7400032", "7400031"), "both use magic 7400031"),
        (PORTFOLIO.replace('"beta"', '"alpha"'), "channel 'alpha' is subscribed twice"),
        (
            PORTFOLIO.replace("magic = 7400030\n", 'magic = 7400030\nchannel = "x"\n'),
            "account 'p': channel: goes in each [[account.subscription]]",
        ),
        (
            PORTFOLIO.replace('channel = "beta"', 'channel = "beta"\ncolour = 1'),
            "account 'p': subscription 2: unknown key 'colour'",
        ),
        (
            PORTFOLIO + ACCOUNT.replace("paper:a.db", "paper:p.db"),
            "broker 'paper:p.db' is used twice",
        ),
        (
            ACCOUNT
            + ACCOUNT.replace('"a"', '"b"')
            .replace("?", "")
            .replace("paper:a.db", "paper:a.db?mode=netting"),
            "broker 'paper:a.db' is used twice",
        ),
    ],
)
def test_a_bad_accounts_file_is_one_line_naming_what(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_accounts(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_accounts(tmp_path / "nope.toml")
