"""The values the copy logic works on: the provider's state, the follower's view of its
account, targets, links and plans (pure data), and how a follower's positions map to keys.

Keys identify target positions: on a netting follower the follower symbol; on a hedging
follower ``p<id>`` (one per provider position, hedging provider) or ``s<symbol>`` (one per
symbol, netting provider). Hedging follower positions carry the link in their comment as
``tw:<key>:<provider volume at open>:<follower volume at open>``, so the link survives restarts
(the broker stores it) and a linked position is sized once, when it opens, then follows the
provider's partial closes in proportion, without drifting with the accounts' balances.
"""

from __future__ import annotations

import functools

import msgspec

from tradewire.copy.holdings import Holding, own_by_symbol
from tradewire.copy.rules import CopyRules
from tradewire.copy.stops import Stops
from tradewire.model import Account, PendingOrder, Position, Quote, Side, SymbolSpec

TAG = "tw:"
MAX_COMMENT = 31  # MT5's limit on an order comment
# A MetaTrader 5 bridge appends "~" and a 6-character request id to the comment of every order
# (protocol/bridge.py), so links keep within what is left.
MAX_LINK = MAX_COMMENT - 7


class ProviderState(msgspec.Struct, frozen=True):
    account: Account
    positions: list[Position]
    ts: int
    seq: int = 0
    orders: list[PendingOrder] | None = None  # None: a 1.1 provider, saying nothing of them


class FollowerView(msgspec.Struct, frozen=True):
    """The follower account as read from its broker just now."""

    account: Account
    positions: list[Position]
    specs: dict[str, SymbolSpec | None]  # follower symbol -> spec (None: not offered)
    quotes: dict[str, Quote]
    # Netting: the follower's own volume in each symbol's position, from its deals
    # (copy/holdings.py). None: judged by the positions' magic alone.
    holdings: dict[str, Holding] | None = None
    # Provider pending orders whose follower copy has triggered into a position (copy/pending.py)
    triggered: frozenset[str] = frozenset()
    orders: list[PendingOrder] = []  # the follower's pending orders
    # one unit of each currency in the account's currency (copy/money.py), when the rules need it
    rates: dict[str, float] = {}
    # netting, sizing by risk: per key, the provider's and the follower's lots when the follower
    # last held its target; the copy then follows the provider's volume in proportion, so a
    # stop the provider trails toward its entry never makes the follower buy more
    sized: dict[str, tuple[float, float]] = {}


class TargetPosition(msgspec.Struct, frozen=True):
    key: str
    symbol: str
    side: Side
    volume: float
    ref_price: float  # the provider's entry price (deviation guard, slippage)
    comment: str = ""  # the link written on positions opened for this target
    stops: Stops = Stops()  # its stop-loss and take-profit (copy/stops.py)
    ref_volume: float = 0.0  # the provider's volume that ref_price averages (copy/quality.py)


class Link(msgspec.Struct, frozen=True):
    """What a hedging follower's position comment says about its link."""

    key: str
    provider_volume: float | None = None  # the provider's volume when the link opened
    follower_volume: float | None = None  # the follower's volume when it opened


@functools.lru_cache(maxsize=65_536)  # every round reads every comment: parse each once
def parse_link(comment: str) -> Link | None:
    """``tw:p9:1.5:0.75`` -> Link("p9", 1.5, 0.75); ``tw:p9`` -> Link("p9")."""
    if not comment.startswith(TAG):
        return None
    key, *volumes = comment[len(TAG) :].split(":")
    if len(volumes) == 2:
        try:
            pv, fv = float(volumes[0]), float(volumes[1])
        except ValueError:
            return Link(key)
        if pv > 0 and fv > 0:
            return Link(key, pv, fv)
    return Link(key)


def link_comment(key: str, provider_volume: float, follower_volume: float) -> str:
    full = f"{TAG}{key}:{provider_volume:g}:{follower_volume:g}"
    return full if len(full) <= MAX_LINK else f"{TAG}{key}"


class Skip(msgspec.Struct, frozen=True):
    symbol: str
    reason: str
    # What makes it the same skip from round to round, when the reason carries a figure that
    # moves (a signal's age, a price): journaled once, until the kind changes. "": the reason.
    kind: str = ""


class Plan(msgspec.Struct, frozen=True):
    target: dict[str, TargetPosition]
    skips: list[Skip]
    stopped: bool = False  # equity below stop_equity: everything copied is closed
    reduce_only: bool = False  # close_only or a stale signal
    # The follower's pending orders by the provider order each copies (None: leave them alone)
    orders: dict[str, PendingOrder] | None = None


def managed(positions: list[Position], rules: CopyRules) -> list[Position]:
    """The follower positions tradewire manages (its magic number)."""
    return [p for p in positions if p.magic == rules.magic]


def key_of(position: Position, mode: str) -> str:
    if mode == "netting":
        return position.symbol
    link = parse_link(position.comment)
    # Ours by magic but unlinked: the key matches no target, so it will be closed.
    return link.key if link is not None else f"orphan{position.id}"


def groups(positions: list[Position], mode: str) -> dict[str, tuple[str, float]]:
    """Signed net volume per key of managed positions: key -> (symbol, net)."""
    out: dict[str, tuple[str, float]] = {}
    for p in positions:
        key = key_of(p, mode)
        signed = p.volume if p.side == "buy" else -p.volume
        out[key] = (p.symbol, round(out.get(key, (p.symbol, 0.0))[1] + signed, 8))
    return out


def held(follower: FollowerView, rules: CopyRules) -> dict[str, tuple[str, float]]:
    """What the follower holds per target key: key -> (symbol, signed volume)."""
    if follower.account.mode == "netting" and follower.holdings is not None:
        return {s: (s, v) for s, v in own_by_symbol(follower.holdings).items()}
    return groups(managed(follower.positions, rules), follower.account.mode)
