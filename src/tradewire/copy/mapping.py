"""Provider symbol -> follower symbol: filters, explicit pairs, then prefix/suffix rules."""

from __future__ import annotations

from fnmatch import fnmatchcase

from tradewire.copy.rules import CopyRules


def map_symbol(symbol: str, rules: CopyRules) -> tuple[str | None, str]:
    """``(follower_symbol, "")``, or ``(None, reason)`` when the symbol is not copied."""
    if rules.include and not any(fnmatchcase(symbol, p) for p in rules.include):
        return None, f"{symbol} is not in the include list"
    if any(fnmatchcase(symbol, p) for p in rules.exclude):
        return None, f"{symbol} is in the exclude list"
    if symbol in rules.symbol_map:
        return rules.symbol_map[symbol], ""
    name = symbol
    if rules.strip_prefix and name.startswith(rules.strip_prefix):
        name = name[len(rules.strip_prefix) :]
    if rules.strip_suffix and name.endswith(rules.strip_suffix):
        name = name[: -len(rules.strip_suffix)]
    return f"{rules.prefix}{name}{rules.suffix}", ""
