"""Name and value rules shared by every frame that carries them (PROTOCOL.md 1.1)."""

from __future__ import annotations

import math
import re

_CHANNEL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9_.#+-]{1,32}")
USER_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_RELAY_NAME_RE = re.compile(r"(?P<user>[A-Za-z0-9_.@-]{1,64})(/[A-Za-z0-9_.-]{1,32})?")
RELAY_GRANT = "relay:"
TOPIC_GRANT = "topic:"
_TOPIC_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_TOPIC_PATTERN_RE = re.compile(r"[A-Za-z0-9_.-]{0,128}\*?")


def is_channel(name: str) -> bool:
    """True when ``name`` is a valid channel name: ``[A-Za-z0-9_.-]{1,64}``."""
    return _CHANNEL_RE.fullmatch(name) is not None


def is_symbol(name: str) -> bool:
    """True when ``name`` is a valid symbol: ``[A-Za-z0-9_.#+-]{1,32}``."""
    return _SYMBOL_RE.fullmatch(name) is not None


def is_finite(value: float) -> bool:
    """True for a finite float (a JSON number such as 1e999 decodes to infinity)."""
    return math.isfinite(value)


def relay_owner(name: str) -> str | None:
    """The user a relay address belongs to (``term1`` and ``term1/eurusd`` are term1's), or
    ``None`` when ``name`` is not a valid address."""
    match = _RELAY_NAME_RE.fullmatch(name)
    return match.group("user") if match else None


def is_topic(name: str) -> bool:
    """A topic name: ``[A-Za-z0-9_.-]{1,128}``, dots for hierarchy (``ind.EURUSD.M1.rsi14``)."""
    return _TOPIC_RE.fullmatch(name) is not None


def is_topic_pattern(pattern: str) -> bool:
    """A topic name, or a prefix ending in ``*`` (``ind.*``; ``*`` alone is every topic)."""
    return bool(pattern) and _TOPIC_PATTERN_RE.fullmatch(pattern) is not None


def pattern_covers(grant: str, pattern: str) -> bool:
    """Whether everything ``pattern`` (a name or a prefix*) names is within ``grant``."""
    if grant.endswith("*"):
        return pattern.startswith(grant[:-1])
    return pattern == grant


def is_grant(grant: str) -> bool:
    """A channel name, ``relay:<user>`` (may send relay messages to that user's names), or
    ``topic:<name or prefix*>`` (may use those topics)."""
    if grant.startswith(RELAY_GRANT):
        return USER_RE.fullmatch(grant[len(RELAY_GRANT) :]) is not None
    if grant.startswith(TOPIC_GRANT):
        return is_topic_pattern(grant[len(TOPIC_GRANT) :])
    return is_channel(grant)
