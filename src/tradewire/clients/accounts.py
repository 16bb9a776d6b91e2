"""The accounts file of the copy engine (``tradewire follow --accounts FILE``, docs/engine.md).

    [rules]                      # optional: every account's rules start from these
    multiplier = 1.0

    [[account]]
    name = "alice"               # letters, digits, . _ - ; names its journal
    channel = "alpha"
    broker = "paper:accounts/alice.db?mode=hedging"
    rules = { multiplier = 2.0 } # optional: over the shared [rules]
    journal = "j/alice.jsonl"    # optional: default journals/NAME.jsonl

    [[account]]                  # a portfolio: one account, several channels
    name = "carol"
    broker = "paper:accounts/carol.db?mode=hedging"
    magic = 7400010              # optional: a netting account's one magic for them all
    [[account.subscription]]
    channel = "alpha"
    rules = { multiplier = 2.0, magic = 7400011 }   # each its own magic: it owns its positions
    [[account.subscription]]     # journal: default journals/carol.beta.jsonl
    channel = "beta"
    rules = { magic = 7400012 }

Every mistake is one ConfigError naming the file, the account and the key; nothing is opened
before the whole file is valid.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradewire.broker_schemes import check_broker
from tradewire.copy.rules import DEFAULT_MAGIC, CopyRules, parse_rules
from tradewire.exceptions import ConfigError

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ACCOUNT_KEYS = {"name", "channel", "broker", "rules", "journal", "subscription", "magic"}
SUBSCRIPTION_KEYS = {"channel", "rules", "journal"}
MAX_SUBSCRIPTIONS = 32
MAX_ACCOUNTS = 10_000


@dataclass(frozen=True)
class AccountSpec:
    """One follower of the engine: an account, or one channel of a portfolio account."""

    name: str  # "alice"; "carol/alpha" for a portfolio's subscription
    channel: str
    broker: str
    rules: CopyRules
    journal: Path
    account: str = ""  # the account's own name ("carol"); "" means ``name``
    # the magic of a portfolio on a netting account, whose channels share one position per
    # symbol (the account's ``magic``: a fixed number, whatever order the channels are in)
    portfolio_magic: int = DEFAULT_MAGIC

    @property
    def account_name(self) -> str:
        return self.account or self.name


def load_accounts(path: Path, journal_dir: Path = Path("journals")) -> list[AccountSpec]:
    """The accounts of ``path``, checked whole (see the module's docstring)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not TOML: {exc}") from None
    unknown = set(data) - {"rules", "account"}
    if unknown:
        raise ConfigError(f"{path}: unknown key {sorted(unknown)[0]!r} (expected rules, account)")
    shared = _table(data.get("rules", {}), f"{path}: [rules]")
    parse_rules(dict(shared), f"{path}: [rules]")
    entries = data.get("account", [])
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[account]] (add one per account to copy onto)")
    if len(entries) > MAX_ACCOUNTS:
        raise ConfigError(f"{path}: {len(entries)} accounts; at most {MAX_ACCOUNTS} per engine")
    per_entry = [_account(path, n, entry, shared, journal_dir) for n, entry in enumerate(entries)]
    accounts = [spec for specs in per_entry for spec in specs]
    names = [specs[0].account_name for specs in per_entry]
    for number, name in enumerate(names):
        if name in names[:number]:
            raise ConfigError(f"{path}: account {name!r}: name {name!r} is used twice")
    _unique(path, accounts, ("broker", "journal"))
    return accounts


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table")
    return value


