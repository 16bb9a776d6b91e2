"""Name and value rules shared by every frame that carries them (PROTOCOL.md 1.1)."""

from __future__ import annotations

import math
import re

_CHANNEL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9_.#+-]{1,32}")


def is_channel(name: str) -> bool:
    """True when ``name`` is a valid channel name: ``[A-Za-z0-9_.-]{1,64}``."""
    return _CHANNEL_RE.fullmatch(name) is not None


def is_symbol(name: str) -> bool:
    """True when ``name`` is a valid symbol: ``[A-Za-z0-9_.#+-]{1,32}``."""
    return _SYMBOL_RE.fullmatch(name) is not None


def is_finite(value: float) -> bool:
    """True for a finite float (a JSON number such as 1e999 decodes to infinity)."""
    return math.isfinite(value)
