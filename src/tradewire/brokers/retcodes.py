"""MetaTrader 5 trade server return codes (MqlTradeResult.retcode) and what they mean to the
copier: a stable ``OrderRejected`` reason, and whether the same order may succeed later.
The bridge EA (mql5/Experts/Tradewire/TradewireBridge.mq5) maps codes the same way."""

from __future__ import annotations

DONE = 10009
DONE_PARTIAL = 10010
FILLED = frozenset({DONE, DONE_PARTIAL})

# retcode -> (reason, retryable)
RETCODES: dict[int, tuple[str, bool]] = {
    10004: ("requote", True),
    10006: ("rejected", False),
    10013: ("invalid_request", False),
    10014: ("volume_range", False),
    10015: ("invalid_price", True),
    10016: ("invalid_stops", False),
    10018: ("market_closed", True),
    10019: ("no_money", False),
    10022: ("invalid_expiration", False),
    10027: ("algo_trading_disabled", False),
    10030: ("filling_mode", False),
    10031: ("no_connection", True),
    10036: ("position_not_found", False),
}

# The reasons tradewire's own checks give, as the retcode MT5 would answer them with.
_REASON_CODES = {reason: code for code, (reason, _) in RETCODES.items()} | {
    "unknown_symbol": 10013,
    "volume_step": 10014,
}


def reason_of(retcode: int) -> tuple[str, bool]:
    """``(reason, retryable)`` for a retcode; an unlisted one is a plain ``rejected``."""
    return RETCODES.get(retcode, ("rejected", False))


def retcode_of(reason: str) -> int:
    """The retcode MT5 gives for a rejection ``reason`` (10006, rejected, if none fits)."""
    return _REASON_CODES.get(reason, 10006)
