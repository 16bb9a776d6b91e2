"""The accounts file of the copy engine (``tradewire follow --accounts FILE``, docs/engine.md).

    [rules]                      # optional: every account's rules start from these
    multiplier = 1.0

    [[account]]
    name = "alice"               # letters, digits, . _ - ; names its journal
    channel = "alpha"
    broker = "paper:accounts/alice.db?mode=hedging"
    rules = { multiplier = 2.0 } # optional: over the shared [rules]
    journal = "j/alice.jsonl"    # optional: default journals/NAME.jsonl

Every mistake is one ConfigError naming the file, the account and the key; nothing is opened
before the whole file is valid.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tradewire.broker_schemes import check_broker
from tradewire.copy.rules import CopyRules, parse_rules
from tradewire.exceptions import ConfigError

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ACCOUNT_KEYS = {"name", "channel", "broker", "rules", "journal"}
MAX_ACCOUNTS = 10_000


@dataclass(frozen=True)
class AccountSpec:
    name: str
    channel: str
    broker: str
    rules: CopyRules
    journal: Path


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
    accounts = [_account(path, n, entry, shared, journal_dir) for n, entry in enumerate(entries)]
    _unique(path, accounts)
    return accounts


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a table")
    return value


def _account(
    path: Path, number: int, entry: object, shared: dict[str, Any], journal_dir: Path
) -> AccountSpec:
    where = f"{path}: account {number + 1}"
    entry = _table(entry, where)
    name = entry.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise ConfigError(f"{where}: name: expected 1-64 letters, digits, '.', '_' or '-'")
    where = f"{path}: account {name!r}"
    unknown = set(entry) - ACCOUNT_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("channel", "broker"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise ConfigError(f"{where}: {key}: expected a non-empty string")
    try:
        check_broker(entry["broker"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    own = _table(entry.get("rules", {}), f"{where}: rules")
    rules = parse_rules({**shared, **own}, f"{where}: rules")
    journal = entry.get("journal", str(journal_dir / f"{name}.jsonl"))
    if not isinstance(journal, str) or not journal:
        raise ConfigError(f"{where}: journal: expected a file name")
    return AccountSpec(name, entry["channel"], entry["broker"], rules, Path(journal))


def _unique(path: Path, accounts: list[AccountSpec]) -> None:
    """Two entries for one name, broker account or journal would copy or write twice."""
    for key in ("name", "broker", "journal"):
        seen: set[object] = set()
        for account in accounts:
            value = getattr(account, key)
            if key == "broker":  # the account itself, whatever its options
                value = value.partition("?")[0]
            if value in seen:
                raise ConfigError(
                    f"{path}: account {account.name!r}: {key} {str(value)!r} is used twice "
                    "(each account once: two followers on one account would copy twice)"
                )
            seen.add(value)