def _account(
    path: Path, number: int, entry: object, shared: dict[str, Any], journal_dir: Path
) -> list[AccountSpec]:
    where = f"{path}: account {number + 1}"
    entry = _table(entry, where)
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"{where}: name: expected 1-64 letters, digits, '.', '_' or '-'")
    where = f"{path}: account {name!r}"
    unknown = set(entry) - ACCOUNT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    if not isinstance(entry.get("broker"), str) or not entry["broker"]:
        raise ConfigError(f"{where}: broker: expected a non-empty string")
    try:
        check_broker(entry["broker"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    if "subscription" not in entry:
        if "magic" in entry:
            raise ConfigError(
                f"{where}: magic: only for [[account.subscription]] portfolios "
                "(an account's own magic goes in its rules)"
            )
        default = journal_dir / f"{name}.jsonl"
        return [_follower(where, name, "", entry, entry["broker"], shared, default)]
    for key in ("channel", "rules", "journal"):
        if key in entry:
            raise ConfigError(
                f"{where}: {key}: goes in each [[account.subscription]] of a portfolio"
            )
    subscriptions = entry["subscription"]
    if not isinstance(subscriptions, list) or not subscriptions:
        raise ConfigError(f"{where}: subscription: expected [[account.subscription]] tables")
    if len(subscriptions) > MAX_SUBSCRIPTIONS:
        raise ConfigError(f"{where}: at most {MAX_SUBSCRIPTIONS} subscriptions per account")
    magic = entry.get("magic", DEFAULT_MAGIC)
    if not isinstance(magic, int) or isinstance(magic, bool) or not 0 <= magic < 2**63:
        raise ConfigError(f"{where}: magic: expected a whole number from 0 to 2**63 - 1")
    specs = []
    for index, sub in enumerate(subscriptions):
        sub_where = f"{where}: subscription {index + 1}"
        sub = _table(sub, sub_where)
        unknown = set(sub) - SUBSCRIPTION_KEYS
        if unknown:
            raise ConfigError(f"{sub_where}: unknown key {sorted(unknown)[0]!r}")
        channel = sub.get("channel")
        default = journal_dir / f"{name}.{channel}.jsonl"
        spec = _follower(sub_where, name, name, sub, entry["broker"], shared, default)
        specs.append(dataclasses.replace(spec, portfolio_magic=magic))
    check_portfolio(where, specs)
    return specs


def _follower(
    where: str,
    name: str,
    account: str,
    entry: dict[str, Any],
    broker: str,
    shared: dict[str, Any],
    default_journal: Path,
) -> AccountSpec:
    """One follower: an account's ``channel``, ``rules`` and ``journal``, or a subscription's."""
    channel = entry.get("channel")
    if not isinstance(channel, str) or not channel:
        raise ConfigError(f"{where}: channel: expected a non-empty string")
    own = _table(entry.get("rules", {}), f"{where}: rules")
    rules = parse_rules({**shared, **own}, f"{where}: rules")
    journal = entry.get("journal", str(default_journal))
    if not isinstance(journal, str) or not journal:
        raise ConfigError(f"{where}: journal: expected a file name")
    if account:
        return AccountSpec(f"{account}/{channel}", channel, broker, rules, Path(journal), account)
    return AccountSpec(name, channel, broker, rules, Path(journal))


def check_portfolio(where: str, specs: list[AccountSpec]) -> None:
    """A portfolio's subscriptions tell their positions apart by magic: one channel twice, or
    two channels on one magic, would copy twice or fight over the same positions."""
    channels: dict[str, int] = {}
    magics: dict[int, str] = {}
    for spec in specs:
        if spec.channel in channels:
            raise ConfigError(f"{where}: channel {spec.channel!r} is subscribed twice")
        channels[spec.channel] = 1
        other = magics.get(spec.rules.magic)
        if other is not None:
            raise ConfigError(
                f"{where}: subscriptions {other!r} and {spec.channel!r} both use magic "
                f"{spec.rules.magic}: give each its own rules.magic (its positions are told "
                "apart by it)"
            )
        magics[spec.rules.magic] = spec.channel


def _unique(path: Path, accounts: list[AccountSpec], keys: tuple[str, ...]) -> None:
    """Two followers on one broker account or journal would copy or write twice (a
    portfolio's subscriptions share their account's broker, and only they do)."""
    for key in keys:
        owners: dict[str, str] = {}
        for account in accounts:
            value: str = str(getattr(account, key))
            if key == "broker":  # the account itself, whatever its options
                value = value.partition("?")[0]
            owner = account.account_name if key == "broker" else account.name
            if owners.setdefault(value, owner) != owner:
                raise ConfigError(
                    f"{path}: account {account.name!r}: {key} {value!r} is used twice "
                    "(each account once: two followers on one account would copy twice)"
                )
